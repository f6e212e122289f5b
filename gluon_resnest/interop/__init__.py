"""Interoperability: GluonCV integration (our ResNeSt behind GluonCV's names, builders and store; GluonCV's import
next to a modern torch) and PyTorch: :mod:`.torch_export` writes our weights for timm and the official ``resnest``
package (no torch needed), :mod:`.torch_convert` converts PyTorch checkpoints into ours and builds the PyTorch
reference models, :mod:`.torch_names` maps the parameter names between them.

:mod:`.torch_convert` imports torch, timm or safetensors only when called; :mod:`.torch_export` imports safetensors
only when writing.
"""
from .gluoncv import gluoncv_original, import_gluoncv, install, uninstall

__all__ = ["import_gluoncv", "gluoncv_original", "install", "uninstall"]
