"""Interoperability: GluonCV's import next to a modern torch, PyTorch checkpoint conversion and references.

The PyTorch modules (:mod:`.torch_convert`, :mod:`.torch_reference`) import torch, timm or safetensors only when
called.
"""
from .gluoncv import import_gluoncv

__all__ = ["import_gluoncv"]
