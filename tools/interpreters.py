"""The interpreters of the side environments ``scripts/setup_env.sh`` builds beside ``.venv`` in the checkout."""
import importlib.util
import os
import sys

__all__ = ["CHECKOUT", "REFERENCE_PYTHON_ENV", "side_python", "reference_python", "tools_env"]

#: The checkout these tools run from.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: An interpreter with torch (and timm / the official resnest package) for the references.
REFERENCE_PYTHON_ENV = "GLUON_RESNEST_TORCH_PYTHON"


def side_python(env_var, venv):
    """``$env_var`` when it names an executable, else ``<checkout>/<venv>/bin/python`` when that exists; None
    otherwise."""
    candidates = [os.environ.get(env_var), os.path.join(CHECKOUT, venv, "bin", "python")]
    return next((path for path in candidates if path and os.path.isfile(path) and os.access(path, os.X_OK)), None)


def reference_python():
    """The interpreter that runs the PyTorch references: ``$GLUON_RESNEST_TORCH_PYTHON``, else the checkout's
    ``.venv-ref`` (``scripts/setup_env.sh --with-references``), else this one if it has torch; None otherwise."""
    found = side_python(REFERENCE_PYTHON_ENV, ".venv-ref")
    if found:
        return found
    return sys.executable if importlib.util.find_spec("torch") is not None else None


def tools_env(env=None):
    """A copy of ``env`` (default ``os.environ``) with the checkout first on ``PYTHONPATH``, so that a child
    interpreter imports :mod:`tools` (and this checkout's ``gluon_resnest``) from wherever it starts."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (CHECKOUT, env.get("PYTHONPATH")) if p)
    return env
