"""The ResNeSt variant table: one row of architecture and published metadata per model.

Architecture columns feed :class:`gluon_resnest.resnest.ResNeSt`; the rest records how each published model is
evaluated and what it scores (sources: GluonCV model zoo for resnest14-269, the official ``ablation.md`` for the
fast variants, whose Gluon top-1 is listed; trainable parameter counts and multiply-accumulates were measured).
"""
from collections import namedtuple

__all__ = ["Variant", "VARIANTS", "variant", "ARCH_FIELDS", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ARCH_FIELDS = ("layers", "radix", "cardinality", "bottleneck_width", "stem_width", "avd_first", "dropblock_prob",
               "final_drop", "name_prefix")

Variant = namedtuple("Variant", ARCH_FIELDS + (
    "eval_size",       # evaluation resolution (square)
    "crop_pct",        # center-crop fraction of the resized image
    "interpolation",   # "bilinear" below 320 px, "bicubic" from 320 px
    "top1", "top5",    # published ImageNet-1k validation accuracy (%), top5 None where not published
    "params",          # trainable parameters (excluding BN running statistics)
    "gmacs_224",       # multiply-accumulates at 224x224, billions
    "gmacs_eval",      # multiply-accumulates at eval_size, billions
))

_S, _F = "resnest_", "resnetv1f_"
_R50 = (3, 4, 6, 3)
#             layers           R  K  bw  stem avd_f  dropblk fdrop prefix size  crop   interp      top1   top5   params       gmacs224 gmacs_eval
_ROWS = {
    "resnest14": ((1, 1, 1, 1), 2, 1, 64, 32, False, 0.0, 0.0, _S, 224, 0.875, "bilinear", 75.75, 92.70, 10611688, 2.749, 2.749),
    "resnest26": ((2, 2, 2, 2), 2, 1, 64, 32, False, 0.1, 0.0, _S, 224, 0.875, "bilinear", 78.68, 94.38, 17069448, 3.623, 3.623),
    "resnest50": (_R50, 2, 1, 64, 32, False, 0.1, 0.0, _S, 224, 0.875, "bilinear", 81.04, 95.42, 27483240, 5.371, 5.371),
    "resnest101": ((3, 4, 23, 3), 2, 1, 64, 64, False, 0.1, 0.0, _S, 256, 0.875, "bilinear", 82.83, 96.42, 48275016, 10.201, 13.321),
    "resnest200": ((3, 24, 36, 3), 2, 1, 64, 64, False, 0.1, 0.2, _S, 320, 320 / 352, "bicubic", 83.86, 96.86, 70201544, 17.408, 35.520),
    "resnest269": ((3, 30, 48, 8), 2, 1, 64, 64, False, 0.1, 0.2, _S, 416, 416 / 448, "bicubic", 84.53, 96.98, 110929480, 22.434, 77.349),
    "resnest50_fast_1s1x64d": (_R50, 1, 1, 64, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.35, None, 26217896, 4.329, 4.329),
    "resnest50_fast_2s1x64d": (_R50, 2, 1, 64, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.65, None, 27483240, 4.331, 4.331),
    "resnest50_fast_4s1x64d": (_R50, 4, 1, 64, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.90, None, 31912712, 4.335, 4.335),
    "resnest50_fast_1s2x40d": (_R50, 1, 2, 40, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.72, None, 25946680, 4.365, 4.365),
    "resnest50_fast_2s2x40d": (_R50, 2, 2, 40, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.84, None, 26943792, 4.366, 4.366),
    "resnest50_fast_4s2x40d": (_R50, 4, 2, 40, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 81.17, None, 30417592, 4.369, 4.369),
    "resnest50_fast_1s4x24d": (_R50, 1, 4, 24, 32, True, 0.1, 0.0, _F, 224, 0.875, "bilinear", 80.97, None, 25677000, 4.400, 4.400),
}

VARIANTS = {name: Variant(*row) for name, row in _ROWS.items()}


def variant(name):
    """The table row of ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return VARIANTS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError("unknown ResNeSt model %r; valid names: %s" % (name, ", ".join(VARIANTS))) from None
