"""Export a ResNeSt network to MXNet symbol/params, optionally with the preprocessing baked into the graph."""
import os
import shutil
import tempfile

import mxnet as mx
from mxnet.gluon import HybridBlock

from .nn import set_drop_prob
from .variants import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["Preprocess", "WithPreprocess", "export_model", "load_exported", "symbol_paths"]


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


def export_model(net, prefix, input_size=224, batch_size=1, preprocess=False, ctx=mx.cpu()):
    """Trace ``net`` for inference and write ``{prefix}-symbol.json`` and ``{prefix}-0000.params`` atomically.

    DropBlock is switched off (it is inactive in inference anyway; this keeps its ops out of the graph).
    ``preprocess=True`` bakes :class:`Preprocess` in, so the export takes uint8 NHWC ``(N, S, S, 3)`` images.
    Returns ``(symbol path, params path, input shape)``.
    """
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    set_drop_prob(net, 0.0)
    block = net
    if preprocess:
        block = WithPreprocess(net)
        block.preprocess.initialize(ctx=ctx)
        shape = (batch_size, input_size[0], input_size[1], 3)
        data = mx.nd.zeros(shape, ctx=ctx, dtype="uint8")
    else:
        shape = (batch_size, 3, input_size[0], input_size[1])
        data = mx.nd.zeros(shape, ctx=ctx)
    block.hybridize(static_alloc=True, static_shape=True)
    block(data)
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(dir=directory, prefix=".export-")
    try:
        base = os.path.join(staging, os.path.basename(prefix))
        block.export(base)
        final = symbol_paths(prefix)
        for src, dst in zip(symbol_paths(base), final):
            os.replace(src, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final[0], final[1], shape


def load_exported(prefix, ctx=mx.cpu(), input_name="data"):
    """Load ``{prefix}-symbol.json``/``-0000.params`` as a ``SymbolBlock`` with clear errors for a bad pair."""
    sym_path, params_path = symbol_paths(prefix)
    for path in (sym_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError("exported model file %s is missing (expected %s and %s)"
                                    % (path, sym_path, params_path))
    try:
        return mx.gluon.SymbolBlock.imports(sym_path, [input_name], params_path, ctx=ctx)
    except (AssertionError, mx.base.MXNetError, ValueError) as err:
        raise ValueError("%s and %s are not a matching symbol/params pair: %s"
                         % (sym_path, params_path, str(err).strip().splitlines()[0])) from None
