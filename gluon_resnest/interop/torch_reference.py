"""The PyTorch reference implementations of each variant (official ``resnest`` package, else timm), for parity.

The reference names of each variant are written in its catalogue record (``timm``, ``official``).

timm imports torchvision; PyPI's torchvision build may fail to load next to a CPU-only torch because its
``nms``/``qnms`` operator registrations need its compiled extension. :func:`import_timm` declares those two
operator schemas first when they are missing, which is all that timm's import needs.
"""
import importlib
import importlib.util
import sys

from ..models.factory import model_record
from ..utils.interpreters import side_python

__all__ = ["import_timm", "reference_model", "available_references", "reference_python", "REFERENCE_PYTHON_ENV"]

#: An interpreter with torch (and timm / the official resnest package) for the references.
REFERENCE_PYTHON_ENV = "GLUON_RESNEST_TORCH_PYTHON"

_TORCHVISION_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_fragment = None


def import_timm():
    """Import timm, working around a torchvision build whose C++ ops cannot load next to this torch."""
    global _fragment
    import torch

    try:
        return importlib.import_module("timm")
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
    if _fragment is None:
        _fragment = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _TORCHVISION_SCHEMAS:
            _fragment.define(schema)
    for mod in [m for m in list(importlib.sys.modules) if m == "torchvision" or m.startswith(("torchvision.", "timm"))]:
        del importlib.sys.modules[mod]
    return importlib.import_module("timm")


def reference_python():
    """The interpreter that runs the PyTorch references: ``$GLUON_RESNEST_TORCH_PYTHON``, else the checkout's
    ``.venv-ref`` (``scripts/setup_env.sh --with-references``), else this one if it has torch; None otherwise."""
    found = side_python(REFERENCE_PYTHON_ENV, ".venv-ref")
    if found:
        return found
    return sys.executable if importlib.util.find_spec("torch") is not None else None


def available_references(name):
    """Which references exist for ``name``: a subset of ``("official", "timm")``."""
    rec = model_record(name)
    return tuple(src for src, ref in (("official", rec.official), ("timm", rec.timm)) if ref)


def reference_model(name, source):
    """A randomly initialized PyTorch model of variant ``name`` from ``source`` ("official" or "timm"), eval mode."""
    rec = model_record(name)
    if source not in available_references(name):
        raise ValueError("no %r reference for %s; available: %s" % (source, name, available_references(name)))
    if source == "official":
        module, func = rec.official.split(":")
        model = getattr(importlib.import_module(module), func)(pretrained=False)
    else:
        model = import_timm().create_model(rec.timm, pretrained=False)
    return model.eval()
