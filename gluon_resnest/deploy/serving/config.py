"""What a model archive serves and how: ``serving.json`` beside the export's files in the archive."""
import dataclasses
import json
import os
from typing import Optional

from ...utils.options import Range, check_settings, option
from ..runtime_rule import RuntimeRequest
from .images import ImageLimits

__all__ = ["ServingConfig", "CONFIG_NAME", "DEFAULT_TOPK"]

#: The archive member holding the configuration.
CONFIG_NAME = "serving.json"
#: Classes answered when a request names no ``topk``.
DEFAULT_TOPK = 5


@dataclasses.dataclass(frozen=True)
class ServingConfig:
    """``model``: the base name of the file served, as ``scripts/predict.py`` takes it (``PREFIX`` for
    symbol/params, ``PREFIX-int8``, ``PREFIX.onnx``, ``PREFIX-int8.onnx``); ``runtime`` and ``precision``: the
    :class:`~gluon_resnest.deploy.runtime_rule.RuntimeRequest` passed to
    :class:`~gluon_resnest.deploy.classifier.ExportedClassifier` (``None``: the rule's defaults); ``topk``: classes
    per answer unless the request says; ``limits``: :class:`~.images.ImageLimits`; ``meta_sha1``: the sha1 of the
    export's ``PREFIX-meta.json`` (its manifest, which lists the sha1 of every other file and holds the class
    names), recorded when the archive is packaged and checked when it loads."""
    model: str
    runtime: Optional[str] = None
    precision: Optional[str] = None
    topk: int = option(DEFAULT_TOPK, "classes per answer when a request names none", bounds=Range(1))
    limits: ImageLimits = dataclasses.field(default_factory=ImageLimits)
    meta_sha1: Optional[str] = None

    def __post_init__(self):
        if not isinstance(self.model, str) or not self.model or os.path.basename(self.model) != self.model:
            raise ValueError("model must be a file name inside the archive, got %r" % (self.model,))
        RuntimeRequest(self.runtime, self.precision)
        check_settings(self)
        if not isinstance(self.limits, ImageLimits):
            raise ValueError("limits must be ImageLimits, got %r" % (self.limits,))

    def model_path(self, model_dir):
        return os.path.join(model_dir, self.model)

    def as_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(data["model"], data.get("runtime"), data.get("precision"), data.get("topk", DEFAULT_TOPK),
                   ImageLimits(**data.get("limits", {})), data.get("meta_sha1"))

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
