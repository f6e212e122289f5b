"""Training configuration, grouped as network / data / optimization / run settings.

Flat option names (``--lr``, ``--rec-train``, ...) map one-to-one onto fields of exactly one group, so a config is
built from command-line arguments with :meth:`TrainConfig.from_flat`. :meth:`TrainConfig.resolved` fills in the
defaults that depend on other settings and returns a new config; the one given is never changed.
"""
import dataclasses
import math
import os

from ..models.factory import model_record
from ..utils.errors import OptionError

__all__ = ["NetSettings", "DataSettings", "OptimSettings", "RunSettings", "TrainConfig", "TOY_INPUT_SIZE"]

TOY_INPUT_SIZE = 64


@dataclasses.dataclass(frozen=True)
class NetSettings:
    """The network: variant, classifier width, regularisation that lives in the graph, parameter dtype."""
    model: str = "resnest50"
    classes: int = 0                  # 0: from the data (class folders, toy classes, or the largest .rec label + 1)
    pretrained: bool = False          # start from the published ImageNet weights (new classifier if classes differ)
    params: str = ""                  # start from this .params file (new classifier if classes differ)
    last_gamma: bool = False
    dropblock_prob: float = -1.0      # negative: the variant's recipe rate
    final_drop: float = -1.0          # negative: the variant's own
    dtype: str = "float32"


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Where the images come from and how they are augmented."""
    rec_train: str = ""
    rec_val: str = ""
    data_dir: str = ""                # DIR/train and DIR/val class folders
    toy: bool = False
    toy_dir: str = ""                 # empty: SAVE_DIR/toy_data
    input_size: int = 0               # 0: 224, or 64 for the toy set
    crop_pct: float = 0.875
    min_random_area: float = 0.08
    auto_augment: bool = False
    jitter: float = 0.4
    lighting: float = 0.1
    workers: int = 2                  # worker processes per training process (0: load in the training process)
    stop_on_bad_sample: bool = False  # an unreadable sample stops the run instead of being skipped


@dataclasses.dataclass(frozen=True)
class OptimSettings:
    """Batch, schedule, optimizer and loss targets; ``lr`` and ``batch_size`` are per worker."""
    batch_size: int = 128
    epochs: int = 90
    lr: float = 0.05
    warmup_lr: float = 0.0
    warmup_epochs: int = 0
    optimizer: str = "nag"
    momentum: float = 0.9
    wd: float = 1e-4
    no_wd: bool = False
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    mixup_off_epoch: int = 0
    freeze_epochs: int = 0            # train only the classifier for the first N epochs


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Outputs, checkpoints, logging, seeding and devices."""
    save_dir: str = "runs/train"
    eval_every: int = 1
    save_every: int = 1
    log_interval: int = 20
    seed: int = 0
    resume: bool = False
    allow_fresh_start: bool = False   # with resume: start from scratch (logged) when there is no checkpoint
    keep_checkpoints: int = 3         # newest checkpoints kept (best.params is kept apart)
    stop_after_epochs: int = 0
    gpu: bool = False
    export: bool = True


_GROUPS = (("net", NetSettings), ("data", DataSettings), ("optim", OptimSettings), ("run", RunSettings))
_GROUP_OF = {f.name: group for group, cls in _GROUPS for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """All training options, in four groups."""
    net: NetSettings = NetSettings()
    data: DataSettings = DataSettings()
    optim: OptimSettings = OptimSettings()
    run: RunSettings = RunSettings()

    @classmethod
    def from_flat(cls, **options):
        """Build from flat option names (``model=``, ``lr=``, ...); an unknown name is a ``TypeError``."""
        unknown = sorted(set(options) - set(_GROUP_OF))
        if unknown:
            raise TypeError("unknown training option(s) %s" % ", ".join(unknown))
        groups = {group: {} for group, _ in _GROUPS}
        for name, value in options.items():
            groups[_GROUP_OF[name]][name] = value
        return cls(**{group: settings(**groups[group]) for group, settings in _GROUPS})

    def flat(self):
        """``{option: value}`` over all groups."""
        out = {}
        for group, _ in _GROUPS:
            out.update(dataclasses.asdict(getattr(self, group)))
        return out

    def as_dict(self):
        """``{group: {option: value}}``, for checkpoints and logs."""
        return dataclasses.asdict(self)

    def replace(self, **options):
        """A copy with some flat options changed."""
        return TrainConfig.from_flat(**dict(self.flat(), **options))

    def resolved(self):
        """A copy with the dependent defaults filled in: the toy set's classes and size, the input size, the
        toy data folder, the variant's DropBlock rate. Validates the result (``ValueError`` naming the option)."""
        changes = {"input_size": self.data.input_size or (TOY_INPUT_SIZE if self.data.toy else 224)}
        if self.data.toy:
            from ..data.toy import CLASSES

            changes["classes"] = len(CLASSES)
            changes["toy_dir"] = self.data.toy_dir or os.path.join(self.run.save_dir, "toy_data")
        if self.net.dropblock_prob < 0:
            changes["dropblock_prob"] = model_record(self.net.model).arch.dropblock_prob
        cfg = self.replace(**changes)
        cfg.validate()
        return cfg

    def validate(self):
        """``OptionError`` naming the parameter for a non-finite number or an unusable input size, ``ValueError``
        for the other invalid combinations."""
        o = self.flat()
        for name, value in o.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise OptionError(name, "must be a finite number, got %r" % value)
        if o["input_size"] < 16:
            raise OptionError("input_size", "must be at least 16 pixels, got %d" % o["input_size"])
        if not 0 < o["crop_pct"] <= 1:
            raise OptionError("crop_pct", "must be in (0, 1], got %g" % o["crop_pct"])
        checks = [
            (o["epochs"] >= 1, "epochs must be >= 1"),
            (o["batch_size"] >= 1, "batch size must be >= 1"),
            (o["lr"] > 0, "learning rate must be positive"),
            (o["toy"] or bool(o["rec_train"]) or bool(o["data_dir"]),
             "give --rec-train (and --rec-val), --data-dir, or use --toy"),
            (not (o["data_dir"] and (o["rec_train"] or o["toy"])), "give only one of --data-dir, --rec-train, --toy"),
            (not (o["pretrained"] and o["params"]), "give --pretrained or --params, not both"),
            (o["classes"] >= 0, "classes must be >= 0 (0: from the data)"),
            (o["workers"] >= 0, "workers must be >= 0"),
            (o["freeze_epochs"] >= 0, "freeze-epochs must be >= 0"),
            (o["keep_checkpoints"] >= 1, "keep-checkpoints must be >= 1"),
            (0 <= o["label_smoothing"] < 1, "label smoothing must be in [0, 1)"),
            (o["mixup_alpha"] >= 0, "mixup alpha must be >= 0"),
            (o["dropblock_prob"] < 1, "dropblock prob must be below 1 (negative: the model's recipe rate)"),
            (o["dtype"] in ("float32", "float16"), "dtype must be float32 or float16"),
            (o["optimizer"] in ("nag", "sgd"), "optimizer must be nag or sgd"),
            (0 < o["min_random_area"] <= 1, "min random area must be in (0, 1]"),
            (o["stop_after_epochs"] >= 0, "stop-after-epochs must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
