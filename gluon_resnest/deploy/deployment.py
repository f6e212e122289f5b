"""An export for deployment in one call: symbol/params (checked by reloading it without gluon_resnest), and
optionally ONNX (checked with onnxruntime) and INT8, as MXNet symbol/params and, with ONNX, as an INT8 ONNX file
(each compared with the float32 network on held-out images).

All files are staged and published as one unit (:func:`~gluon_resnest.deploy.export.publish_export`) only when
every check passed: a failed check leaves the prefix as it was.
"""
import itertools
import tempfile

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..models.factory import get_model, model_data_config
from ..utils.publish import StagedFiles
from .agreement import ExportCheckError, check_agreement
from .classifier import onnx_runner
from .export import (INT8_ONNX_SUFFIXES, INT8_SUFFIXES, MODEL_SUFFIXES, ONNX_SUFFIXES, WithPreprocess,
                     check_export_stale, publish_export, run_without_package, symbol_paths, write_export,
                     write_meta)

__all__ = ["export_deployment", "RELOAD_TOLERANCE"]

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


def _int8_export(net, source, stage, meta, data_config, batch_size, calib_data, val_data, mode, calib_batches,
                 min_agreement, onnx_path=None):
    """Quantize ``source``, write ``{staged prefix}-int8-*`` and compare it with ``net`` on held-out images: the
    batches of ``calib_data`` after the calibration ones, or all of ``val_data``. With ``onnx_path`` (the staged
    float32 ONNX file) also write ``{staged prefix}-int8.onnx``, calibrated on the same batches and compared in the
    same pass over the same images. Returns ``{"int8": comparison, "int8_onnx": comparison or None}``."""
    from . import agreement
    from .int8 import quantize_model

    calib_batch = max(batch_size, CHECK_BATCH)
    loader = _image_loader(calib_data, data_config, calib_batch)
    size = data_config.input_size
    data_shape = (calib_batch, 3, size, size)
    calibration = list(itertools.islice(loader, calib_batches))
    qnet = quantize_model(source, calibration, data_shape, mode, calib_batches)
    qprefix = stage.prefix + "-int8"
    qnet.export(qprefix)
    write_meta(qprefix, dict(meta, input_shape=list(data_shape), int8=mode))
    net.hybridize(static_alloc=True, static_shape=True)
    if val_data:
        held_out, skip = _image_loader(val_data, data_config, calib_batch), 0
    else:
        held_out, skip = loader, calib_batches
    candidates, onnx_runtime = {"int8": qnet}, None
    if onnx_path:
        from .int8_onnx import quantize_onnx

        int8_onnx = quantize_onnx(onnx_path, stage.prefix + INT8_ONNX_SUFFIXES[0],
                                  [data.asnumpy() for data, _ in calibration], mode)
        onnx_runtime, run = onnx_runner(int8_onnx)
        candidates["int8_onnx"] = lambda data: run(data.asnumpy())
    comparisons = agreement.compare_many(net, candidates, held_out, skip=skip)
    if not comparisons["int8"]["images"]:
        raise ExportCheckError("%s has no images beyond the %d calibration batches to check the INT8 model on; "
                               "give more images or --val-data" % (calib_data, calib_batches))
    results = {"int8": comparisons["int8"], "int8_onnx": None}
    results["int8"]["summary"] = check_agreement("INT8", results["int8"], min_agreement)
    if onnx_runtime:
        results["int8_onnx"] = dict(comparisons["int8_onnx"], runtime=onnx_runtime, precision="int8")
        results["int8_onnx"]["summary"] = check_agreement("INT8 ONNX (%s)" % onnx_runtime, results["int8_onnx"],
                                                          min_agreement)
    return results


def _bf16_check(net, onnx_path, images, data_config, batch_size, min_agreement):
    """Compare OpenVINO bf16 on the staged ONNX file with ``net`` (float32) on the images at ``images``."""
    from . import agreement

    _, run = onnx_runner(onnx_path, "openvino", "bf16")
    net.hybridize(static_alloc=True, static_shape=True)
    comparison = agreement.compare_outputs(net, lambda data: run(data.asnumpy()),
                                           _image_loader(images, data_config, max(batch_size, CHECK_BATCH)))
    comparison["summary"] = check_agreement("bf16 (OpenVINO)", comparison, min_agreement)
    return dict(comparison, runtime="openvino", precision="bf16")


