"""An export for deployment in one call: the symbol/params member (checked by reloading it without
gluon_resnest), and optionally the ONNX member (checked with onnxruntime), INT8 members (MXNet symbol/params and,
with ONNX, an INT8 ONNX file) and bf16 (the MXNet bf16 symbol/params member and, with ONNX, OpenVINO's bf16
inference of the ONNX member), each reduced-precision form compared with the float32 network on held-out images.

All members are staged and published as one unit (:class:`~gluon_resnest.deploy.export_files.ExportWriter`) only
when every check passed: a failed check leaves the prefix as it was.
"""
import dataclasses
import itertools
import os
import tempfile
from typing import Mapping, Optional, Tuple

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..models.catalogue import CATALOGUE
from ..models.factory import get_model, model_data_config
from ..models.resnest import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from ..utils.errors import OptionError, RuntimeUnavailable
from ..utils.options import Range, check_settings, option
from .agreement import ExportCheckError, check_agreement
from .export import (WithPreprocess, export_description, load_exported, run_without_package, to_bfloat16,
                     write_symbol)
from .export_files import ExportWriter
from .export_meta import Check, Member
from .int8 import CALIB_MODES
from .runtimes import InstalledRuntimes, onnx_check_runtime, onnx_runner

__all__ = ["ExportSource", "ExportOptions", "ExportReport", "export_deployment", "RELOAD_TOLERANCE", "CHECK_BATCH"]

#: A reloaded export may differ from the source network by this much, relative to the largest logit.
RELOAD_TOLERANCE = 1e-5
#: Images per batch when calibrating and comparing (at least the export's batch size).
CHECK_BATCH = 8


