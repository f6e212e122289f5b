"""An export for deployment in one call: symbol/params (checked by reloading it without gluon_resnest), and
optionally ONNX (checked with onnxruntime) and INT8, as MXNet symbol/params and, with ONNX, as an INT8 ONNX file
(each compared with the float32 network on held-out images).

All files are staged and published as one unit (:func:`~gluon_resnest.deploy.export.publish_export`) only when
every check passed: a failed check leaves the prefix as it was.
"""
import dataclasses
import itertools
import tempfile
from typing import Optional

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..models.factory import get_model, model_data_config
from ..models.resnest import MIN_INPUT_SIZE
from ..utils.errors import OptionError
from ..utils.publish import StagedFiles
from .agreement import ExportCheckError, check_agreement
from .classifier import onnx_runner
from .int8 import CALIB_MODES
from .export import (INT8_ONNX_SUFFIXES, INT8_SUFFIXES, MODEL_SUFFIXES, ONNX_SUFFIXES, WithPreprocess,
                     check_export_stale, publish_export, run_without_package, symbol_paths, write_export,
                     write_meta)

__all__ = ["ExportOptions", "export_deployment", "RELOAD_TOLERANCE"]

#: A reloaded export may differ from the source network by this much, relative to the largest logit.
RELOAD_TOLERANCE = 1e-5


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


#: Images per batch when calibrating and comparing (at least the export's batch size).
CHECK_BATCH = 8


def _image_loader(path, data_config, batch_size):
    """``(N, 3, S, S)`` batches of the images at ``path``, transformed by ``data_config``'s eval transform."""
    return make_loader(open_image_dataset(path), data_config.eval_transform(), batch_size)


def _int8_export(net, source, stage, meta, data_config, opts, onnx_path=None):
    """Quantize ``source`` as ``opts`` say, write ``{staged prefix}-int8-*`` and compare it with ``net`` on held-out
    images: the batches of ``opts.calib_data`` after the calibration ones, or all of ``opts.val_data``. With
    ``onnx_path`` (the staged float32 ONNX file) also write ``{staged prefix}-int8.onnx``, calibrated on the same
    batches and compared in the same pass over the same images. Returns ``{"int8": comparison, "int8_onnx":
    comparison or None}``."""
    from . import agreement
    from .int8 import quantize_model

    calib_data, calib_batches, val_data = opts.calib_data, opts.calib_batches, opts.val_data
    calib_batch = max(opts.batch_size, CHECK_BATCH)
    loader = _image_loader(calib_data, data_config, calib_batch)
    size = data_config.input_size
    data_shape = (calib_batch, 3, size, size)
    calibration = list(itertools.islice(loader, calib_batches))
    qnet = quantize_model(source, calibration, data_shape, opts.int8, calib_batches)
    qprefix = stage.prefix + "-int8"
    qnet.export(qprefix)
    write_meta(qprefix, dict(meta, input_shape=list(data_shape), int8=opts.int8))
    net.hybridize(static_alloc=True, static_shape=True)
    if val_data:
        held_out, skip = _image_loader(val_data, data_config, calib_batch), 0
    else:
        held_out, skip = loader, calib_batches
    candidates, onnx_runtime = {"int8": qnet}, None
    if onnx_path:
        from .int8_onnx import quantize_onnx

        int8_onnx = quantize_onnx(onnx_path, stage.prefix + INT8_ONNX_SUFFIXES[0],
                                  [data.asnumpy() for data, _ in calibration], opts.int8)
        onnx_runtime, run = onnx_runner(int8_onnx)
        candidates["int8_onnx"] = lambda data: run(data.asnumpy())
    comparisons = agreement.compare_many(net, candidates, held_out, skip=skip)
    if not comparisons["int8"]["images"]:
        raise ExportCheckError("%s has no images beyond the %d calibration batches to check the INT8 model on; "
                               "give more images or separate validation images" % (calib_data, calib_batches))
    results = {"int8": comparisons["int8"], "int8_onnx": None}
    results["int8"]["summary"] = check_agreement("INT8", results["int8"], opts.min_agreement)
    if onnx_runtime:
        results["int8_onnx"] = dict(comparisons["int8_onnx"], runtime=onnx_runtime, precision="int8")
        results["int8_onnx"]["summary"] = check_agreement("INT8 ONNX (%s)" % onnx_runtime, results["int8_onnx"],
                                                          opts.min_agreement)
    return results


