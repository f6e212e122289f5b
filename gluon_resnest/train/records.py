"""The records a training run writes and reads back, one class each: an epoch's results (:class:`EpochRecord`:
the log line, ``metrics.jsonl``, the curve, the script's summary), a description of the training data
(:class:`DataFacts`: resume and rank checks), the checkpoint state (:class:`CheckpointState`: ``ckpt-N.json``) and
what a run returns (:class:`TrainingResult`).

Writers call ``as_dict()``, readers ``from_dict(mapping, source)``; ``from_dict`` checks the keys and types and
raises ``ValueError`` naming ``source`` (the file) and what is wrong. A checkpoint state carries a format
``version``: 1 is a state without the field (no manifest of its files), 2 adds the manifest
(:data:`CHECKPOINT_VERSION`); both load, any other version is refused.
"""
import dataclasses
from typing import Any, Mapping, Optional, Tuple

from ..utils.errors import OptionError

__all__ = ["EpochRecord", "DataFacts", "CheckpointState", "TrainingResult", "CHECKPOINT_VERSION",
           "READABLE_VERSIONS"]

#: The format version of the checkpoint states this package writes.
CHECKPOINT_VERSION = 2
#: The versions it reads: 1 (no ``version`` field, no ``files`` manifest) and 2.
READABLE_VERSIONS = (1, 2)


def _number(value, source, key, kind=float, optional=False):
    """``value`` as ``kind`` (``int`` or ``float``); ``ValueError`` naming ``source`` and ``key`` otherwise."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ValueError("%s: field %r must be %s, got %r" % (source, key, "an integer" if kind is int else "a number",
                                                              value))
    return kind(value)


def _keys(mapping, source, required, optional=()):
    """``ValueError`` naming ``source`` when ``mapping`` is not a dict holding ``required`` (and nothing beyond
    ``required`` and ``optional``)."""
    if not isinstance(mapping, dict):
        raise ValueError("%s: expected a JSON object, got %s" % (source, type(mapping).__name__))
    missing = [key for key in required if key not in mapping]
    unknown = sorted(set(mapping) - set(required) - set(optional))
    if missing or unknown:
        raise ValueError("%s: %s" % (source, "; ".join(
            ([] if not missing else ["no %s" % ", ".join(missing)]) +
            ([] if not unknown else ["unknown field(s) %s" % ", ".join(unknown)]))))


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One epoch's results, summed over ranks. ``epoch`` is 0-based; ``train_top1``, ``val_top1`` and
    ``val_top5`` are percentages; ``images`` counts the training images of the epoch, ``skipped`` (``val_skipped``)
    the unreadable training (validation) samples left out. The ``val_*`` fields are ``None`` in an epoch without
    validation."""
    epoch: int
    train_loss: float
    train_top1: float
    images: int
    lr: float
    seconds: float
    img_per_s: float
    skipped: int
    val_top1: Optional[float] = None
    val_top5: Optional[float] = None
    val_skipped: Optional[int] = None

    _INTS = ("epoch", "images", "skipped", "val_skipped")
    _OPTIONAL = ("val_top1", "val_top5", "val_skipped")

    @property
    def validated(self):
        return self.val_top1 is not None

    def as_dict(self):
        """The 11 fields as a JSON-ready dict (a line of ``metrics.jsonl``, an item of a checkpoint's history)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, mapping, source="epoch record"):
        names = [field.name for field in dataclasses.fields(cls)]
        _keys(mapping, source, names)
        return cls(**{name: _number(mapping[name], source, name, int if name in cls._INTS else float,
                                    optional=name in cls._OPTIONAL) for name in names})

    def summary(self):
        """The epoch's log line (without the time stamp)."""
        skipped = self.skipped + (self.val_skipped or 0)
        return "epoch %d: train loss %.4f top-1 %.2f%%%s, %.1f img/s%s" % (
            self.epoch + 1, self.train_loss, self.train_top1,
            ", val top-1 %.2f%% top-5 %.2f%%" % (self.val_top1, self.val_top5) if self.validated else "",
            self.img_per_s, ", %d unreadable samples skipped (train %d, val %d)"
            % (skipped, self.skipped, self.val_skipped or 0) if skipped else "")


@dataclasses.dataclass(frozen=True)
class DataFacts:
    """What a training run's data is, independent of where it lies: its image count, the steps per epoch of each
    rank, and a fingerprint of its content (:func:`~gluon_resnest.data.datasets.dataset_fingerprint`; ``None``
    where the dataset has none)."""
    train_images: int
    steps_per_epoch: int
    fingerprint: Optional[str] = None

    def as_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, mapping, source="data description"):
        _keys(mapping, source, ("train_images", "steps_per_epoch"), ("fingerprint",))
        fingerprint = mapping.get("fingerprint")
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise ValueError("%s: field 'fingerprint' must be a string, got %r" % (source, fingerprint))
        return cls(_number(mapping["train_images"], source, "train_images", int),
                   _number(mapping["steps_per_epoch"], source, "steps_per_epoch", int), fingerprint)

    def __str__(self):
        """``96 images (6 steps per epoch, fingerprint FINGERPRINT)``."""
        return "%d images (%d steps per epoch%s)" % (
            self.train_images, self.steps_per_epoch,
            ", fingerprint %s" % self.fingerprint if self.fingerprint else "")


