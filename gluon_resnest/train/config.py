"""Training configuration, grouped as network / data / optimization / run settings.

Each field is a training option declared with :func:`~gluon_resnest.train.options.option` (default, help, aliases,
resume rule). Flat option names (``lr``, ``rec_train``, ...) map one-to-one onto fields of exactly one group, so a
config is built from command-line arguments with :meth:`TrainConfig.from_flat`. :meth:`TrainConfig.resolved` fills
in the defaults that depend on other settings and returns a new config; the one given is never changed.
"""
import dataclasses
import math
import os

from ..models.catalogue import CATALOGUE
from ..models.factory import model_record
from ..utils.errors import OptionError
from .options import FIXED, INVOCATION, option

__all__ = ["NetSettings", "DataSettings", "OptimSettings", "RunSettings", "TrainConfig", "GROUPS", "TOY_INPUT_SIZE"]

TOY_INPUT_SIZE = 64


_DATA_ORDER = "it fixes the data order and the steps per epoch"


@dataclasses.dataclass(frozen=True)
class NetSettings:
    """The network: variant, classifier width, regularisation that lives in the graph, parameter dtype."""
    model: str = option("resnest50", "ResNeSt variant", choices=CATALOGUE, resume=FIXED,
                        fixed_because="the checkpoint holds that network's weights")
    classes: int = option(0, "classifier width (0: from the data: class folders, toy classes, or the largest .rec "
                             "label + 1)", resume=FIXED, fixed_because="the checkpoint's classifier has that many "
                                                                       "outputs")
    pretrained: bool = option(False, "start from the published ImageNet weights (a new classifier when --classes "
                                     "differs from 1000)", aliases=("--use-pretrained",), resume=INVOCATION)
    params: str = option("", "start from this .params file (a new classifier when the classes differ)",
                         resume=INVOCATION)
    last_gamma: bool = option(False, "zero-init the last BN of each block")
    dropblock_prob: float = option(-1.0, "final DropBlock rate, linear ramp from 0 (negative: the variant's recipe "
                                         "rate; 0 disables)")
    final_drop: float = option(-1.0, "dropout before the classifier (negative: the variant's recipe rate)")
    dtype: str = option("float32", "parameter dtype; float16 needs --gpu", choices=("float32", "float16"),
                        resume=FIXED, fixed_because="the optimizer states are kept in that dtype")


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Where the images come from and how they are augmented."""
    rec_train: str = option("", "training RecordIO .rec (with .idx)", resume=INVOCATION)
    rec_val: str = option("", "validation RecordIO .rec (with .idx)", resume=INVOCATION)
    data_dir: str = option("", "folder with train/ and val/ class folders (one folder per class)", resume=INVOCATION)
    toy: bool = option(False, "use the embedded 10-class toy dataset (64x64)")
    toy_dir: str = option("", "where to write the toy RecordIO files (empty: SAVE_DIR/toy_data)", resume=INVOCATION)
    input_size: int = option(0, "training/validation resolution (0: 224, or 64 for the toy set)")
    crop_pct: float = option(0.0, "validation center-crop fraction (0: the variant's data config)")
    min_random_area: float = option(0.08, "random-resized-crop minimum area")
    auto_augment: bool = option(False, "AutoAugment ImageNet policy")
    jitter: float = option(0.4, "brightness/contrast/saturation jitter")
    lighting: float = option(0.1, "PCA lighting noise std")
    workers: int = option(2, "data-loading worker processes per training process (0: load in the training "
                             "process)", aliases=("-j", "--num-data-workers"), resume=INVOCATION)
    stop_on_bad_sample: bool = option(False, "stop at an unreadable record or image instead of skipping it with a "
                                             "warning", resume=INVOCATION)


@dataclasses.dataclass(frozen=True)
class OptimSettings:
    """Batch, schedule, optimizer and loss targets; ``lr`` and ``batch_size`` are per worker."""
    batch_size: int = option(128, "images per step, per worker", resume=FIXED, fixed_because=_DATA_ORDER)
    epochs: int = option(90, "epochs to train in all", aliases=("--num-epochs",))
    lr: float = option(0.05, "per-worker learning rate (0.05 per 128 images in the paper); multiplied by the "
                             "number of workers")
    warmup_lr: float = option(0.0, "learning rate at the start of the warmup")
    warmup_epochs: int = option(0, "linear warmup epochs")
    optimizer: str = option("nag", "update rule", choices=("nag", "sgd"), resume=FIXED,
                            fixed_because="the optimizer states belong to that optimizer")
    momentum: float = option(0.9, "momentum")
    wd: float = option(1e-4, "weight decay")
    no_wd: bool = option(False, "no weight decay on BN gamma/beta and biases")
    label_smoothing: float = option(0.0, "label smoothing eta", bare_value=0.1)
    mixup_alpha: float = option(0.0, "mixup Beta(alpha, alpha); 0 disables", switch=("--mixup", 0.2))
    mixup_off_epoch: int = option(0, "no mixup in the last N epochs")
    freeze_epochs: int = option(0, "train only the classifier for the first N epochs")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Outputs, checkpoints, logging, seeding and devices."""
    save_dir: str = option("runs/train", "checkpoints, logs, metrics.jsonl, training_curve.png, final export",
                           resume=INVOCATION)
    eval_every: int = option(1, "validate every N epochs (and after the last)", aliases=("--eval-frequency",))
    save_every: int = option(1, "checkpoint every N epochs (and after the last)", aliases=("--save-frequency",))
    log_interval: int = option(20, "log every N steps (0: per epoch only)", resume=INVOCATION)
    seed: int = option(0, "seeds the data order, augmentation and initialization", resume=FIXED,
                       fixed_because="it fixes the data order and the augmentation of every sample")
    resume: bool = option(False, "continue from the newest checkpoint in --save-dir (an error if there is none)",
                          resume=INVOCATION)
    allow_fresh_start: bool = option(False, "with --resume: start from scratch when there is no checkpoint",
                                     resume=INVOCATION)
    keep_checkpoints: int = option(3, "keep the newest N checkpoints (best.params is kept apart)", resume=INVOCATION)
    stop_after_epochs: int = option(0, "checkpoint and stop after N epochs of this run (resume later with --resume)",
                                    resume=INVOCATION)
    gpu: bool = option(False, "train on GPU local_rank", resume=INVOCATION)
    export: bool = option(True, "write the final symbol/params export", negate="--no-export", resume=INVOCATION)


