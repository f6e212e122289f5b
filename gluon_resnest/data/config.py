"""The evaluation data config of a model: everything its eval transform needs, in one record.

A :class:`DataConfig` travels with the weights (each catalogue variant's pretrained record holds one) and with an
export (``PREFIX-meta.json`` records it under ``data_config``). :func:`resolve_data_config` is the one place that
turns such a record, plus optional overrides, into a config; :meth:`DataConfig.eval_transform` is the one place an
:class:`~gluon_resnest.data.transforms.EvalTransform` is built. Training validation, ``verify.py``, INT8
calibration and agreement checks, ``predict.py``, :class:`~gluon_resnest.deploy.classifier.ExportedClassifier` and
the serving handler all go through here, so a change to a variant's record reaches every one of them.
"""
import dataclasses
import math
from typing import Tuple

from .constants import IMAGENET_MEAN, IMAGENET_STD
from .transforms import CROP_MODES, INTERPOLATION, EvalTransform

__all__ = ["DataConfig", "resolve_data_config"]


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """How images are prepared for a model in evaluation.

    ``input_size``: the square side fed to the network. ``crop_mode``: ``"resize_crop"`` resizes the short side to
    ``ceil(input_size / crop_pct)`` then center-crops ``input_size``; ``"crop_resize"`` center-crops ``crop_pct`` of
    the short side then resizes it to ``input_size``. ``interpolation``: a key of
    :data:`~gluon_resnest.data.transforms.INTERPOLATION`. ``mean``/``std``: per-channel RGB normalization of
    0..1 pixel values.
    """
    input_size: int
    crop_pct: float = 0.875
    crop_mode: str = "resize_crop"
    interpolation: str = "bilinear"
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD

    def __post_init__(self):
        problems = []
        if not isinstance(self.input_size, int) or isinstance(self.input_size, bool) or self.input_size < 1:
            problems.append("input_size must be a positive integer, got %r" % (self.input_size,))
        if not isinstance(self.crop_pct, (int, float)) or not 0 < self.crop_pct <= 1:
            problems.append("crop_pct must be in (0, 1], got %r" % (self.crop_pct,))
        if self.crop_mode not in CROP_MODES:
            problems.append("crop_mode must be one of %s, got %r" % (", ".join(CROP_MODES), self.crop_mode))
        if self.interpolation not in INTERPOLATION:
            problems.append("interpolation must be one of %s, got %r"
                            % (", ".join(INTERPOLATION), self.interpolation))
        for name in ("mean", "std"):
            value = getattr(self, name)
            if (not isinstance(value, (list, tuple)) or len(value) != 3
                    or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in value)):
                problems.append("%s must be three finite numbers, got %r" % (name, value))
        if not problems and min(self.std) <= 0:
            problems.append("std must be positive, got %r" % (self.std,))
        if problems:
            raise ValueError("invalid data config: " + "; ".join(problems))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "crop_pct", float(self.crop_pct))

    def eval_transform(self):
        """The :class:`~gluon_resnest.data.transforms.EvalTransform` of this config."""
        return EvalTransform(self.input_size, self.crop_pct, self.crop_mode, self.interpolation, self.mean, self.std)

    def as_dict(self):
        """JSON-ready ``{field: value}`` (lists for mean/std), as recorded in an export's meta."""
        out = dataclasses.asdict(self)
        out["mean"], out["std"] = list(self.mean), list(self.std)
        return out

    @classmethod
    def from_dict(cls, values):
        """The config recorded by :meth:`as_dict`; ``ValueError`` naming the missing, unknown or invalid fields."""
        if not isinstance(values, dict):
            raise ValueError("a data config must be a JSON object, got %r" % (values,))
        fields = {f.name for f in dataclasses.fields(cls)}
        missing, unknown = sorted(fields - set(values)), sorted(set(values) - fields)
        problems = ["%s %s" % (what, ", ".join(names)) for what, names in (("missing", missing), ("unknown", unknown))
                    if names]
        if problems:
            raise ValueError("invalid data config: %s" % "; ".join(problems))
        return cls(**values)


def resolve_data_config(source, **overrides):
    """The data config of ``source`` with ``overrides`` applied.

    ``source``: a :class:`DataConfig`, anything with a ``data_config`` attribute holding one (a catalogue
    :class:`~gluon_resnest.models.catalogue.PretrainedRecord`), or an export meta dict with a ``data_config`` entry
    (``ValueError`` when it has none). ``overrides`` are :class:`DataConfig` fields; a value of ``None`` (or 0 for
    ``input_size`` and ``crop_pct``) keeps the source's. Only the fields given change: a different ``input_size``
    keeps the record's crop, mode, interpolation and normalization.
    """
    if isinstance(source, DataConfig):
        config = source
    elif isinstance(source, dict):
        if "data_config" not in source:
            raise ValueError("the export metadata has no data_config (gluon_resnest writes one with every export); "
                             "export the model again")
        config = DataConfig.from_dict(source["data_config"])
    elif isinstance(getattr(source, "data_config", None), DataConfig):
        config = source.data_config
    else:
        raise TypeError("resolve_data_config takes a DataConfig, a pretrained record or an export meta dict, got %r"
                        % (source,))
    fields = {f.name for f in dataclasses.fields(DataConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError("unknown data config field(s) %s; fields: %s" % (", ".join(unknown), ", ".join(sorted(fields))))
    changes = {k: v for k, v in overrides.items() if v is not None and not (k in ("input_size", "crop_pct") and v == 0)}
    return dataclasses.replace(config, **changes) if changes else config
