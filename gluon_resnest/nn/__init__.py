"""Layers of ResNeSt: the split-attention convolution, a hybridize-safe DropBlock, block-tree helpers."""
from .block_tree import clear_cached_graphs, copy_parameters, iter_blocks
from .dropblock import DropBlock, iter_dropblocks, set_drop_prob
from .splat import SplitAttentionConv, attention_channels, use_pooled_descriptor

__all__ = ["SplitAttentionConv", "attention_channels", "DropBlock", "set_drop_prob", "iter_dropblocks",
           "use_pooled_descriptor", "iter_blocks", "clear_cached_graphs", "copy_parameters"]
