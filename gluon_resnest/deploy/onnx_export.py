"""ONNX export of an exported ResNeSt symbol/params pair, and a check with onnxruntime."""
import contextlib
import re

import mxnet as mx
import numpy as np

from ..utils.errors import ReportableError
from ..utils.fileio import atomic_write
from .onnx_fold import fold_graph

__all__ = ["OnnxExportError", "OPSET", "export_onnx", "onnx_session", "pinned_opset", "run_onnx"]


#: The newest opset MXNet 1.9's converters implement; newer ones (the default with recent onnx) mis-emit Split.
OPSET = 13


class OnnxExportError(ReportableError, RuntimeError):
    """MXNet's exporter cannot convert the graph (typically an operator without an ONNX converter)."""


@contextlib.contextmanager
def pinned_opset(version):
    """MXNet's exporter targets ``onnx.defs.onnx_opset_version()``; hold it at ``version`` during the export."""
    import onnx.defs

    original = onnx.defs.onnx_opset_version
    onnx.defs.onnx_opset_version = lambda: min(version, original())
    try:
        yield
    finally:
        onnx.defs.onnx_opset_version = original


def _finish_graph(path):
    """Rewrite the exporter's file at ``path``: MXNet lists every weight as a graph input too, keep only the data
    input so runtimes can fold constants; then fold batch norms into their convolutions
    (:func:`~gluon_resnest.deploy.onnx_fold.fold_graph`) and drop the initializers no node reads (MXNet's softmax
    converter writes two per softmax that its nodes do not use; onnxruntime warns about each when it loads)."""
    import onnx

    model = onnx.load(path)
    weights = {init.name for init in model.graph.initializer}
    inputs = [inp for inp in model.graph.input if inp.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    fold_graph(model)
    read = {name for node in model.graph.node for name in node.input} | {out.name for out in model.graph.output}
    used = [init for init in model.graph.initializer if init.name in read]
    del model.graph.initializer[:]
    model.graph.initializer.extend(used)
    onnx.save(model, path)


def export_onnx(sym_path, params_path, onnx_path, input_shape, input_dtype=np.float32, dynamic_batch=True):
    """Convert ``sym_path``/``params_path`` to ``onnx_path`` (atomically), batch norms folded into the
    convolutions; batch dimension dynamic by default."""
    dynamic_shapes = [(None,) + tuple(input_shape[1:])] if dynamic_batch else None

    def write(tmp):
        with pinned_opset(OPSET):
            mx.onnx.export_model(sym_path, params_path, [tuple(input_shape)], [input_dtype], tmp,
                                 dynamic=dynamic_batch, dynamic_input_shapes=dynamic_shapes)
        _finish_graph(tmp)

    try:
        return atomic_write(onnx_path, write)
    except AttributeError as err:
        match = re.search(r"op type (\S+)", str(err))
        raise OnnxExportError("ONNX export of %s failed: operator %s has no converter in MXNet %s's ONNX exporter"
                              % (sym_path, match.group(1) if match else "?", mx.__version__)) from None


def onnx_session(onnx_path):
    """An onnxruntime CPU inference session for ``onnx_path`` (warnings silenced)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])


def run_onnx(onnx_path, data, session=None):
    """Run an ONNX model with onnxruntime (CPU) on one input array; returns the first output."""
    session = session or onnx_session(onnx_path)
    return session.run(None, {session.get_inputs()[0].name: data})[0]
