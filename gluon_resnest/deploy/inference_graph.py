"""Fast CPU inference: inference-only graph choices and the oneDNN-fused graph (conv + BN + ReLU + residual add
fused, BN folded)."""
import mxnet as mx

from ..nn import set_drop_prob, use_pooled_descriptor

__all__ = ["prepare_for_inference", "fuse_for_cpu"]


def prepare_for_inference(net):
    """Switch ``net`` to its inference graph; returns ``net``.

    DropBlock off (inference never applies it, so its ops leave the graph) and split-attention descriptors from
    pooled radix maps (:func:`~gluon_resnest.nn.use_pooled_descriptor`). Outputs are unchanged up to float32
    rounding; the graph stays trainable, only slower to train than the default one.
    """
    set_drop_prob(net, 0.0)
    use_pooled_descriptor(net)
    return net


def fuse_for_cpu(net, data_shape, ctx=mx.cpu(), dtype="float32"):
    """Partition ``net`` with MXNet's oneDNN (MKLDNN) backend for static-shape inference; returns ``net``.

    Applies :func:`prepare_for_inference` first. Outputs equal the plain graph's up to float32 rounding;
    ``export()`` afterwards writes the fused symbol (loadable by any oneDNN-enabled MXNet build).
    """
    prepare_for_inference(net)
    net.optimize_for(mx.nd.zeros(data_shape, ctx=ctx, dtype=dtype), backend="MKLDNN", static_alloc=True,
                     static_shape=True)
    return net
