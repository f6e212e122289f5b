"""The benchmark's options, each declared once with :func:`gluon_resnest.utils.options.option`.

Every settings class is a group of options; a subcommand of ``scripts/benchmark.py`` takes the groups it needs, so an
option shared by several subcommands (``--models``, ``--size``, ``--repeat``, ...) has one declaration. Each
numeric option declares its :class:`~gluon_resnest.utils.options.Range`, which
:func:`~gluon_resnest.utils.options.check_settings` checks. :data:`SMOKE` is what ``--smoke`` replaces in each group. :func:`resolve` turns a parsed command line
into one namespace of checked values.
"""
import dataclasses
import types

from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.models.resnest import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from gluon_resnest.utils.options import Range, check_settings, option, settings_from_args

from .torch_peers import TORCH_CONFIGS

__all__ = ["Variants", "InputSize", "Batch", "Timing", "Comparison", "CeilingKernels", "Profile", "InputPipeline",
           "Serving", "JsonOutput", "Plot", "Smoke", "Report", "SMOKE", "resolve"]


@dataclasses.dataclass(frozen=True)
class Variants:
    """The networks measured."""
    models: tuple = option(("resnest50",), "ResNeSt variants to measure (gluon_resnest.list_models())",
                           choices=tuple(CATALOGUE), metavar="MODEL")


@dataclasses.dataclass(frozen=True)
class InputSize:
    """The input resolution."""
    size: int = option(224, "input side, px", bounds=Range(MIN_INPUT_SIZE, MAX_INPUT_SIZE))


@dataclasses.dataclass(frozen=True)
class Batch:
    """One batch size."""
    batch: int = option(8, "batch size", bounds=Range(1))


@dataclasses.dataclass(frozen=True)
class Timing:
    """How each figure is taken: the median of ``repeat`` timed runs after ``warmup`` untimed ones."""
    warmup: int = option(2, "untimed runs before the timed ones", bounds=Range(0))
    repeat: int = option(5, "timed runs; the median is reported", bounds=Range(1))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """What the full comparison (``run``) measures besides our hybridized and fused networks."""
    batches: tuple = option((1, 8, 16), "inference batch sizes", bounds=Range(1))
    train_batch: int = option(8, "batch size of the training steps", bounds=Range(1))
    gluoncv: bool = option(True, "GluonCV's implementation with the same weights, in this process and as a user "
                                 "gets it (MXNet's default threads)", negate="--no-gluoncv")
    torch: bool = option(True, "the PyTorch reference (timm, else the official package) in the reference "
                               "interpreter (scripts/setup_env.sh --with-references)", negate="--no-torch")
    torch_configs: tuple = option(tuple(TORCH_CONFIGS), "PyTorch configurations, each in its own process: eager, "
                                  "cl (channels_last), compile (torch.compile; inference graphs frozen), bf16 (bf16 "
                                  "autocast) and their combinations", choices=tuple(TORCH_CONFIGS), metavar="CONFIG")
    torch_compile_cache: str = option("runs/torch-compile-cache", "folder where torch.compile keeps its compiled "
                                      "kernels between runs (TORCHINDUCTOR_CACHE_DIR); empty: a temporary folder "
                                      "removed after the run")
    torch_timeout: int = option(3600, "seconds one PyTorch configuration may take, compilation included, before "
                                      "its rows report a timeout", bounds=Range(1))
    ceiling: bool = option(True, "the machine's limit at each precision (the ceiling subcommand's kernels, in a child "
                                 "process), for each row's share of the limit", negate="--no-ceiling")
    int8: bool = option(True, "our INT8 model in MXNet (oneDNN), one process per batch size", negate="--no-int8")
    bf16: bool = option(True, "our bfloat16 paths in MXNet: the export's bf16 member and the --dtype bfloat16 "
                              "training step (in its own process: AMP is set up for a whole process)",
                        negate="--no-bf16")
    train: bool = option(True, "training steps (forward, backward, NAG update)", negate="--no-train")
    runtimes: bool = option(True, "our ONNX export in onnxruntime and OpenVINO (float32, bf16, INT8) and as "
                                  "scripts/predict.py runs it by default; OpenVINO's NNCF INT8 needs .venv-nncf "
                                  "(scripts/setup_env.sh --with-nncf)", negate="--no-runtimes")


