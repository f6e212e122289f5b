"""Training configuration, grouped as network / data / optimization / run settings.

Each field is a training option declared with :func:`~gluon_resnest.train.options.option` (default, help, aliases,
choices, range, resume rule). Flat option names (``lr``, ``rec_train``, ...) map one-to-one onto fields of exactly one group, so a
config is built from command-line arguments with :meth:`TrainConfig.from_flat`. :meth:`TrainConfig.resolved` fills
in the defaults that depend on other settings and returns a new config; the one given is never changed.
"""
import dataclasses
import math
import os

from ..models.catalogue import CATALOGUE
from ..models.factory import model_record
from ..models.resnest import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from ..utils.errors import OptionError
from ..utils.options import check_settings
from .options import FIXED, INVOCATION, Range, option
from .precision import DTYPES

__all__ = ["NetSettings", "DataSettings", "OptimSettings", "RunSettings", "TrainConfig", "GROUPS", "TOY_INPUT_SIZE"]

TOY_INPUT_SIZE = 64

_DATA_ORDER = "it fixes the data order and the steps per epoch"
_RECIPE_RATE = "negative: the variant's recipe rate"
_AT_LEAST_0, _AT_LEAST_1, _RATE = Range(0), Range(1), Range(0, 1, high_open=True)


@dataclasses.dataclass(frozen=True)
class NetSettings:
    """The network: variant, classifier width, regularisation that lives in the graph, parameter dtype."""
    model: str = option("resnest50", "ResNeSt variant", choices=CATALOGUE, resume=FIXED,
                        fixed_because="the checkpoint holds that network's weights")
    classes: int = option(0, "classifier width (0: from the data: class folders, toy classes, or the largest .rec "
                             "label + 1)", resume=FIXED, fixed_because="the checkpoint's classifier has that many "
                                                                       "outputs", bounds=_AT_LEAST_0)
    pretrained: bool = option(False, "start from the published ImageNet weights (a new classifier when --classes "
                                     "differs from 1000)", aliases=("--use-pretrained",), resume=INVOCATION)
    params: str = option("", "start from this .params file (a new classifier when the classes differ)",
                         resume=INVOCATION)
    last_gamma: bool = option(False, "zero-init the last BN of each block")
    dropblock_prob: float = option(-1.0, "final DropBlock rate, linear ramp from 0 (negative: the variant's recipe "
                                         "rate; 0 disables)", bounds=Range(high=1, high_open=True, note=_RECIPE_RATE))
    final_drop: float = option(-1.0, "dropout before the classifier (negative: the variant's recipe rate)",
                               bounds=Range(high=1, high_open=True, note=_RECIPE_RATE + "; 1 would drop every "
                                                                                        "feature"))
    dtype: str = option("float32", "training precision: float32; float16 (with --gpu: float16 weights, float32 "
                                   "master weights); bfloat16 (CPU: MXNet's mixed precision, float32 weights, bf16 "
                                   "operators)", choices=DTYPES, resume=FIXED,
                        fixed_because="the checkpoint's weights and optimizer states were trained in that precision")


@dataclasses.dataclass(frozen=True)
class DataSettings:
    """Where the images come from and how they are augmented."""
    rec_train: str = option("", "training RecordIO .rec (with .idx)", resume=INVOCATION)
    rec_val: str = option("", "validation RecordIO .rec (with .idx)", resume=INVOCATION)
    data_dir: str = option("", "folder with train/ and val/ class folders (one folder per class)", resume=INVOCATION)
    toy: bool = option(False, "use the embedded 10-class toy dataset (64x64)")
    toy_dir: str = option("", "where to write the toy RecordIO files (empty: SAVE_DIR/toy_data)", resume=INVOCATION)
    input_size: int = option(0, "training/validation resolution (0: 224, or 64 for the toy set)",
                             bounds=Range(MIN_INPUT_SIZE, MAX_INPUT_SIZE, also=(0,),
                                          note="0: the default; the largest is about twice the largest published "
                                               "evaluation size"))
    crop_pct: float = option(0.0, "validation center-crop fraction (0: the variant's data config)",
                             bounds=Range(0, 1, note="0: the variant's crop"))
    min_random_area: float = option(0.08, "random-resized-crop minimum area", bounds=Range(0, 1, low_open=True))
    auto_augment: bool = option(False, "AutoAugment ImageNet policy")
    jitter: float = option(0.4, "brightness/contrast/saturation jitter: each factor is drawn from 1 +- jitter",
                           bounds=Range(0, 1, note="above 1 a factor could be negative and invert the image"))
    lighting: float = option(0.1, "PCA lighting noise std", bounds=Range(0, 1))
    workers: int = option(2, "data-loading worker processes per training process (0: load in the training "
                             "process)", aliases=("-j", "--num-data-workers"), resume=INVOCATION,
                          bounds=_AT_LEAST_0)
    stop_on_bad_sample: bool = option(False, "stop at an unreadable record or image instead of skipping it with a "
                                             "warning", resume=INVOCATION)


