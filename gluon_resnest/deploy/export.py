"""Export a ResNeSt network to MXNet symbol/params, optionally with the preprocessing baked into the graph; load
an exported symbol/params pair."""
import os
import warnings

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..data.constants import IMAGENET_MEAN, IMAGENET_STD
from ..models.factory import model_data_config
from ..utils.errors import mxnet_reason
from ..utils.fileio import write_error
from .bn_fold import folded_block
from .export_files import ExportWriter
from .inference_graph import prepare_for_inference

__all__ = ["Preprocess", "WithPreprocess", "export_model", "net_data_config", "write_symbol", "export_description",
           "load_exported", "symbol_paths", "run_without_package", "to_bfloat16"]


class Preprocess(HybridBlock):
    """uint8/float ``(N, H, W, 3)`` RGB in 0..255 -> normalized float32 ``(N, 3, H, W)``."""

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            scale = [1.0 / (255.0 * s) for s in std]
            shift = [-m / s for m, s in zip(mean, std)]
            self.scale = self.params.get_constant("scale", mx.nd.array(scale).reshape((1, 3, 1, 1)))
            self.shift = self.params.get_constant("shift", mx.nd.array(shift).reshape((1, 3, 1, 1)))

    def hybrid_forward(self, F, x, scale, shift):
        x = F.transpose(F.cast(x, "float32"), axes=(0, 3, 1, 2))
        return F.broadcast_add(F.broadcast_mul(x, scale), shift)


class WithPreprocess(HybridBlock):
    """``net`` preceded by :class:`Preprocess`: input ``(N, H, W, 3)`` 0..255, output as ``net``."""

    def __init__(self, net, mean=IMAGENET_MEAN, std=IMAGENET_STD, **kwargs):
        super().__init__(prefix="", **kwargs)
        self.preprocess = Preprocess(mean, std, prefix="preprocess_")
        self.net = net

    def hybrid_forward(self, F, x):
        return self.net(self.preprocess(x))


def symbol_paths(prefix, epoch=0):
    """``(prefix-symbol.json, prefix-NNNN.params)``."""
    return "%s-symbol.json" % prefix, "%s-%04d.params" % (prefix, epoch)


def export_model(net, prefix, input_size=None, batch_size=1, preprocess=False, ctx=mx.cpu(), class_names=None,
                 fuse=False, force=False, data_config=None):
    """Export ``net`` as the symbol/params member of an export at ``prefix`` (``{prefix}-symbol.json``,
    ``-0000.params`` and the manifest ``-meta.json``, published as one unit by
    :class:`~gluon_resnest.deploy.export_files.ExportWriter`; files already there that this one lacks
    are removed with ``force``, else refused). ``data_config`` (default: the data config of the net's variant at
    ``input_size``, see :func:`net_data_config`) sets the input size and is recorded in the manifest. Returns
    ``(symbol path, params path, input shape)``.
    """
    data_config = data_config or net_data_config(net, input_size)
    with ExportWriter(prefix, ("symbol",), force) as writer:
        shape = write_symbol(net, writer.staged_prefix("symbol"), data_config, batch_size, preprocess, ctx, fuse)
        writer.add("symbol", batch_size, fused=bool(fuse))
        writer.publish(**export_description(net, data_config, preprocess, class_names))
    sym, params = symbol_paths(prefix)
    return sym, params, shape


def net_data_config(net, input_size=None):
    """The evaluation data config of the variant ``net`` was built as (``net.model_name``, set by
    :func:`~gluon_resnest.models.factory.get_model`), at ``input_size`` when given."""
    name = getattr(net, "model_name", None)
    if name is None:
        raise ValueError("the network has no model_name, so its data config is unknown: pass data_config")
    return model_data_config(name, input_size=input_size)


def export_description(net, data_config, preprocess=False, class_names=None):
    """The manifest fields of an export of ``net`` other than its members
    (:class:`~gluon_resnest.deploy.export_meta.ExportMeta`): variant, class count, ``class_names`` (``None``:
    readers name 1000 outputs with ImageNet's names), data config, input layout."""
    return {"model": getattr(net, "model_name", None), "num_classes": net.num_classes,
            "class_names": tuple(class_names) if class_names else None, "data_config": data_config,
            "layout": "NHWC" if preprocess else "NCHW"}


