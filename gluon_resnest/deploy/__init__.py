"""Deployment: inference-graph preparation and oneDNN fusion, symbol/params export, ONNX, INT8, the exported
classifier, and the one-call export used by ``scripts/export.py``."""
from .classifier import ExportedClassifier, class_names_for
from .deployment import export_deployment
from .export import Preprocess, WithPreprocess, export_model, load_exported, read_meta
from .inference_graph import fuse_for_cpu, prepare_for_inference

__all__ = ["ExportedClassifier", "class_names_for", "export_deployment", "Preprocess",
           "WithPreprocess", "export_model", "load_exported", "read_meta", "fuse_for_cpu", "prepare_for_inference"]
