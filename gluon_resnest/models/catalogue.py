"""The model catalogue: one record per ResNeSt variant, and the only place a variant's facts are written.

Each :class:`ModelRecord` has three parts: the :class:`Architecture` (arguments of
:class:`~gluon_resnest.models.resnest.ResNeSt`), the :class:`Recipe` (the regularisation its published training
used) and the :class:`PretrainedRecord` (sha1 and publishing store of the weights, their evaluation
:class:`~gluon_resnest.data.config.DataConfig`, published accuracy); then the measured size and cost, and the names
of the same network in the PyTorch references (timm and the official ``resnest`` package). Sources: GluonCV's model
zoo for resnest14-269; the official ``ablation.md`` (Gluon column) and Gluon model store for the fast variants.
Parameter counts (trainable, BN running statistics excluded) and multiply-accumulates are checked against the
built networks by the tests.
"""
import dataclasses
from typing import Optional, Tuple

from ..data.config import DataConfig

__all__ = ["Architecture", "Recipe", "PretrainedRecord", "ModelRecord", "CATALOGUE"]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Arguments of :class:`~gluon_resnest.models.resnest.ResNeSt` that differ between variants."""
    layers: Tuple[int, int, int, int]
    radix: int
    cardinality: int
    bottleneck_width: int
    stem_width: int
    avd_first: bool
    name_prefix: str


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Regularisation of the variant's published training: the DropBlock rate its schedule ramps to (stages 3-4)
    and the dropout rate before the classifier."""
    dropblock_prob: float
    final_drop: float


@dataclasses.dataclass(frozen=True)
class PretrainedRecord:
    """The published ImageNet-1k weights of a variant and how they are evaluated."""
    sha1: str
    store: str                 # publisher's store, a key of gluon_resnest.models.store.STORES
    data_config: DataConfig    # evaluation size, crop, interpolation, normalization
    top1: float                # published validation top-1 (%)
    top5: Optional[float]      # published top-5 (%), None where not published
    classes: int = 1000


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    name: str
    arch: Architecture
    recipe: Recipe
    pretrained: PretrainedRecord
    params: int                # trainable parameters
    gmacs_224: float           # multiply-accumulates at 224x224, billions
    gmacs_eval: float          # multiply-accumulates at the evaluation size, billions
    timm: Optional[str] = None       # timm model name
    official: Optional[str] = None   # "module:function" in the official resnest package


_R50 = (3, 4, 6, 3)
_AT_224 = DataConfig(224, 0.875, "resize_crop", "bilinear")
_GLUONCV = dict(radix=2, cardinality=1, bottleneck_width=64, avd_first=False, name_prefix="resnest_")
_FAST = dict(layers=_R50, stem_width=32, avd_first=True, name_prefix="resnetv1f_")
#: The published recipe of every variant but resnest14 (no DropBlock) and resnest200/269 (final dropout 0.2).
_RECIPE = Recipe(dropblock_prob=0.1, final_drop=0.0)


def _gluoncv(name, layers, stem_width, sha1, top1, top5, params, gmacs_224, gmacs_eval=None,
             data_config=_AT_224, recipe=_RECIPE, **names):
    return ModelRecord(name, Architecture(layers=layers, stem_width=stem_width, **_GLUONCV), recipe,
                       PretrainedRecord(sha1, "gluoncv", data_config, top1, top5), params, gmacs_224,
                       gmacs_224 if gmacs_eval is None else gmacs_eval, **names)


def _fast(name, radix, cardinality, bottleneck_width, sha1, top1, params, gmacs_224, **names):
    arch = Architecture(radix=radix, cardinality=cardinality, bottleneck_width=bottleneck_width, **_FAST)
    return ModelRecord(name, arch, _RECIPE, PretrainedRecord(sha1, "resnest", _AT_224, top1, None), params, gmacs_224,
                       gmacs_224, **names)


