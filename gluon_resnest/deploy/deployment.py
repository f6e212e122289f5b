"""An export for deployment in one call: symbol/params (checked by reloading it without gluon_resnest), and
optionally ONNX (checked with onnxruntime) and INT8 (compared with the float32 network on real images)."""
import tempfile

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..data.transforms import EvalTransform
from ..models.factory import get_model, model_record
from .export import WithPreprocess, export_model, read_meta, run_without_package, symbol_paths, write_meta

__all__ = ["export_deployment"]

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


def export_deployment(model, weights, out, size=None, batch_size=1, preprocess=False, onnx=False, int8=None,
                      calib_data=None, calib_batches=4, fuse=False, class_names=None):
    """Export variant ``model`` with ``weights`` (``True`` for the published ones, a ``.params`` path, or ``None``
    for a random initialization) to prefix ``out``; returns a report dict whose ``reload_ok`` says whether the reloaded export
    matches the source network. ``int8`` is a calibration mode ("naive" or "entropy") and needs ``calib_data``.
    ``fuse`` exports the oneDNN-fused CPU graph (any oneDNN-enabled MXNet loads it; ONNX cannot be made from it).
    ``class_names`` go into the export's metadata (read by ``scripts/predict.py``)."""
    if int8 and not calib_data:
        raise ValueError("INT8 export needs calibration data (--calib-data)")
    if fuse and onnx:
        raise ValueError("ONNX cannot be made from a oneDNN-fused graph; drop --fuse or --onnx")
    if int8 and preprocess:
        raise ValueError("INT8 export takes NCHW float input; drop --preprocess")
    net = get_model(model, pretrained=weights or False)
    if not weights:
        net.initialize(mx.init.Xavier())
    size = size or model_record(model).pretrained.eval_size
    sym, params, shape = export_model(net, out, size, batch_size, preprocess, fuse=fuse, class_names=class_names)
    x, expected = _reference_output(net, shape, preprocess)
    with tempfile.TemporaryDirectory() as work:
        outs = run_without_package(out, x, work)
    report = {"symbol": sym, "params": params, "input_shape": list(shape), "random_weights": not weights}
    for kind, got in outs.items():
        report["max_abs_diff_%s" % kind] = float(np.abs(got - expected).max())
    tolerance = RELOAD_TOLERANCE * max(1.0, float(np.abs(expected).max()))
    report["reload_ok"] = max(report["max_abs_diff_symbolblock"], report["max_abs_diff_module"]) <= tolerance
    if onnx:
        from .onnx_export import export_onnx, run_onnx

        onnx_path = export_onnx(sym, params, out + ".onnx", shape, x.dtype.type)
        report["onnx"] = onnx_path
        report["onnx_max_rel_diff"] = float(np.abs(run_onnx(onnx_path, x) - expected).max()
                                            / np.abs(expected).max())
    if int8:
        from .int8 import compare_outputs, quantize_model

        calib_batch = max(batch_size, 8)
        loader = make_loader(open_image_dataset(calib_data), EvalTransform(size), calib_batch)
        data_shape = (calib_batch, 3, size, size)
        source = get_model(model, pretrained=weights) if weights else net
        qnet = quantize_model(source, loader, data_shape, int8, calib_batches)
        qprefix = out + "-int8"
        qnet.export(qprefix)
        write_meta(qprefix, dict(read_meta(out), input_shape=list(data_shape), int8=int8))
        net.hybridize(static_alloc=True, static_shape=True)
        report["int8"] = symbol_paths(qprefix)
        report["int8_vs_fp32"] = compare_outputs(net, qnet, loader)
    return report
