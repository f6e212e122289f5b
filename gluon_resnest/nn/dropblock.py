"""DropBlock (Ghiasi et al. 2018) that stays correct under ``hybridize()``.

The earlier Gluon ports branch on ``autograd.is_training()`` in Python, so the cached graph keeps whichever branch
was traced first, and they fix the mask shape at construction. Here both decisions are taken inside the graph:

* the train/eval switch comes from a ``Dropout`` probe on a constant, which MXNet evaluates with the *runtime*
  training flag: ``|Dropout(1, p=0.5) - 1|`` is exactly 1 in training (outputs 0 or 2) and 0 in inference;
* the seed rate gamma is computed from the live feature-map shape (``shape_array``), so any resolution works and
  maps smaller than the block never divide by zero.
"""
from mxnet.gluon import HybridBlock

from .block_tree import clear_cached_graphs, iter_blocks

__all__ = ["DropBlock", "set_drop_prob", "iter_dropblocks"]


class DropBlock(HybridBlock):
    """Drop contiguous ``block_size x block_size`` regions of a ``(N, C, H, W)`` map during training.

    ``drop_prob`` is the expected fraction of dropped units; surviving units are rescaled so the expected sum is
    unchanged. In inference the block is the identity. ``drop_prob == 0`` skips the block entirely (no ops in the
    graph); change it with :func:`set_drop_prob`, which also clears the cached graph of the enclosing network.
    Output shape equals input shape.
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

    def cast(self, dtype):
        """Record the dtype of the feature maps; the mask is built in float32 and cast to it."""
        self._dtype = dtype
        super().cast(dtype)

    def hybrid_forward(self, F, x):
        if self._drop_prob == 0.0:
            return x
        bs = self.block_size
        is_training = F.abs(F.Dropout(F.ones(shape=(1,)), p=0.5) - 1)
        shape = F.cast(F.shape_array(x), "float32")
        height = F.slice_axis(shape, axis=0, begin=2, end=3)
        width = F.slice_axis(shape, axis=0, begin=3, end=4)
        valid = F.maximum(height - (bs - 1), 1) * F.maximum(width - (bs - 1), 1)
        gamma = F.clip(self._drop_prob / (bs * bs) * height * width / valid, 0, 1) * is_training
        uniform = F.random.uniform_like(F.cast(x, "float32"))
        seeds = F.broadcast_lesser(uniform, F.reshape(gamma, (1, 1, 1, 1)))
        dropped = F.Pooling(seeds, kernel=(bs, bs), stride=(1, 1), pad=(bs // 2, bs // 2), pool_type="max")
        keep = 1 - dropped
        scale = F.cast(F.size_array(keep), "float32") / F.maximum(F.sum(keep), 1)
        scale = 1 + is_training * (scale - 1)
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
