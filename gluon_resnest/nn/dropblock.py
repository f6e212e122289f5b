"""DropBlock (Ghiasi et al. 2018) that stays correct under ``hybridize()`` and leaves inference graphs untouched.

Whether a DropBlock layer drops is decided when its graph is traced, from the mode being traced
(:func:`~gluon_resnest.nn.mode_graphs.is_training`):

* inside a :class:`~gluon_resnest.nn.mode_graphs.ModeGraphs` block (the ResNeSt network, or a hybridized
  DropBlock alone), which keeps one graph per mode, the inference graph has no DropBlock op at all and the
  training graph always drops;
* inside a graph some other block traces once for both modes (GluonCV's detection and segmentation networks):
  traced in training, the graph keeps a run-time switch, a ``Dropout`` probe on a constant that MXNet evaluates
  with the *run-time* flag (``|Dropout(1, p=0.5) - 1|`` is 1 in training, 0 in inference), so the same graph is
  right in both modes; traced in inference (``export_block``, ``quantize_net``), the layer is the identity;
* imperatively, the call's own mode decides.

The seed rate gamma comes from the live feature-map shape (``shape_array``), so any resolution works and maps
smaller than the block never divide by zero.
"""
from mxnet import symbol

from .block_tree import clear_cached_graphs, iter_blocks
from .mode_graphs import ModeGraphs, traced_mode, training_graph

__all__ = ["DropBlock", "set_drop_prob", "iter_dropblocks"]


class DropBlock(ModeGraphs):
    """Drop contiguous ``block_size x block_size`` regions of a ``(N, C, H, W)`` map during training.

    ``drop_prob`` is the expected fraction of dropped units; surviving units are rescaled so the expected sum is
    unchanged. In inference the block is the identity and adds no op to the graph, except in a graph traced in
    training by a block that is not a :class:`~gluon_resnest.nn.mode_graphs.ModeGraphs` (see the module
    docstring). ``drop_prob == 0`` skips the block in both modes; change it with :func:`set_drop_prob`, which
    also clears the cached graphs of the enclosing network. Output shape and dtype equal the input's.
    """

    def __init__(self, drop_prob=0.0, block_size=3, **kwargs):
        super().__init__(**kwargs)
        if block_size < 1 or block_size % 2 == 0:
            raise ValueError("DropBlock block_size must be a positive odd number, got %r" % (block_size,))
        self.block_size = block_size
        self.drop_prob = drop_prob
        self._dtype = "float32"

    @property
    def drop_prob(self):
        return self._drop_prob

    @drop_prob.setter
    def drop_prob(self, value):
        value = float(value)
        if not 0.0 <= value < 1.0:
            raise ValueError("DropBlock drop_prob must be in [0, 1), got %r" % (value,))
        self._drop_prob = value

    def __repr__(self):
        return "%s(drop_prob=%g, block_size=%d)" % (type(self).__name__, self._drop_prob, self.block_size)

    def cast(self, dtype):
        """Record the dtype of the feature maps (``None``, as for GluonCV's layer, means float32); the mask is
        built in float32 and cast to it."""
        self._dtype = "float32" if dtype is None else dtype
        super().cast(dtype)

    def active(self):
        """Whether the graph being traced (or the imperative call being run) applies this layer: a positive
        rate and the training mode of :func:`~gluon_resnest.nn.mode_graphs.is_training`."""
        if self._drop_prob == 0.0:
            return False
        return training_graph()

    def hybrid_forward(self, F, x):
        if not self.active():
            return x
        switch = None
        if F is symbol and traced_mode() is None:
            # traced in training by a block that replays the graph in inference too: decide at run time
            switch = F.abs(F.Dropout(F.ones(shape=(1,)), p=0.5) - 1)
        return self._drop(F, x, switch)

    def _drop(self, F, x, switch):
        bs = self.block_size
        shape = F.cast(F.shape_array(x), "float32")
        height = F.slice_axis(shape, axis=0, begin=2, end=3)
        width = F.slice_axis(shape, axis=0, begin=3, end=4)
        valid = F.maximum(height - (bs - 1), 1) * F.maximum(width - (bs - 1), 1)
        gamma = F.clip(self._drop_prob / (bs * bs) * height * width / valid, 0, 1)
        if switch is not None:
            gamma = gamma * switch
        uniform = F.random.uniform_like(F.cast(x, "float32"))
        seeds = F.broadcast_lesser(uniform, F.reshape(gamma, (1, 1, 1, 1)))
        dropped = F.Pooling(seeds, kernel=(bs, bs), stride=(1, 1), pad=(bs // 2, bs // 2), pool_type="max")
        keep = 1 - dropped
        scale = F.cast(F.size_array(keep), "float32") / F.maximum(F.sum(keep), 1)
        if switch is not None:
            scale = 1 + switch * (scale - 1)
        factor = F.broadcast_mul(keep, F.reshape(scale, (1, 1, 1, 1)))
        return x * F.cast(factor, self._dtype)


def iter_dropblocks(block):
    """Yield every :class:`DropBlock` inside ``block`` (depth first)."""
    return iter_blocks(block, DropBlock)


def set_drop_prob(block, drop_prob):
    """Set ``drop_prob`` of every DropBlock inside ``block`` and drop cached graphs so the change takes effect.

    Parameters and hybridization settings are kept; the next forward call re-traces the graph. Returns the number
    of DropBlock layers updated.
    """
    blocks = list(iter_dropblocks(block))
    for db in blocks:
        db.drop_prob = drop_prob
    clear_cached_graphs(block)
    return len(blocks)
