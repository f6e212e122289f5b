"""The repository root, a runner for ``scripts/NAME.py`` in a subprocess with this interpreter, and the scripts'
modules loaded in-process."""
import importlib.util
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def script_path(name):
    return os.path.join(ROOT, "scripts", name)


def run_script(name, *args, timeout=900, env_update=None):
    """``subprocess.run`` of ``scripts/name`` with ``args``; output captured as text; ``env_update`` adds to (or
    overrides) this process's environment."""
    env = dict(os.environ, **env_update) if env_update else None
    return subprocess.run([sys.executable, script_path(name)] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def load_script(name):
    """``scripts/name`` imported as a module (its ``main`` and ``parse_args`` callable in-process)."""
    spec = importlib.util.spec_from_file_location(name.replace(".py", "_script"), script_path(name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
