"""The PyTorch reference implementations of each variant (official ``resnest`` package, else timm), for parity.

timm imports torchvision; PyPI's torchvision build may fail to load next to a CPU-only torch because its
``nms``/``qnms`` operator registrations need its compiled extension. :func:`import_timm` declares those two
operator schemas first when they are missing, which is all that timm's import needs.
"""
import importlib

__all__ = ["OFFICIAL", "TIMM", "import_timm", "reference_model", "available_references"]

#: our name -> (module, function) in the official ``resnest`` package
OFFICIAL = {name: ("resnest.torch.resnest", name) for name in ("resnest50", "resnest101", "resnest200", "resnest269")}
OFFICIAL.update({"resnest50_fast_%s" % s: ("resnest.torch.ablation", "resnest50_fast_%s" % s)
                 for s in ("1s1x64d", "2s1x64d", "4s1x64d", "1s2x40d", "2s2x40d", "4s2x40d", "1s4x24d")})
#: our name -> timm model name
TIMM = {"resnest14": "resnest14d", "resnest26": "resnest26d", "resnest50": "resnest50d", "resnest101": "resnest101e",
        "resnest200": "resnest200e", "resnest269": "resnest269e", "resnest50_fast_4s2x40d": "resnest50d_4s2x40d",
        "resnest50_fast_1s4x24d": "resnest50d_1s4x24d"}

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


def available_references(name):
    """Which references exist for ``name``: a subset of ``("official", "timm")``."""
    return tuple(src for src, table in (("official", OFFICIAL), ("timm", TIMM)) if name in table)


def reference_model(name, source):
    """A randomly initialized PyTorch model of variant ``name`` from ``source`` ("official" or "timm"), eval mode."""
    if source == "official":
        module, func = OFFICIAL[name]
        model = getattr(importlib.import_module(module), func)(pretrained=False)
    elif source == "timm":
        model = import_timm().create_model(TIMM[name], pretrained=False)
    else:
        raise ValueError("source must be 'official' or 'timm', got %r" % (source,))
    return model.eval()
