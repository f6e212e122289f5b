"""Walking a Gluon block tree: find the layers of one type, drop cached graphs after a structural change."""
from mxnet.gluon import HybridBlock

__all__ = ["iter_blocks", "clear_cached_graphs"]


def iter_blocks(block, cls):
    """Yield every instance of ``cls`` inside ``block``, ``block`` included (depth first)."""
    if isinstance(block, cls):
        yield block
    for child in block._children.values():
        yield from iter_blocks(child, cls)


def clear_cached_graphs(block):
    """Drop the cached graph of ``block`` and of every block inside it, so the next call re-traces."""
    if isinstance(block, HybridBlock):
        block._clear_cached_op()
    for child in block._children.values():
        clear_cached_graphs(child)