_RECORDS = [
    _gluoncv("resnest14", (1, 1, 1, 1), 32, "7e0b0cae2fd7e9084d1e498b858af1429a6eb1cb", 75.75, 92.70,
             10611688, 2.749, recipe=Recipe(dropblock_prob=0.0, final_drop=0.0), timm="resnest14d"),
    _gluoncv("resnest26", (2, 2, 2, 2), 32, "364590740605b6a2b95f5bb77436d781a817436f", 78.68, 94.38,
             17069448, 3.623, timm="resnest26d"),
    _gluoncv("resnest50", _R50, 32, "bcfefe1dd1dd1ef5cfed5563123c1490ea37b42e", 81.04, 95.42,
             27483240, 5.371, timm="resnest50d", official="resnest.torch.resnest:resnest50"),
    _gluoncv("resnest101", (3, 4, 23, 3), 64, "5da943b3230f071525a98639945a6b3b3a45ac95", 82.83, 96.42,
             48275016, 10.201, 13.321, data_config=DataConfig(256, 0.875, "resize_crop", "bilinear"),
             timm="resnest101e", official="resnest.torch.resnest:resnest101"),
    _gluoncv("resnest200", (3, 24, 36, 3), 64, "0c5d117df664ace220aa6fc2922c094bb079d381", 83.86, 96.86,
             70201544, 17.408, 35.520, data_config=DataConfig(320, 320 / 352, "crop_resize", "bicubic"),
             recipe=Recipe(dropblock_prob=0.1, final_drop=0.2), timm="resnest200e",
             official="resnest.torch.resnest:resnest200"),
    _gluoncv("resnest269", (3, 30, 48, 8), 64, "11ae7f5da2bcdbad05ba7e84f9b74383e717f3e3", 84.53, 96.98,
             110929480, 22.434, 77.349, data_config=DataConfig(416, 416 / 448, "crop_resize", "bicubic"),
             recipe=Recipe(dropblock_prob=0.1, final_drop=0.2), timm="resnest269e",
             official="resnest.torch.resnest:resnest269"),
    _fast("resnest50_fast_1s1x64d", 1, 1, 64, "5e16dbe56f1fba8e1bc2faddd91f874bfbd74193", 80.35, 26217896, 4.329,
          official="resnest.torch.ablation:resnest50_fast_1s1x64d"),
    _fast("resnest50_fast_2s1x64d", 2, 1, 64, "85eb779a5e313d74b5e5390dae02aa8082a0f469", 80.65, 27483240, 4.331,
          official="resnest.torch.ablation:resnest50_fast_2s1x64d"),
    _fast("resnest50_fast_4s1x64d", 4, 1, 64, "3f215532c6d8e07a10df116309993d4479fc3e4b", 80.90, 31912712, 4.335,
          official="resnest.torch.ablation:resnest50_fast_4s1x64d"),
    _fast("resnest50_fast_1s2x40d", 1, 2, 40, "af3514c2ec757a3a9666a75b82f142ed47d55bee", 80.72, 25946680, 4.365,
          official="resnest.torch.ablation:resnest50_fast_1s2x40d"),
    _fast("resnest50_fast_2s2x40d", 2, 2, 40, "2db13245aa4967cf5e8617cb4911880dd41628a4", 80.84, 26943792, 4.366,
          official="resnest.torch.ablation:resnest50_fast_2s2x40d"),
    _fast("resnest50_fast_4s2x40d", 4, 2, 40, "b24d515797832e02da4da9c8a15effd5e44cfb56", 81.17, 30417592, 4.369,
          timm="resnest50d_4s2x40d", official="resnest.torch.ablation:resnest50_fast_4s2x40d"),
    _fast("resnest50_fast_1s4x24d", 1, 4, 24, "7318153ddb5e542a20cc6c58192f3c6209cff9ed", 80.97, 25677000, 4.400,
          timm="resnest50d_1s4x24d", official="resnest.torch.ablation:resnest50_fast_1s4x24d"),
]

#: name -> :class:`ModelRecord`, in the published order.
CATALOGUE = {r.name: r for r in _RECORDS}
