"""Fast CPU inference: the oneDNN-fused graph (convolution + BN + ReLU + residual add fused, BN folded)."""
import mxnet as mx

from .nn import set_drop_prob

__all__ = ["fuse_for_cpu"]


def fuse_for_cpu(net, data_shape, ctx=mx.cpu(), dtype="float32"):
    """Partition ``net`` with MXNet's oneDNN (MKLDNN) backend for static-shape inference; returns ``net``.

    DropBlock is switched off first (inference never applies it). Outputs equal the plain graph's up to float32
    rounding; ``export()`` afterwards writes the fused symbol (loadable by any oneDNN-enabled MXNet build).
    """
    set_drop_prob(net, 0.0)
    net.optimize_for(mx.nd.zeros(data_shape, ctx=ctx, dtype=dtype), backend="MKLDNN", static_alloc=True,
                     static_shape=True)
    return net
