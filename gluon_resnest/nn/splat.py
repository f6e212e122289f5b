"""Split-Attention convolution (ResNeSt, arXiv 2004.08955, section 3)."""
from mxnet.gluon import nn
from mxnet.gluon.nn import HybridBlock

from .block_tree import clear_cached_graphs, iter_blocks
from .mode_graphs import training_graph

__all__ = ["SplitAttentionConv", "attention_channels", "use_pooled_descriptor"]


def attention_channels(channels, radix, reduction=4, minimum=32):
    """Width of the attention bottleneck: ``max(channels * radix // reduction, minimum)``."""
    return max(channels * radix // reduction, minimum)


class SplitAttentionConv(HybridBlock):
    """Grouped KxK convolution over ``radix * cardinality`` groups followed by split attention.

    Input ``(N, in_channels, H, W)``; output ``(N, channels, H', W')``. The grouped convolution produces
    ``radix * channels`` maps in radix-major order (channel ``r * channels + k * channels/K + j``); the attention
    weights are computed from the radix sum, per cardinal group, and used to mix the ``radix`` splits back into
    ``channels`` maps. ``radix == 1`` gives a sigmoid gate (squeeze-excitation with grouped fc layers).

    ``pool_strides`` (an int) adds a 3x3 average pool of that stride (padding 1, padding counted) to the output, as
    ResNeSt's blocks do after this layer (stride 1 where a dilated stage begins): the radix maps are pooled before
    the attention-weighted sum, which is linear in them with spatially constant weights, so the result is the same
    with a quarter of the pixels to mix. ``dropblock`` (a :class:`~gluon_resnest.nn.DropBlock`) is applied to the
    weighted sum before the pool; where it applies (training graphs at a positive rate) the sum is formed at full
    resolution first, as the reference does. ``drop_ratio`` is the dropout rate inside the attention branch.

    Training and inference graphs compute the same function with different operators (see :meth:`_combine`), so a
    hybridized network keeps one graph per mode (:class:`~gluon_resnest.nn.ModeGraphs`).

    Children are created in the enclosing name scope (no scope of their own) so the legacy prefixed parameter
    names of the published Gluon files line up; attribute names give the structural names
    ``conv``, ``bn``, ``fc1``, ``bn1``, ``fc2``.
    """

    def __init__(self, channels, kernel_size, strides=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, radix=2,
                 in_channels=None, reduction_factor=4, norm_layer=nn.BatchNorm, norm_kwargs=None, drop_ratio=0.0,
                 pool_strides=None, dropblock=None, **kwargs):
        super().__init__(**kwargs)
        if radix < 1 or groups < 1:
            raise ValueError("radix and groups (cardinality) must be >= 1, got radix=%r groups=%r" % (radix, groups))
        if channels % groups:
            raise ValueError("channels (%d) must be divisible by the cardinality (%d)" % (channels, groups))
        in_channels = channels if in_channels is None else in_channels
        norm_kwargs = {} if norm_kwargs is None else norm_kwargs
        inter_channels = attention_channels(in_channels, radix, reduction_factor)
        self.radix, self.cardinality, self.channels = radix, groups, channels
        self.conv = nn.Conv2D(channels * radix, kernel_size, strides, padding, dilation, groups=groups * radix,
                              use_bias=False, in_channels=in_channels)
        self.bn = norm_layer(in_channels=channels * radix, **norm_kwargs) if norm_layer is not None else None
        self.relu = nn.Activation("relu")
        self.fc1 = nn.Conv2D(inter_channels, 1, in_channels=channels, groups=groups)
        self.bn1 = norm_layer(in_channels=inter_channels, **norm_kwargs) if norm_layer is not None else None
        self.relu1 = nn.Activation("relu")
        self.drop = nn.Dropout(drop_ratio) if drop_ratio > 0 else None
        self.fc2 = nn.Conv2D(channels * radix, 1, in_channels=inter_channels, groups=groups)
        self.dropblock = dropblock
        self.pool = nn.AvgPool2D(3, pool_strides, padding=1) if pool_strides else None
        self.pooled_descriptor = False

    def hybrid_forward(self, F, x):
        maps, weights = self._maps_and_weights(F, x)
        dropblock_active = self.dropblock is not None and self.dropblock.active()
        if self.pool is not None and not dropblock_active:
            return self._combine(F, self.pool(maps), weights)
        out = self._combine(F, maps, weights)
        if dropblock_active:
            out = self.dropblock(out)
        return out if self.pool is None else self.pool(out)

    def _maps_and_weights(self, F, x):
        """Radix feature maps ``(N, R*C, H', W')`` and their attention weights ``(N, R*C, 1, 1)``.

        The descriptor is the global average of the maps summed over the radix. With ``pooled_descriptor``
        (see :func:`use_pooled_descriptor`) the maps are pooled first and the ``(N, R*C, 1, 1)`` means summed:
        the same number, without a full-size radix sum. Training graphs of radix-1 layers take the mean with
        ``mean`` instead of a global pooling: there the maps come straight from oneDNN's ReLU in its blocked
        layout, on which MXNet 1.9's gradient of a global pooling is slow.
        """
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        x = self.relu(x)
        if self.pooled_descriptor:
            gap = self._radix_sum(F, F.Pooling(x, kernel=(1, 1), global_pool=True, pool_type="avg"))
        elif self.radix == 1 and training_graph():
            gap = F.mean(x, axis=(2, 3), keepdims=True)
        else:
            gap = F.Pooling(self._radix_sum(F, x), kernel=(1, 1), global_pool=True, pool_type="avg")
        gap = self.fc1(gap)
        if self.bn1 is not None:
            gap = self.bn1(gap)
        gap = self.relu1(gap)
        if self.drop is not None:
            gap = self.drop(gap)
        atten = self.fc2(gap)
        if self.radix == 1:
            return x, F.sigmoid(atten)
        return x, self._radix_softmax(F, atten)

    def _combine(self, F, maps, weights):
        """Attention-weighted sum over the radix: ``(N, R*C, H, W)`` maps -> ``(N, C, H, W)``.

        Inference graphs scale each split with ``broadcast_mul`` (``Mul`` in ONNX, fused by oneDNN). Training
        graphs broadcast the ``(N, C, 1, 1)`` weights to the split's shape (``broadcast_like``) and multiply
        elementwise: the same products, without ``broadcast_mul``'s backward pass, whose reduction of the
        weights' gradient is MXNet 1.9's slowest CPU kernel in this layer (docs/performance.md).
        """
        if training_graph():
            scale = lambda w, s: s * F.broadcast_like(w, s)  # noqa: E731
        else:
            scale = F.broadcast_mul
        if self.radix == 1:
            return scale(weights, maps)
        return F.add_n(*[scale(w, s) for w, s in zip(self._splits(F, weights), self._splits(F, maps))])

    def _splits(self, F, x):
        """``(N, R*C, ...)`` -> ``R`` slices ``(N, C, ...)`` along the channel axis.

        Inference graphs use ``slice_axis``: MXNet's ONNX exporter writes ``split`` as a ``Split`` node that
        opsets >= 18 reject, while ``slice_axis`` becomes ``Slice`` at every opset. Training graphs use one
        ``split``, whose backward is one concatenation instead of a zero-filled gradient per slice.
        """
        if self.radix == 1:
            return [x]
        if training_graph():
            return list(F.split(x, num_outputs=self.radix, axis=1))
        return [F.slice_axis(x, axis=1, begin=r * self.channels, end=(r + 1) * self.channels)
                for r in range(self.radix)]

    def _radix_sum(self, F, x):
        """``(N, R*C, H, W)`` -> ``(N, C, H, W)``: the sum of the ``radix`` channel splits."""
        return F.add_n(*self._splits(F, x)) if self.radix > 1 else x

    def _radix_softmax(self, F, atten):
        """``(N, R*C, 1, 1)`` cardinal-major logits -> radix-major softmax weights of the same shape."""
        if self.cardinality > 1:
            atten = F.swapaxes(F.reshape(atten, (0, self.cardinality, self.radix, -1)), 1, 2)
        else:
            atten = F.reshape(atten, (0, self.radix, -1))
        atten = F.softmax(atten, axis=1)
        return F.reshape(atten, (0, -1, 1, 1))


def use_pooled_descriptor(block, enabled=True):
    """Switch every :class:`SplitAttentionConv` inside ``block`` to pooling its radix maps before summing them
    for the attention descriptor (``sum_r mean(x_r)`` instead of ``mean(sum_r x_r)``, equal up to rounding).

    For inference graphs, where oneDNN pools the convolution output in its own blocked layout; training graphs
    keep the default order (docs/performance.md#where-the-speed-comes-from, item 6, says why). Cached
    graphs are dropped; returns the number of layers switched.
    """
    layers = list(iter_blocks(block, SplitAttentionConv))
    for layer in layers:
        layer.pooled_descriptor = bool(enabled)
    clear_cached_graphs(block)
    return len(layers)
