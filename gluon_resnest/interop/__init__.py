"""Interoperability: GluonCV integration (our ResNeSt behind GluonCV's names and builders, GluonCV's import next to
a modern torch), PyTorch checkpoint conversion checked against the PyTorch models.

:mod:`.torch_convert` imports torch, timm or safetensors only when called.
"""
from .gluoncv import gluoncv_original, import_gluoncv, install, uninstall

__all__ = ["import_gluoncv", "gluoncv_original", "install", "uninstall"]
