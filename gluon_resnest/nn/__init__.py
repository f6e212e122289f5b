"""Layers of ResNeSt: the split-attention convolution and a hybridize-safe DropBlock."""
from .dropblock import DropBlock, iter_dropblocks, set_drop_prob
from .splat import SplitAttentionConv, attention_channels, use_pooled_descriptor

__all__ = ["SplitAttentionConv", "attention_channels", "DropBlock", "set_drop_prob", "iter_dropblocks",
           "use_pooled_descriptor"]
