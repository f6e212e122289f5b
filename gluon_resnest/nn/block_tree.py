"""Walking a Gluon block tree: find the layers of one type, drop cached graphs after a structural change, copy
parameters between two blocks of the same structure."""
from mxnet.gluon import HybridBlock

__all__ = ["iter_blocks", "clear_cached_graphs", "copy_parameters"]


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


def copy_parameters(source, target, ctx=None):
    """Copy every parameter of ``source`` into ``target`` by structural name (``layer1.0.conv2.fc1.weight``).

    Both blocks must have the same attribute hierarchy (e.g. ours and GluonCV's ResNeSt); returns ``target``.
    """
    targets = target._collect_params_with_prefix()
    for key, param in source._collect_params_with_prefix().items():
        targets[key].set_data(param.data(ctx) if ctx is not None else param.data())
    return target