def export_deployment(model, weights, out, size=None, batch_size=1, preprocess=False, onnx=False, int8=None,
                      calib_data=None, calib_batches=4, fuse=False, val_data=None, min_agreement=None, force=False,
                      bf16=False, class_names=None):
    """Export variant ``model`` with ``weights`` (``True`` for the published ones, a ``.params`` path, or ``None``
    for a random initialization) to prefix ``out``; returns a report dict.

    ``int8`` is a calibration mode ("naive" or "entropy") and needs ``calib_data``; with ``onnx`` (or ``bf16``,
    which writes the ONNX file) it also writes ``{out}-int8.onnx`` (every convolution INT8, for OpenVINO or
    onnxruntime). Each INT8 model is compared with float32 on ``val_data`` or else the ``calib_data`` images not
    used for calibration, with a warning below
    :data:`~gluon_resnest.deploy.agreement.WARN_AGREEMENT` and
    :class:`~gluon_resnest.deploy.agreement.ExportCheckError` below ``min_agreement``. ``fuse`` exports the oneDNN-fused
    CPU graph (any oneDNN-enabled MXNet loads it; ONNX cannot be made from it). ``bf16`` writes the ONNX file and
    checks OpenVINO's bfloat16 inference of it against float32 on ``val_data`` (else ``calib_data``) the same way;
    ``{out}-meta.json`` then records ``bf16`` and ``scripts/predict.py --runtime openvino`` runs it in bf16.
    The files are published together, replacing an earlier export at ``out`` (``force`` also removes its files
    this export does not produce), and only when the reload check (``report["reload_ok"]``) and the agreement
    checks pass. ``class_names`` go into the export's metadata (read by ``scripts/predict.py``).
    """
    if int8 and not calib_data:
        raise ValueError("INT8 export needs calibration data (--calib-data)")
    if fuse and onnx:
        raise ValueError("ONNX cannot be made from a oneDNN-fused graph; drop --fuse or --onnx")
    if int8 and preprocess:
        raise ValueError("INT8 export takes NCHW float input; drop --preprocess")
    if bf16:
        if fuse or preprocess:
            raise ValueError("--bf16 checks the ONNX export on NCHW float input; drop --fuse and --preprocess")
        if not (val_data or calib_data):
            raise ValueError("--bf16 needs images to check agreement with float32: give --val-data")
        from .openvino_runtime import check_bf16_support

        check_bf16_support()
        onnx = True
    check_export_stale(out, MODEL_SUFFIXES + (ONNX_SUFFIXES if onnx else ()) + (INT8_SUFFIXES if int8 else ())
                       + (INT8_ONNX_SUFFIXES if int8 and onnx else ()), force)
    net = get_model(model, pretrained=weights or False)
    if not weights:
        net.initialize(mx.init.Xavier())
    data_config = model_data_config(model, input_size=size)
    with StagedFiles(out) as stage:
        shape, meta = write_export(net, stage.prefix, data_config, batch_size, preprocess, fuse=fuse,
                                   class_names=class_names)
        x, expected = _reference_output(net, shape, preprocess)
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
        if onnx:
            from .onnx_export import export_onnx, run_onnx

            onnx_path = export_onnx(*symbol_paths(stage.prefix), stage.prefix + ".onnx", shape, x.dtype.type)
            report["onnx"] = out + ".onnx"
            report["onnx_max_rel_diff"] = float(np.abs(run_onnx(onnx_path, x) - expected).max()
                                                / np.abs(expected).max())
        if int8:
            source = get_model(model, pretrained=weights) if weights else net
            checks = _int8_export(net, source, stage, meta, data_config, batch_size, calib_data, val_data, int8,
                                  calib_batches, min_agreement, onnx_path if onnx else None)
            report["int8_vs_fp32"] = checks["int8"]
            report["int8"] = symbol_paths(out + "-int8")
            if checks["int8_onnx"]:
                meta["int8_onnx"] = report["int8_onnx_vs_fp32"] = checks["int8_onnx"]
                report["int8_onnx"] = out + INT8_ONNX_SUFFIXES[0]
        if bf16:
            meta["bf16"] = report["bf16_vs_fp32"] = _bf16_check(net, onnx_path, val_data or calib_data, data_config,
                                                                batch_size, min_agreement)
        write_meta(stage.prefix, meta)
        publish_export(stage, force)
        report["published"] = True
    return report
