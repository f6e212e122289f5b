"""The model catalogue: one record per ResNeSt variant, and the only place a variant's facts are written.

Each :class:`ModelRecord` holds the architecture (arguments of :class:`~gluon_resnest.models.resnest.ResNeSt`),
the pretrained record (sha1 and publishing store of the weights, evaluation size/crop/interpolation, mean/std,
published accuracy), the measured size and cost, and the names of the same network in the PyTorch references
(timm and the official ``resnest`` package). Sources: GluonCV's model zoo for resnest14-269; the official
``ablation.md`` (Gluon column) and Gluon model store for the fast variants. Parameter counts (trainable, BN
running statistics excluded) and multiply-accumulates are checked against the built networks by the tests.
"""
import dataclasses
from typing import Optional, Tuple

from ..data.constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["Architecture", "PretrainedRecord", "ModelRecord", "CATALOGUE", "ARCH_FIELDS", "record"]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Arguments of :class:`~gluon_resnest.models.resnest.ResNeSt` that differ between variants."""
    layers: Tuple[int, int, int, int]
    radix: int
    cardinality: int
    bottleneck_width: int
    stem_width: int
    avd_first: bool
    dropblock_prob: float
    final_drop: float
    name_prefix: str


@dataclasses.dataclass(frozen=True)
class PretrainedRecord:
    """The published ImageNet-1k weights of a variant and how they are evaluated."""
    sha1: str
    store: str                 # publisher's store, a key of gluon_resnest.models.store.STORES
    eval_size: int             # square evaluation resolution
    crop_pct: float            # center-crop fraction of the short side
    interpolation: str         # "bilinear" below 320 px, "bicubic" from 320 px
    top1: float                # published validation top-1 (%)
    top5: Optional[float]      # published top-5 (%), None where not published
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    classes: int = 1000


@dataclasses.dataclass(frozen=True)
class ModelRecord:
    name: str
    arch: Architecture
    pretrained: PretrainedRecord
    params: int                # trainable parameters
    gmacs_224: float           # multiply-accumulates at 224x224, billions
    gmacs_eval: float          # multiply-accumulates at the evaluation size, billions
    timm: Optional[str] = None       # timm model name
    official: Optional[str] = None   # "module:function" in the official resnest package


ARCH_FIELDS = tuple(f.name for f in dataclasses.fields(Architecture))
_PRETRAINED_FIELDS = {f.name for f in dataclasses.fields(PretrainedRecord)}


def record(name, params, gmacs_224, gmacs_eval=None, timm=None, official=None, **fields):
    """Build a :class:`ModelRecord` from keyword fields of :class:`Architecture` and :class:`PretrainedRecord`."""
    arch = Architecture(**{k: fields.pop(k) for k in ARCH_FIELDS})
    unknown = set(fields) - _PRETRAINED_FIELDS
    if unknown:
        raise TypeError("record %s: unknown fields %s" % (name, ", ".join(sorted(unknown))))
    return ModelRecord(name, arch, PretrainedRecord(**fields), params, gmacs_224,
                       gmacs_224 if gmacs_eval is None else gmacs_eval, timm, official)


_R50 = (3, 4, 6, 3)
_GLUONCV = dict(dropblock_prob=0.1, final_drop=0.0, radix=2, cardinality=1, bottleneck_width=64, avd_first=False,
                name_prefix="resnest_", store="gluoncv")
_FAST = dict(layers=_R50, stem_width=32, avd_first=True, dropblock_prob=0.1, final_drop=0.0,
             name_prefix="resnetv1f_", store="resnest", eval_size=224, crop_pct=0.875, interpolation="bilinear",
             top5=None)
_AT_224 = dict(eval_size=224, crop_pct=0.875, interpolation="bilinear")

_RECORDS = [
    record("resnest14", **dict(_GLUONCV, dropblock_prob=0.0), layers=(1, 1, 1, 1), stem_width=32, **_AT_224,
           sha1="7e0b0cae2fd7e9084d1e498b858af1429a6eb1cb", top1=75.75, top5=92.70,
           params=10611688, gmacs_224=2.749, timm="resnest14d"),
    record("resnest26", **_GLUONCV, layers=(2, 2, 2, 2), stem_width=32, **_AT_224,
           sha1="364590740605b6a2b95f5bb77436d781a817436f", top1=78.68, top5=94.38,
           params=17069448, gmacs_224=3.623, timm="resnest26d"),
    record("resnest50", **_GLUONCV, layers=_R50, stem_width=32, **_AT_224,
           sha1="bcfefe1dd1dd1ef5cfed5563123c1490ea37b42e", top1=81.04, top5=95.42,
           params=27483240, gmacs_224=5.371, timm="resnest50d", official="resnest.torch.resnest:resnest50"),
    record("resnest101", **_GLUONCV, layers=(3, 4, 23, 3), stem_width=64,
           eval_size=256, crop_pct=0.875, interpolation="bilinear",
           sha1="5da943b3230f071525a98639945a6b3b3a45ac95", top1=82.83, top5=96.42,
           params=48275016, gmacs_224=10.201, gmacs_eval=13.321, timm="resnest101e",
           official="resnest.torch.resnest:resnest101"),
    record("resnest200", **dict(_GLUONCV, final_drop=0.2), layers=(3, 24, 36, 3), stem_width=64,
           eval_size=320, crop_pct=320 / 352, interpolation="bicubic",
           sha1="0c5d117df664ace220aa6fc2922c094bb079d381", top1=83.86, top5=96.86,
           params=70201544, gmacs_224=17.408, gmacs_eval=35.520, timm="resnest200e",
           official="resnest.torch.resnest:resnest200"),
    record("resnest269", **dict(_GLUONCV, final_drop=0.2), layers=(3, 30, 48, 8), stem_width=64,
           eval_size=416, crop_pct=416 / 448, interpolation="bicubic",
           sha1="11ae7f5da2bcdbad05ba7e84f9b74383e717f3e3", top1=84.53, top5=96.98,
           params=110929480, gmacs_224=22.434, gmacs_eval=77.349, timm="resnest269e",
           official="resnest.torch.resnest:resnest269"),
    record("resnest50_fast_1s1x64d", **_FAST, radix=1, cardinality=1, bottleneck_width=64,
           sha1="5e16dbe56f1fba8e1bc2faddd91f874bfbd74193", top1=80.35, params=26217896, gmacs_224=4.329,
           official="resnest.torch.ablation:resnest50_fast_1s1x64d"),
    record("resnest50_fast_2s1x64d", **_FAST, radix=2, cardinality=1, bottleneck_width=64,
           sha1="85eb779a5e313d74b5e5390dae02aa8082a0f469", top1=80.65, params=27483240, gmacs_224=4.331,
           official="resnest.torch.ablation:resnest50_fast_2s1x64d"),
    record("resnest50_fast_4s1x64d", **_FAST, radix=4, cardinality=1, bottleneck_width=64,
           sha1="3f215532c6d8e07a10df116309993d4479fc3e4b", top1=80.90, params=31912712, gmacs_224=4.335,
           official="resnest.torch.ablation:resnest50_fast_4s1x64d"),
    record("resnest50_fast_1s2x40d", **_FAST, radix=1, cardinality=2, bottleneck_width=40,
           sha1="af3514c2ec757a3a9666a75b82f142ed47d55bee", top1=80.72, params=25946680, gmacs_224=4.365,
           official="resnest.torch.ablation:resnest50_fast_1s2x40d"),
    record("resnest50_fast_2s2x40d", **_FAST, radix=2, cardinality=2, bottleneck_width=40,
           sha1="2db13245aa4967cf5e8617cb4911880dd41628a4", top1=80.84, params=26943792, gmacs_224=4.366,
           official="resnest.torch.ablation:resnest50_fast_2s2x40d"),
    record("resnest50_fast_4s2x40d", **_FAST, radix=4, cardinality=2, bottleneck_width=40,
           sha1="b24d515797832e02da4da9c8a15effd5e44cfb56", top1=81.17, params=30417592, gmacs_224=4.369,
           timm="resnest50d_4s2x40d", official="resnest.torch.ablation:resnest50_fast_4s2x40d"),
    record("resnest50_fast_1s4x24d", **_FAST, radix=1, cardinality=4, bottleneck_width=24,
           sha1="7318153ddb5e542a20cc6c58192f3c6209cff9ed", top1=80.97, params=25677000, gmacs_224=4.400,
           timm="resnest50d_1s4x24d", official="resnest.torch.ablation:resnest50_fast_1s4x24d"),
]

#: name -> :class:`ModelRecord`, in the published order.
CATALOGUE = {r.name: r for r in _RECORDS}
