"""Import GluonCV next to a modern PyTorch.

gluoncv 0.10.5 raises ``RuntimeError`` at import whenever ``import torch`` finds torch >= 2.0, even though its
MXNet half never uses torch. :func:`import_gluoncv` imports it with torch hidden for the duration of the import,
then restores torch (imported or not), so both frameworks can be used in one process.
"""
import importlib
import sys

__all__ = ["import_gluoncv"]

_ABSENT = object()


def import_gluoncv():
    """Import and return the ``gluoncv`` module, whatever torch version is installed."""
    if "gluoncv" in sys.modules:
        return sys.modules["gluoncv"]
    saved = sys.modules.get("torch", _ABSENT)
    sys.modules["torch"] = None
    try:
        return importlib.import_module("gluoncv")
    finally:
        if saved is _ABSENT:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved
