"""The interpreters of the side environments ``scripts/setup_env.sh`` builds beside ``.venv`` in the checkout."""
import os

__all__ = ["CHECKOUT", "side_python"]

#: The checkout this package runs from.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def side_python(env_var, venv):
    """``$env_var`` when it names an executable, else ``<checkout>/<venv>/bin/python`` when that exists; None
    otherwise."""
    candidates = [os.environ.get(env_var), os.path.join(CHECKOUT, venv, "bin", "python")]
    return next((path for path in candidates if path and os.path.isfile(path) and os.access(path, os.X_OK)), None)
