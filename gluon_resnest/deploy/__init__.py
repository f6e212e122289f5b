"""Deployment: inference-graph preparation, oneDNN fusion and batch-norm folding, symbol/params export, ONNX, INT8,
an export's file set (:class:`Export`) and the rule of which member runs in which runtime (:func:`choose_runtime`),
the exported classifier, and the one-call export used by ``scripts/export.py``."""
from .classifier import ExportedClassifier, class_names_for
from .deployment import ExportOptions, export_deployment
from .export import Preprocess, WithPreprocess, export_model, load_exported
from .export_files import Export
from .inference_graph import fuse_for_cpu, prepare_for_inference
from .runtime_rule import RuntimeRequest, choose_runtime

__all__ = ["ExportedClassifier", "class_names_for", "ExportOptions", "export_deployment", "Preprocess",
           "WithPreprocess", "export_model", "load_exported", "Export", "RuntimeRequest", "choose_runtime",
           "fuse_for_cpu", "prepare_for_inference"]