def _bf16_check(net, onnx_path, data_config, opts):
    """Compare OpenVINO bf16 on the staged ONNX file with ``net`` (float32) on ``opts.val_data`` (else
    ``opts.calib_data``)."""
    from . import agreement

    _, run = onnx_runner(onnx_path, "openvino", "bf16")
    net.hybridize(static_alloc=True, static_shape=True)
    comparison = agreement.compare_outputs(net, lambda data: run(data.asnumpy()),
                                           _image_loader(opts.val_data or opts.calib_data, data_config,
                                                         max(opts.batch_size, CHECK_BATCH)))
    comparison["summary"] = check_agreement("bf16 (OpenVINO)", comparison, opts.min_agreement)
    return dict(comparison, runtime="openvino", precision="bf16")


@dataclasses.dataclass(frozen=True)
class ExportOptions:
    """What :func:`export_deployment` writes and checks; validated on construction (:class:`OptionError` naming
    the parameters).

    ``size``: input resolution (0: the variant's evaluation size; the export's data config is the variant's at that
    size). ``batch_size``: the export's static batch. ``preprocess``: bake uint8 NHWC input and the normalization
    into the graph. ``fuse``: the oneDNN-fused CPU graph (any oneDNN-enabled MXNet loads it; no ONNX from it).
    ``onnx``: also ``{out}.onnx``. ``int8``: a calibration mode of :data:`~gluon_resnest.deploy.int8.CALIB_MODES`,
    which writes ``{out}-int8-*`` and, with ``onnx`` (or ``bf16``), ``{out}-int8.onnx`` (every convolution INT8),
    calibrated on ``calib_batches`` batches of ``calib_data``. ``bf16``: write the ONNX file and check OpenVINO's
    bfloat16 inference of it. Each reduced-precision form is compared with float32 on ``val_data`` or else the
    ``calib_data`` images not used for calibration: a warning below
    :data:`~gluon_resnest.deploy.agreement.WARN_AGREEMENT`, an :class:`ExportCheckError` below ``min_agreement``.
    ``force``: remove files of an earlier export at the prefix that this one does not produce.
    """
    size: int = 0
    batch_size: int = 1
    preprocess: bool = False
    fuse: bool = False
    onnx: bool = False
    int8: Optional[str] = None
    calib_data: Optional[str] = None
    calib_batches: int = 4
    bf16: bool = False
    val_data: Optional[str] = None
    min_agreement: Optional[float] = None
    force: bool = False

    def __post_init__(self):
        checks = [
            (self.size == 0 or self.size >= MIN_INPUT_SIZE, "{size} must be at least %d (0: the variant's)"
             % MIN_INPUT_SIZE),
            (self.batch_size >= 1, "{batch_size} must be >= 1"),
            (self.calib_batches >= 1, "{calib_batches} must be >= 1"),
            (self.int8 in (None,) + CALIB_MODES, "{int8} must be one of %s" % ", ".join(CALIB_MODES)),
            (not self.int8 or self.calib_data, "{int8} needs calibration images: give {calib_data}"),
            (not (self.fuse and self.onnx), "ONNX cannot be made from a oneDNN-fused graph; drop {fuse} or {onnx}"),
            (not (self.int8 and self.preprocess), "{int8} exports NCHW float input; drop {preprocess}"),
            (not (self.bf16 and (self.fuse or self.preprocess)),
             "{bf16} checks the ONNX export on NCHW float input; drop {fuse} and {preprocess}"),
            (not self.bf16 or self.val_data or self.calib_data,
             "{bf16} needs images to check agreement with float32: give {val_data}"),
            (self.min_agreement is None or 0 <= self.min_agreement <= 1, "{min_agreement} must be between 0 and 1"),
            (not ((self.val_data or self.min_agreement is not None) and not (self.int8 or self.bf16)),
             "{val_data} and {min_agreement} check a reduced-precision export; add {int8} or {bf16}"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)
        if self.bf16:
            object.__setattr__(self, "onnx", True)


def export_deployment(model, weights, out, options=None, class_names=None):
    """Export variant ``model`` with ``weights`` (``True`` for the published ones, a ``.params`` path, or ``None``
    for a random initialization) to prefix ``out`` as ``options`` (:class:`ExportOptions`) say; returns a report
    dict.

    The files are published together, replacing an earlier export at ``out``, and only when the reload check
    (``report["reload_ok"]``) and the agreement checks pass. ``{out}-meta.json`` records the data config, the
    checks and ``class_names`` (read by ``scripts/predict.py``).
    """
    opts = options or ExportOptions()
    if opts.bf16:
        from .openvino_runtime import check_bf16_support

        check_bf16_support()
    check_export_stale(out, MODEL_SUFFIXES + (ONNX_SUFFIXES if opts.onnx else ()) + (INT8_SUFFIXES if opts.int8 else ())
                       + (INT8_ONNX_SUFFIXES if opts.int8 and opts.onnx else ()), opts.force)
    net = get_model(model, pretrained=weights or False)
    if not weights:
        net.initialize(mx.init.Xavier())
    data_config = model_data_config(model, input_size=opts.size)
    with StagedFiles(out) as stage:
        shape, meta = write_export(net, stage.prefix, data_config, opts.batch_size, opts.preprocess, fuse=opts.fuse,
                                   class_names=class_names)
        x, expected = _reference_output(net, shape, opts.preprocess)
        with tempfile.TemporaryDirectory() as work:
            outs = run_without_package(stage.prefix, x, work)
        sym, params = symbol_paths(out)
        report = {"symbol": sym, "params": params, "input_shape": list(shape), "random_weights": not weights}
        for kind, got in outs.items():
            report["max_abs_diff_%s" % kind] = float(np.abs(got - expected).max())
        tolerance = RELOAD_TOLERANCE * max(1.0, float(np.abs(expected).max()))
        report["reload_ok"] = max(report["max_abs_diff_symbolblock"], report["max_abs_diff_module"]) <= tolerance
        if not report["reload_ok"]:
            report["published"] = False
            return report
        if opts.onnx:
            from .onnx_export import export_onnx, run_onnx

            onnx_path = export_onnx(*symbol_paths(stage.prefix), stage.prefix + ".onnx", shape, x.dtype.type)
            report["onnx"] = out + ".onnx"
            report["onnx_max_rel_diff"] = float(np.abs(run_onnx(onnx_path, x) - expected).max()
                                                / np.abs(expected).max())
        if opts.int8:
            source = get_model(model, pretrained=weights) if weights else net
            checks = _int8_export(net, source, stage, meta, data_config, opts, onnx_path if opts.onnx else None)
            report["int8_vs_fp32"] = checks["int8"]
            report["int8"] = symbol_paths(out + "-int8")
            if checks["int8_onnx"]:
                meta["int8_onnx"] = report["int8_onnx_vs_fp32"] = checks["int8_onnx"]
                report["int8_onnx"] = out + INT8_ONNX_SUFFIXES[0]
        if opts.bf16:
            meta["bf16"] = report["bf16_vs_fp32"] = _bf16_check(net, onnx_path, data_config, opts)
        write_meta(stage.prefix, meta)
        publish_export(stage, opts.force)
        report["published"] = True
    return report