@dataclasses.dataclass(frozen=True)
class CheckpointState:
    """The loop state of a checkpoint (``ckpt-N.json``): completed ``epoch`` (0-based), the epochs' records, the best
    validation top-1 so far (``None`` before any validation), the optimizer's update count, the configuration
    (``{group: {option: value}}``, :meth:`~gluon_resnest.train.config.TrainConfig.as_dict`), the number of
    Horovod workers, the class names (``None`` for RecordIO data), the training data's :class:`DataFacts`, the
    optimizer's state layout (:func:`~gluon_resnest.train.optimizer.optimizer_state`) and ``files``, the manifest
    ``{file name: sha1}`` of the checkpoint's ``.params`` and ``.states``.

    The loop fills everything but ``optimizer`` and ``files``, which
    :func:`~gluon_resnest.train.checkpoint.save_checkpoint` adds when it writes the arrays.
    """
    epoch: int
    history: Tuple[EpochRecord, ...]
    best_top1: Optional[float]
    num_update: Optional[int] = None
    config: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    world_size: Optional[int] = None
    class_names: Optional[Tuple[str, ...]] = None
    data: Optional[DataFacts] = None
    optimizer: Optional[Mapping[str, Any]] = None
    files: Mapping[str, str] = dataclasses.field(default_factory=dict)
    version: int = CHECKPOINT_VERSION

    def as_dict(self):
        """The JSON object of ``ckpt-N.json`` (format :data:`CHECKPOINT_VERSION`)."""
        return {"version": self.version, "epoch": self.epoch, "history": [r.as_dict() for r in self.history],
                "best_top1": self.best_top1, "num_update": self.num_update, "config": self.config,
                "world_size": self.world_size,
                "class_names": list(self.class_names) if self.class_names is not None else None,
                "data": self.data.as_dict() if self.data is not None else None, "optimizer": self.optimizer,
                "files": dict(self.files)}

    @classmethod
    def from_dict(cls, mapping, source="checkpoint state"):
        """The state a ``ckpt-N.json`` holds (version 1 or 2). ``OptionError`` on ``save_dir`` for a state that
        cannot be resumed at all (no optimizer description, another format version), ``ValueError`` naming
        ``source`` and the field for a damaged one."""
        if not isinstance(mapping, dict):
            raise OptionError("checkpoint state %s is damaged (not a JSON object); restore it or start a new "
                              "{save_dir}" % source)
        version = mapping.get("version", 1)
        if version not in READABLE_VERSIONS:
            raise OptionError("checkpoint state %s has format version %r; this gluon_resnest reads versions %s; "
                              "resume it with the gluon_resnest that wrote it or start a new {save_dir}"
                              % (source, version, ", ".join(map(str, READABLE_VERSIONS))))
        if "optimizer" not in mapping or "epoch" not in mapping:
            raise OptionError("checkpoint state %s lacks its epoch or optimizer description (its .states would "
                              "be a pickle, which is never loaded); start a new {save_dir}" % source)
        needed = ("history", "best_top1") + (("files",) if version >= 2 else ())
        missing = [key for key in needed if key not in mapping]
        if missing or not isinstance(mapping["history"], list) or not isinstance(mapping["epoch"], int):
            raise OptionError("checkpoint state %s is damaged (%s); restore it or start a new {save_dir}"
                              % (source, "no %s" % " or ".join(missing) if missing else "bad epoch or history"))
        files = mapping.get("files", {})
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            raise ValueError("%s: field 'files' must map file names to sha1s, got %r" % (source, files))
        best = _number(mapping["best_top1"], source, "best_top1", optional=True)
        data, names = mapping.get("data"), mapping.get("class_names")
        return cls(
            epoch=mapping["epoch"],
            history=tuple(EpochRecord.from_dict(r, "%s, history item %d" % (source, i))
                          for i, r in enumerate(mapping["history"])),
            best_top1=None if best is None or best < 0 else best,
            num_update=_number(mapping.get("num_update"), source, "num_update", int, optional=True),
            config=mapping.get("config") or {},
            world_size=_number(mapping.get("world_size"), source, "world_size", int, optional=True),
            class_names=tuple(names) if names is not None else None,
            data=DataFacts.from_dict(data, "%s, field 'data'" % source) if data else None,
            optimizer=mapping["optimizer"], files=files, version=version)

    @property
    def epochs_done(self):
        return self.epoch + 1


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What :func:`~gluon_resnest.train.loop.train` returns: every epoch's record (those before a resume
    included), the best validation top-1 (``None`` without validation) and the final export's files (``None``
    when the run did not export)."""
    history: Tuple[EpochRecord, ...]
    best_top1: Optional[float]
    export: Optional[Tuple[str, ...]] = None

    def summary(self):
        """The script's closing line: ``final: train loss 0.3363, val top-1 99.20% (best 99.20%)``."""
        last = self.history[-1]
        return "final: train loss %.4f, val top-1 %s%s" % (
            last.train_loss, "%.2f%%" % last.val_top1 if last.validated else "n/a",
            " (best %.2f%%)" % self.best_top1 if self.best_top1 is not None else "")
