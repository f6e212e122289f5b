"""Layers of ResNeSt: the split-attention convolution, a hybridize-safe DropBlock, per-mode cached graphs,
block-tree helpers."""
from .block_tree import clear_cached_graphs, copy_parameters, iter_blocks
from .dropblock import DropBlock, iter_dropblocks, set_drop_prob
from .mode_graphs import ModeGraphs
from .splat import SplitAttentionConv, attention_channels, use_pooled_descriptor

__all__ = ["SplitAttentionConv", "attention_channels", "DropBlock", "set_drop_prob", "iter_dropblocks",
           "use_pooled_descriptor", "iter_blocks", "clear_cached_graphs", "copy_parameters",
           "ModeGraphs"]