def write_symbol(net, prefix, data_config, batch_size=1, preprocess=False, ctx=mx.cpu(), fuse=False):
    """Trace ``net`` for inference at ``data_config.input_size`` and write ``{prefix}-symbol.json`` and
    ``{prefix}-0000.params``; returns the input shape.

    The network is switched to its inference graph first
    (:func:`~gluon_resnest.deploy.inference_graph.prepare_for_inference`). ``preprocess=True`` bakes
    :class:`Preprocess` (with the config's mean/std) in, so the export takes uint8 NHWC ``(N, S, S, 3)`` images.
    ``fuse=True`` exports the oneDNN-fused CPU graph (see :func:`~gluon_resnest.deploy.inference_graph.fuse_for_cpu`;
    not for ONNX).
    """
    size = data_config.input_size
    prepare_for_inference(net)
    block = net
    if preprocess:
        block = WithPreprocess(net, data_config.mean, data_config.std)
        block.preprocess.initialize(ctx=ctx)
        shape = (batch_size, size, size, 3)
        data = mx.nd.zeros(shape, ctx=ctx, dtype="uint8")
    else:
        shape = (batch_size, 3, size, size)
        data = mx.nd.zeros(shape, ctx=ctx)
    if fuse:
        block.optimize_for(data, backend="MKLDNN", static_alloc=True, static_shape=True)
    else:
        block.hybridize(static_alloc=True, static_shape=True)
    block(data)
    try:
        block.export(prefix)
    except (OSError, mx.base.MXNetError) as err:
        raise write_error("%s-symbol.json/-0000.params" % prefix, err) from None
    return shape


def load_exported(prefix, ctx=mx.cpu(), dtype="float32", input_name="data"):
    """Load ``{prefix}-symbol.json``/``-0000.params`` as a ``SymbolBlock`` whose input ``input_name`` has
    ``dtype`` (float32, or uint8 for an export with baked preprocessing), with clear errors for a bad pair."""
    sym_path, params_path = symbol_paths(prefix)
    for path in (sym_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError("exported model file %s is missing (expected %s and %s)"
                                    % (path, sym_path, params_path))
    try:
        block = mx.gluon.SymbolBlock(mx.sym.load(sym_path), [mx.sym.var(input_name, dtype=dtype)])
        block.collect_params().load(params_path, ctx, cast_dtype=True, dtype_source="saved")
        return block
    except (AssertionError, mx.base.MXNetError, ValueError) as err:
        raise ValueError("%s and %s are not a matching symbol/params pair: %s"
                         % (sym_path, params_path, mxnet_reason(err))) from None


def to_bfloat16(block, data, cast_optional_params=True):
    """``block`` (a single-input ``HybridBlock`` in its inference graph that has run forward once; ``data`` a
    float32 input of the shape to serve) in bfloat16: a hybridized ``SymbolBlock`` with float32 input and output
    whose convolutions and dense layers run in bf16 between casts, run once on ``data``.

    The batch norms are folded into their convolutions in float32 first
    (:func:`~gluon_resnest.deploy.bn_fold.folded_block`), then MXNet's AMP converts the graph;
    ``cast_optional_params`` stores the parameters that only bf16 operators read in bf16. The converted graph is
    partitioned by oneDNN (convolution + ReLU + sum fused in bf16), which ``export()`` then writes.
    """
    from mxnet.contrib import amp

    folded = folded_block(block)
    folded.hybridize(static_alloc=True, static_shape=True)
    folded(data).wait_to_read()
    with warnings.catch_warnings():  # the converter builds its SymbolBlock without the input's type
        warnings.filterwarnings("ignore", message="Cannot decide type", category=UserWarning)
        converted = amp.convert_hybrid_block(folded, target_dtype="bfloat16", ctx=mx.cpu(),
                                             cast_optional_params=cast_optional_params)
    converted.optimize_for(data, backend="MKLDNN", static_alloc=True, static_shape=True)
    converted(data).wait_to_read()
    return converted


def run_without_package(prefix, data, workdir):
    """Outputs of the export on ``data`` from ``SymbolBlock.imports`` and ``mx.mod.Module`` in a fresh Python
    process that never imports gluon_resnest (:mod:`gluon_resnest.deploy.standalone_reload`, run as a script);
    returns ``{"symbolblock": array, "module": array}``."""
    import subprocess
    import sys

    import numpy as np

    from . import standalone_reload

    inp = os.path.join(workdir, "standalone-input.npy")
    out = os.path.join(workdir, "standalone")
    np.save(inp, data)
    env = dict(os.environ, PYTHONPATH="")
    result = subprocess.run([sys.executable, "-P", standalone_reload.__file__, os.path.abspath(prefix), inp, out],
                            cwd=workdir, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError("loading %s without gluon_resnest failed:\n%s" % (prefix, result.stderr[-3000:]))
    return {kind: np.load("%s-%s.npy" % (out, kind)) for kind in ("symbolblock", "module")}
