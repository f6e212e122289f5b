"""Interoperability: GluonCV integration (our ResNeSt behind GluonCV's names and builders, GluonCV's import next to
a modern torch), PyTorch checkpoint conversion and references.

The PyTorch modules (:mod:`.torch_convert`, :mod:`.torch_reference`) import torch, timm or safetensors only when
called.
"""
from .gluoncv import gluoncv_original, import_gluoncv, install, uninstall

__all__ = ["import_gluoncv", "gluoncv_original", "install", "uninstall"]