@dataclasses.dataclass(frozen=True)
class CeilingKernels:
    """The kernels that measure the machine's limits (:mod:`tools.benchmark.ceiling`), at fp32, bf16 and int8: a
    square GEMM of side ``gemm_size`` and ``convs``, ``(batch, in_channels, out_channels, size, kernel, groups)``:
    resnest50's convolutions at batch 8, 224 px."""
    gemm_size: int = 2048
    convs: tuple = ((8, 128, 256, 56, 3, 2), (8, 256, 512, 28, 3, 2), (8, 256, 1024, 14, 1, 1),
                    (8, 1024, 256, 14, 1, 1))


@dataclasses.dataclass(frozen=True)
class Profile:
    """Which graph is profiled, and over how many runs."""
    graph: str = option("fused", "fused: MXNet profiler's per-operator totals of the oneDNN-fused inference graph; "
                                 "training: those of a training step (forward, backward, NAG update); int8: "
                                 "OpenVINO's per-layer times of our INT8 ONNX export and of OpenVINO's own INT8, "
                                 "then MXNet profiler's totals of our INT8 model",
                        choices=("fused", "training", "int8"))
    runs: int = option(3, "profiled runs (after two untimed ones)", bounds=Range(1))


@dataclasses.dataclass(frozen=True)
class InputPipeline:
    """The input-pipeline measurement: generated photo-like JPEGs in a RecordIO file, read by our training loader and
    by ``mx.io.ImageRecordIter`` with the same augmentations."""
    images: int = option(512, "generated JPEGs", bounds=Range(1))
    batch: int = option(64, "batch size", bounds=Range(1))
    workers: tuple = option((1, 2), "worker processes of our loader (decode threads of ImageRecordIter) to measure",
                            bounds=Range(1))
    passes: int = option(3, "epochs timed after the first batch", bounds=Range(1))
    data_dir: str = option("runs/input-pipeline", "folder that keeps the generated JPEGs between runs")
    jpeg_width: int = 500
    jpeg_height: int = 375


@dataclasses.dataclass(frozen=True)
class Serving:
    """The serving measurement: Multi Model Server with batching off and on against in-process classification."""
    batch: int = option(8, "MMS batch size, concurrent clients and the in-process batch", bounds=Range(1))
    requests: int = option(48, "timed requests with batching on (with batching off: 5/8 of them, at least 4)",
                           bounds=Range(1))


@dataclasses.dataclass(frozen=True)
class JsonOutput:
    """Where the rows are written."""
    json: str = option("", "write the rows to this JSON file")


@dataclasses.dataclass(frozen=True)
class Plot:
    """The throughput plot."""
    plot: str = option("", "write a throughput-vs-batch PNG")


@dataclasses.dataclass(frozen=True)
class Smoke:
    """A quick run of the measuring code."""
    smoke: bool = option(False, "a quick run of the same code: small models, inputs, kernels, run counts and "
                                "PyTorch configurations (tools/benchmark/settings.py: SMOKE) replace those given; no "
                                "timing claims")


@dataclasses.dataclass(frozen=True)
class Report:
    """Rows measured before, to print again."""
    from_json: tuple = option((), "JSON files written by run --json", type=str, metavar="FILE", required=True)


#: The settings ``--smoke`` replaces, per group: every measurement runs, on small inputs, once; PyTorch in one fp32
#: and one bf16 configuration, without ``torch.compile`` (its first compilation takes minutes).
SMOKE = {
    Variants: dict(models=("resnest14",)),
    InputSize: dict(size=64),
    Timing: dict(warmup=1, repeat=1),
    Comparison: dict(batches=(1, 2), train_batch=2, torch_configs=("eager", "cl-bf16")),
    CeilingKernels: dict(gemm_size=64, convs=((1, 16, 32, 8, 3, 2),)),
    InputPipeline: dict(images=12, batch=4, workers=(1,), passes=1, jpeg_width=160, jpeg_height=120),
    Serving: dict(batch=2, requests=4),
}


def resolve(args, groups):
    """The values of the options of ``groups`` (settings classes) in the namespace ``args``, with :data:`SMOKE`
    applied when ``args.smoke`` is set, each group checked (``check_settings``), as one namespace."""
    values = {}
    for group in groups:
        settings = settings_from_args(group, args)
        if getattr(args, "smoke", False):
            settings = dataclasses.replace(settings, **SMOKE.get(group, {}))
        check_settings(settings)
        values.update(dataclasses.asdict(settings))
    return types.SimpleNamespace(**values)