@dataclasses.dataclass(frozen=True)
class OptimSettings:
    """Batch, schedule, optimizer and loss targets; ``lr`` and ``batch_size`` are per worker."""
    batch_size: int = option(128, "images per step, per worker", resume=FIXED, fixed_because=_DATA_ORDER,
                             bounds=_AT_LEAST_1)
    epochs: int = option(90, "epochs to train in all", aliases=("--num-epochs",), bounds=_AT_LEAST_1)
    lr: float = option(0.05, "per-worker learning rate (0.05 per 128 images in the paper); multiplied by the "
                             "number of workers", bounds=Range(0, low_open=True))
    warmup_lr: float = option(0.0, "learning rate at the start of the warmup", bounds=_AT_LEAST_0)
    warmup_epochs: int = option(0, "linear warmup epochs (at most --epochs)", bounds=_AT_LEAST_0)
    optimizer: str = option("nag", "update rule", choices=("nag", "sgd"), resume=FIXED,
                            fixed_because="the optimizer states belong to that optimizer")
    momentum: float = option(0.9, "momentum", bounds=_RATE)
    wd: float = option(1e-4, "weight decay", bounds=_RATE)
    no_wd: bool = option(False, "no weight decay on BN gamma/beta and biases")
    label_smoothing: float = option(0.0, "label smoothing eta", bare_value=0.1, bounds=_RATE)
    mixup_alpha: float = option(0.0, "mixup Beta(alpha, alpha); 0 disables", switch=("--mixup", 0.2),
                                bounds=_AT_LEAST_0)
    mixup_off_epoch: int = option(0, "no mixup in the last N epochs", bounds=_AT_LEAST_0)
    freeze_epochs: int = option(0, "train only the classifier for the first N epochs", bounds=_AT_LEAST_0)


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Outputs, checkpoints, logging, seeding and devices."""
    save_dir: str = option("runs/train", "checkpoints, logs, metrics.jsonl, training_curve.png, final export",
                           resume=INVOCATION)
    eval_every: int = option(1, "validate every N epochs (and after the last; 0: after the last only)",
                             aliases=("--eval-frequency",), bounds=_AT_LEAST_0)
    save_every: int = option(1, "checkpoint every N epochs (and after the last; 0: after the last only)",
                             aliases=("--save-frequency",), bounds=_AT_LEAST_0)
    log_interval: int = option(20, "log every N steps (0: per epoch only)", resume=INVOCATION, bounds=_AT_LEAST_0)
    seed: int = option(0, "seeds the data order, augmentation and initialization", resume=FIXED,
                       fixed_because="it fixes the data order and the augmentation of every sample",
                       bounds=Range(0, 2 ** 31 - 1, note="MXNet's random seeds are C ints"))
    resume: bool = option(False, "continue from the newest checkpoint in --save-dir (an error if there is none)",
                          resume=INVOCATION)
    allow_fresh_start: bool = option(False, "with --resume: start from scratch when there is no checkpoint",
                                     resume=INVOCATION)
    keep_checkpoints: int = option(3, "keep the newest N checkpoints (best.params is kept apart)", resume=INVOCATION,
                                   bounds=_AT_LEAST_1)
    stop_after_epochs: int = option(0, "checkpoint and stop after N epochs of this run (0: train to --epochs; "
                                       "resume later with --resume)", resume=INVOCATION, bounds=_AT_LEAST_0)
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
        toy data folder, the variant's DropBlock rate. Validates the options given and the result
        (:meth:`validate`)."""
        self.validate()
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
        """``OptionError`` naming the first option (as ``{name}``) whose value, or combination, is invalid: a
        non-finite number, a value outside the option's declared choices or range, a combination of options that
        cannot work together, or a save directory that is a file. Nothing is written."""
        o = self.flat()
        for name, value in o.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise OptionError("{%s} must be a finite number, got %r" % (name, value))
        for group, _ in GROUPS:
            check_settings(getattr(self, group))
        checks = [
            (o["toy"] or bool(o["rec_train"]) or bool(o["data_dir"]),
             "give {rec_train} (and {rec_val}), {data_dir}, or use {toy}"),
            (not (o["data_dir"] and (o["rec_train"] or o["toy"])), "give only one of {data_dir}, {rec_train}, {toy}"),
            (not (o["pretrained"] and o["params"]), "give {pretrained} or {params}, not both"),
            (o["warmup_epochs"] <= o["epochs"], "{warmup_epochs} %d is more than {epochs} %d: the warmup would "
                                                "outlast the run" % (o["warmup_epochs"], o["epochs"])),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)
        _check_folder("save_dir", o["save_dir"])
        if o["toy"] and o["toy_dir"]:
            _check_folder("toy_dir", o["toy_dir"])


def _check_folder(option, path):
    """``OptionError`` naming ``option`` when ``path``, or the nearest part of it that exists, is not a folder (so
    the folder could not be created)."""
    existing = os.path.abspath(path)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is" if existing == os.path.abspath(path) else "lies under %s, which is" % existing
        raise OptionError("{%s} %s %s a file, not a folder; give a folder" % (option, path, where))
