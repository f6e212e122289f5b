"""What a model archive serves and how: ``serving.json`` beside the export's files in the archive."""
import json
import os

from ..runtime_rule import RUNTIMES
from ..openvino_runtime import PRECISIONS
from .images import ImageLimits

__all__ = ["ServingConfig", "CONFIG_NAME", "DEFAULT_TOPK"]

#: The archive member holding the configuration.
CONFIG_NAME = "serving.json"
#: Classes answered when a request names no ``topk``.
DEFAULT_TOPK = 5


class ServingConfig:
    """``model``: the base name of the file served, as ``scripts/predict.py`` takes it (``PREFIX`` for
    symbol/params, ``PREFIX-int8``, ``PREFIX.onnx``, ``PREFIX-int8.onnx``); ``runtime`` and ``precision``: passed
    to :class:`~gluon_resnest.deploy.classifier.ExportedClassifier` (``None``: its defaults); ``topk``: classes
    per answer unless the request says; ``limits``: :class:`~.images.ImageLimits`."""

    def __init__(self, model, runtime=None, precision=None, topk=DEFAULT_TOPK, limits=None):
        if not model or os.path.basename(model) != model:
            raise ValueError("model must be a file name inside the archive, got %r" % (model,))
        if runtime not in RUNTIMES + (None,):
            raise ValueError("runtime must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
        if precision not in PRECISIONS + (None,):
            raise ValueError("precision must be one of %s, got %r" % (", ".join(PRECISIONS), precision))
        if not isinstance(topk, int) or topk < 1:
            raise ValueError("topk must be a positive integer, got %r" % (topk,))
        self.model, self.runtime, self.precision, self.topk = model, runtime, precision, topk
        self.limits = limits or ImageLimits()

    def model_path(self, model_dir):
        return os.path.join(model_dir, self.model)

    def as_dict(self):
        return {"model": self.model, "runtime": self.runtime, "precision": self.precision, "topk": self.topk,
                "limits": self.limits.as_dict()}

    @classmethod
    def from_dict(cls, data):
        return cls(data["model"], data.get("runtime"), data.get("precision"), data.get("topk", DEFAULT_TOPK),
                   ImageLimits(**data.get("limits", {})))

    @classmethod
    def read(cls, model_dir):
        """The configuration of the archive unpacked at ``model_dir``; ``ValueError`` naming the file when it is
        missing or malformed."""
        path = os.path.join(model_dir, CONFIG_NAME)
        try:
            with open(path) as handle:
                return cls.from_dict(json.load(handle))
        except OSError as err:
            raise ValueError("%s cannot be read (%s): package the export with scripts/serve.py package"
                             % (path, err.strerror)) from None
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError("%s is malformed (%s); package the export again" % (path, err)) from None