#: The settings groups, in the order of a config and of the command line.
GROUPS = (("net", NetSettings), ("data", DataSettings), ("optim", OptimSettings), ("run", RunSettings))
_GROUP_OF = {f.name: group for group, cls in GROUPS for f in dataclasses.fields(cls)}


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
        groups = {group: {} for group, _ in GROUPS}
        for name, value in options.items():
            groups[_GROUP_OF[name]][name] = value
        return cls(**{group: settings(**groups[group]) for group, settings in GROUPS})

    def flat(self):
        """``{option: value}`` over all groups."""
        out = {}
        for group, _ in GROUPS:
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
        toy data folder, the variant's DropBlock rate. Validates the result (:meth:`validate`)."""
        changes = {"input_size": self.data.input_size or (TOY_INPUT_SIZE if self.data.toy else 224)}
        if self.data.toy:
            from ..data.toy import CLASSES

            changes["classes"] = len(CLASSES)
            changes["toy_dir"] = self.data.toy_dir or os.path.join(self.run.save_dir, "toy_data")
        if self.net.dropblock_prob < 0:
            changes["dropblock_prob"] = model_record(self.net.model).recipe.dropblock_prob
        cfg = self.replace(**changes)
        cfg.validate()
        return cfg

    def validate(self):
        """``OptionError`` naming the first option (as ``{name}``) whose value, or combination, is invalid."""
        o = self.flat()
        for name, value in o.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise OptionError("{%s} must be a finite number, got %r" % (name, value))
        checks = [
            (o["epochs"] >= 1, "{epochs} must be >= 1"),
            (o["batch_size"] >= 1, "{batch_size} must be >= 1"),
            (o["lr"] > 0, "{lr} must be positive"),
            (o["toy"] or bool(o["rec_train"]) or bool(o["data_dir"]),
             "give {rec_train} (and {rec_val}), {data_dir}, or use {toy}"),
            (not (o["data_dir"] and (o["rec_train"] or o["toy"])), "give only one of {data_dir}, {rec_train}, {toy}"),
            (not (o["pretrained"] and o["params"]), "give {pretrained} or {params}, not both"),
            (o["classes"] >= 0, "{classes} must be >= 0 (0: from the data)"),
            (o["input_size"] >= 32, "{input_size} must be at least 32 (0: the default)"),
            (0 <= o["crop_pct"] <= 1, "{crop_pct} must be in (0, 1] (0: the variant's)"),
            (o["workers"] >= 0, "{workers} must be >= 0"),
            (o["freeze_epochs"] >= 0, "{freeze_epochs} must be >= 0"),
            (o["keep_checkpoints"] >= 1, "{keep_checkpoints} must be >= 1"),
            (0 <= o["label_smoothing"] < 1, "{label_smoothing} must be in [0, 1)"),
            (o["mixup_alpha"] >= 0, "{mixup_alpha} must be >= 0"),
            (o["dropblock_prob"] < 1, "{dropblock_prob} must be below 1 (negative: the variant's recipe rate)"),
            (o["dtype"] in ("float32", "float16"), "{dtype} must be float32 or float16"),
            (o["optimizer"] in ("nag", "sgd"), "{optimizer} must be nag or sgd"),
            (0 < o["min_random_area"] <= 1, "{min_random_area} must be in (0, 1]"),
            (o["stop_after_epochs"] >= 0, "{stop_after_epochs} must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)