@dataclasses.dataclass(frozen=True)
class ExportSource:
    """What ``scripts/export.py`` exports: variant ``model`` with weights from ``params``, a training
    ``checkpoint`` folder or the ``pretrained`` ones (none of them: a random initialization), to prefix ``out``."""
    model: Optional[str] = option(None, "ResNeSt variant", type=str, choices=tuple(CATALOGUE), metavar="MODEL",
                                  required=True)
    out: Optional[str] = option(None, "output prefix (PREFIX-symbol.json, PREFIX-meta.json, ...)", type=str,
                                required=True)
    params: Optional[str] = option(None, "a .params file of this variant", type=str)
    checkpoint: Optional[str] = option(None, "a training --save-dir (its best.params, else its newest checkpoint)",
                                       type=str)
    pretrained: bool = option(False, "the published weights")

    def __post_init__(self):
        given = [name for name in ("params", "checkpoint", "pretrained") if getattr(self, name)]
        if len(given) > 1:
            raise OptionError("give one of {params}, {checkpoint} and {pretrained}, not %s"
                              % " and ".join("{%s}" % name for name in given))


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What :func:`export_deployment` writes and checks; validated on construction (:class:`OptionError` naming
    the parameters). Each reduced-precision member is compared with float32 on ``val_data`` or else the
    ``calib_data`` images not used for calibration: a warning below
    :data:`~gluon_resnest.deploy.agreement.WARN_AGREEMENT`, an :class:`ExportCheckError` below ``min_agreement``.
    """
    size: int = option(0, "input resolution (0: the variant's evaluation size; the export's data config is the "
                          "variant's at that size)",
                       bounds=Range(MIN_INPUT_SIZE, MAX_INPUT_SIZE, also=(0,), note="0: the variant's"))
    batch_size: int = option(1, "the symbol/params member's static batch", bounds=Range(1))
    preprocess: bool = option(False, "bake uint8 NHWC input and the mean/std normalization into the graph")
    fuse: bool = option(False, "export the oneDNN-fused CPU graph (conv + BN + ReLU + add; no ONNX from it)")
    onnx: bool = option(False, "also write PREFIX.onnx (dynamic batch)")
    int8: Optional[str] = option(None, "also write PREFIX-int8 symbol/params calibrated this way, and with the ONNX "
                                       "member PREFIX-int8.onnx", type=str, choices=CALIB_MODES)
    calib_data: Optional[str] = option(None, "RecordIO or image folder for INT8 calibration", type=str)
    calib_batches: int = option(4, "calibration batches (of max(%d, --batch-size) images)" % CHECK_BATCH,
                                bounds=Range(1))
    bf16: bool = option(False, "also write PREFIX-bf16 symbol/params (MXNet AMP bfloat16; needs a CPU with bf16 "
                               "units), and with --onnx check OpenVINO's bfloat16 inference of PREFIX.onnx, each "
                               "against float32")
    val_data: Optional[str] = option(None, "RecordIO or image folder to compare INT8/bf16 with float32 on "
                                           "(default: the calibration images not used for calibration)", type=str)
    min_agreement: Optional[float] = option(None, "fail (publish nothing) when top-1 agreement with float32 is below "
                                                  "X (0..1)", type=float, metavar="X", bounds=Range(0, 1))
    force: bool = option(False, "remove files already at PREFIX that this export does not produce")

    def __post_init__(self):
        check_settings(self)
        checks = [
            (not self.int8 or self.calib_data, "{int8} needs calibration images: give {calib_data}"),
            (not (self.fuse and self.onnx), "ONNX cannot be made from a oneDNN-fused graph; drop {fuse} or {onnx}"),
            (not (self.int8 and self.preprocess), "{int8} exports NCHW float input; drop {preprocess}"),
            (not (self.bf16 and (self.fuse or self.preprocess)),
             "{bf16} converts the NCHW float32 graph; drop {fuse} and {preprocess}"),
            (not self.bf16 or self.val_data or self.calib_data,
             "{bf16} needs images to check agreement with float32: give {val_data}"),
            (not ((self.val_data or self.min_agreement is not None) and not (self.int8 or self.bf16)),
             "{val_data} and {min_agreement} check a reduced-precision export; add {int8} or {bf16}"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)

    def members(self):
        """The export members these options produce, in the order they are written."""
        onnx = ("onnx",) if self.onnx else ()
        int8 = (("int8",) + (("int8_onnx",) if self.onnx else ())) if self.int8 else ()
        return ("symbol",) + onnx + int8 + (("bf16",) if self.bf16 else ())


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """What :func:`export_deployment` published: the export ``prefix``, its ``input_shape`` (the symbol/params
    member's), ``members`` (``{name: Member}``: files and checks) and whether the weights were random."""
    prefix: str
    input_shape: Tuple[int, ...]
    members: Mapping[str, Member]
    random_weights: bool

    def summaries(self):
        """One line per check, in member order."""
        return ["%s: %s" % (name, check.summary) for name, member in self.members.items() for check in member.checks]

    def as_dict(self):
        """JSON-ready: prefix, input shape, random_weights, and per member its file paths, batch and checks."""
        directory = os.path.dirname(self.prefix)
        return {"prefix": self.prefix, "input_shape": list(self.input_shape), "random_weights": self.random_weights,
                "members": {name: dict(member.as_dict(), files=[os.path.join(directory, f) for f in member.files])
                            for name, member in self.members.items()}}


def _reference_output(net, shape, preprocess):
    """A fixed random input in the export's layout and the source network's output on it."""
    rng = np.random.RandomState(0)
    if preprocess:
        x = rng.randint(0, 256, shape).astype("uint8")
        block = WithPreprocess(net)
        block.preprocess.initialize()
        return x, block(mx.nd.array(x, dtype="uint8")).asnumpy()
    x = rng.uniform(-2, 2, shape).astype("float32")
    return x, net(mx.nd.array(x)).asnumpy()


def _reload_check(prefix, x, expected):
    """The symbol/params member at ``prefix`` loaded by ``SymbolBlock.imports`` and ``mx.mod.Module`` in a process
    without gluon_resnest, compared with ``expected``; :class:`ExportCheckError` when they differ."""
    with tempfile.TemporaryDirectory() as work:
        outs = run_without_package(prefix, x, work)
    figures = {"max_abs_diff_%s" % kind: float(np.abs(got - expected).max()) for kind, got in outs.items()}
    figures["tolerance"] = RELOAD_TOLERANCE * max(1.0, float(np.abs(expected).max()))
    worst = max(figures["max_abs_diff_symbolblock"], figures["max_abs_diff_module"])
    summary = ("reloaded without gluon_resnest (SymbolBlock.imports, mx.mod.Module): max abs difference %.2e, "
               "tolerance %.2e" % (worst, figures["tolerance"]))
    if worst > figures["tolerance"]:
        raise ExportCheckError("%s: the reloaded export differs from the source network; nothing was published"
                               % summary)
    return Check("mxnet", "f32", "reload", figures, summary)


def _image_loader(path, data_config, batch_size):
    """``(N, 3, S, S)`` batches of the images at ``path``, transformed by ``data_config``'s eval transform."""
    return make_loader(open_image_dataset(path), data_config.eval_transform(), batch_size)


def _agreement_check(kind, comparison, runtime, precision, min_agreement):
    summary = check_agreement(kind, comparison, min_agreement)
    return Check(runtime, precision, "agreement", dict(comparison), summary)


def _int8_members(net, source, writer, data_config, opts, available):
    """Quantize ``source`` (a float32 network with the export's weights) to the INT8 symbol/params member and,
    when the writer has an ONNX member, the INT8 ONNX member; both calibrated on the same ``opts.calib_batches``
    batches and compared with ``net`` in the same pass over the same images."""
    from . import agreement
    from .int8 import quantize_model

    calib_batch = max(opts.batch_size, CHECK_BATCH)
    loader = _image_loader(opts.calib_data, data_config, calib_batch)
    size = data_config.input_size
    data_shape = (calib_batch, 3, size, size)
    calibration = list(itertools.islice(loader, opts.calib_batches))
    qnet = quantize_model(source, calibration, data_shape, opts.int8, opts.calib_batches)
    qnet.export(writer.staged_prefix("int8"))
    net.hybridize(static_alloc=True, static_shape=True)
    if opts.val_data:
        held_out, skip = _image_loader(opts.val_data, data_config, calib_batch), 0
    else:
        held_out, skip = loader, opts.calib_batches
    candidates, onnx_runtime = {"int8": qnet}, None
    if "int8_onnx" in writer.kinds:
        from .int8_onnx import quantize_onnx

        int8_onnx = quantize_onnx(writer.staged_path("onnx"), writer.staged_path("int8_onnx"),
                                  [data.asnumpy() for data, _ in calibration], opts.int8)
        onnx_runtime = onnx_check_runtime(available)
        run = onnx_runner(int8_onnx, onnx_runtime)
        candidates["int8_onnx"] = lambda data: run(data.asnumpy())
    comparisons = agreement.compare_many(net, candidates, held_out, skip=skip)
    if not comparisons["int8"]["images"]:
        raise ExportCheckError("%s has no images beyond the %d calibration batches to check the INT8 model on; "
                               "give more images or separate validation images" % (opts.calib_data,
                                                                                   opts.calib_batches))
    writer.add("int8", calib_batch, [_agreement_check("INT8", comparisons["int8"], "mxnet", "int8",
                                                      opts.min_agreement)], calibration=opts.int8)
    if onnx_runtime:
        writer.add("int8_onnx", None, [_agreement_check("INT8 ONNX (%s)" % onnx_runtime, comparisons["int8_onnx"],
                                                        onnx_runtime, "int8", opts.min_agreement)])


def _bf16_members(net, writer, data_config, opts):
    """The bf16 symbol/params member (``net``'s inference graph converted by MXNet's AMP, its casts kept in the
    exported symbol) and, with the ONNX member, OpenVINO's bf16 inference of it; each, as reloaded from the staged
    files, compared with ``net`` (float32) on ``opts.val_data`` (else ``opts.calib_data``) in one pass."""
    from . import agreement

    block = to_bfloat16(net, mx.nd.zeros((opts.batch_size, 3, data_config.input_size, data_config.input_size)))
    block.export(writer.staged_prefix("bf16"), remove_amp_cast=False)
    reloaded = load_exported(writer.staged_prefix("bf16"))
    reloaded.hybridize(static_alloc=True)
    candidates = {"bf16": lambda data: reloaded(data).asnumpy()}
    if "onnx" in writer.kinds:
        run = onnx_runner(writer.staged_path("onnx"), "openvino", "bf16")
        candidates["onnx"] = lambda data: run(data.asnumpy())
    net.hybridize(static_alloc=True, static_shape=True)
    comparisons = agreement.compare_many(net, candidates, _image_loader(opts.val_data or opts.calib_data,
                                                                        data_config, max(opts.batch_size,
                                                                                         CHECK_BATCH)))
    writer.add("bf16", opts.batch_size, [_agreement_check("bf16 (MXNet)", comparisons["bf16"], "mxnet", "bf16",
                                                          opts.min_agreement)], fused=True)
    if "onnx" in candidates:
        writer.add_check("onnx", _agreement_check("bf16 (OpenVINO)", comparisons["onnx"], "openvino", "bf16",
                                                  opts.min_agreement))


def _onnx_member(writer, shape, x, expected):
    from .export import symbol_paths
    from .onnx_export import export_onnx, run_onnx

    path = export_onnx(*symbol_paths(writer.staged_prefix("symbol")), writer.staged_path("onnx"), shape,
                       x.dtype.type)
    rel = float(np.abs(run_onnx(path, x) - expected).max() / np.abs(expected).max())
    writer.add("onnx", None, [Check("onnxruntime", "f32", "parity", {"max_rel_diff": rel},
                                    "onnxruntime against the source network: max relative difference %.2e" % rel)])
    return path


def export_deployment(model, weights, out, options=None, class_names=None):
    """Export variant ``model`` with ``weights`` (``True`` for the published ones, a ``.params`` path, or ``None``
    for a random initialization) to prefix ``out`` as ``options`` (:class:`ExportOptions`) say; returns the
    :class:`ExportReport` of the published export.

    The members are published together, replacing any export already at ``out``, and only when every check passed
    (:class:`~gluon_resnest.deploy.agreement.ExportCheckError` otherwise, nothing published). The manifest records
    the data config, the checks and ``class_names``.
    """
    opts = options or ExportOptions()
    available = InstalledRuntimes()
    needed = [("mxnet", "bf16")] + ([("openvino", "bf16")] if opts.onnx else []) if opts.bf16 else []
    for runtime, precision in needed:
        if (runtime, precision) not in available:
            raise RuntimeUnavailable("the bf16 export cannot be checked here: %s"
                                     % available.reason(runtime, precision))
    with ExportWriter(out, opts.members(), opts.force) as writer:
        net = get_model(model, pretrained=weights or False)
        if not weights:
            net.initialize(mx.init.Xavier())
        data_config = model_data_config(model, input_size=opts.size)
        shape = write_symbol(net, writer.staged_prefix("symbol"), data_config, opts.batch_size, opts.preprocess,
                             fuse=opts.fuse)
        x, expected = _reference_output(net, shape, opts.preprocess)
        writer.add("symbol", opts.batch_size, [_reload_check(writer.staged_prefix("symbol"), x, expected)],
                   fused=opts.fuse)
        if opts.onnx:
            _onnx_member(writer, shape, x, expected)
        if opts.int8:
            source = get_model(model, pretrained=weights) if weights else net
            _int8_members(net, source, writer, data_config, opts, available)
        if opts.bf16:
            _bf16_members(net, writer, data_config, opts)
        export = writer.publish(**export_description(net, data_config, opts.preprocess, class_names))
    return ExportReport(export.prefix, tuple(shape), dict(export.meta.members), not weights)
