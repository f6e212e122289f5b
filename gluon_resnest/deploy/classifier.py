"""Classify image files with an exported model: symbol/params (FP32 or INT8) or ONNX."""
import os

import mxnet as mx
import numpy as np

from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from ..data.transforms import eval_transform_at
from .export import load_exported, meta_path, read_meta
from .onnx_export import onnx_session, run_onnx

__all__ = ["ExportedClassifier", "ExportInput", "class_names_for"]


def class_names_for(meta, classes):
    """Names from the export's metadata, ImageNet names for 1000 classes, else ``class N``."""
    if meta and meta.get("class_names"):
        return list(meta["class_names"])
    if classes == IMAGENET1K_CLASSES:
        return list(imagenet1k_names()["classes_long"])
    return ["class %d" % i for i in range(classes)]


class ExportInput:
    """One HWC uint8 image -> one input of an export: HWC uint8 ``(S, S, 3)`` crop when the preprocessing is baked
    in, else normalized CHW float32 ``(3, S, S)`` (``transform``: its :class:`~gluon_resnest.data.EvalTransform`)."""

    def __init__(self, transform, preprocessed):
        self.transform, self.preprocessed = transform, preprocessed

    def __call__(self, img):
        if self.preprocessed:
            return self.transform.crop(img).asnumpy().astype("uint8")
        return self.transform(img).astype("float32")


class ExportedClassifier:
    """Load ``path`` (an export prefix or a ``.onnx`` file) and classify HWC uint8 images.

    The input layout, size and dtype come from ``{prefix}-meta.json`` written at export time.
    """

    def __init__(self, path, ctx=mx.cpu()):
        self.path, self.onnx = path, path.endswith(".onnx")
        prefix = path[:-5] if self.onnx else path
        self.meta = read_meta(prefix)
        if self.meta is None:
            raise FileNotFoundError("%s is missing: export with scripts/export.py, which writes it" % meta_path(prefix))
        self.shape = tuple(self.meta["input_shape"])
        self.preprocessed = self.meta["preprocessed"]
        size = self.shape[1] if self.preprocessed else self.shape[2]
        self.transform = eval_transform_at(size, self.meta["mean"], self.meta["std"])
        self.input = ExportInput(self.transform, self.preprocessed)
        if self.onnx:
            if not os.path.isfile(path):
                raise FileNotFoundError("ONNX file %s is missing" % path)
            self.session = onnx_session(path)
        else:
            self.block = load_exported(prefix, ctx)
        self.ctx = ctx


    def run(self, batch):
        """Raw outputs for an already preprocessed batch in the export's layout; checks the shape first."""
        expected = self.shape[1:]
        if tuple(batch.shape[1:]) != tuple(expected):
            raise ValueError("this export takes input (N, %s) in %s layout, got shape %s"
                             % (", ".join(map(str, expected)), self.meta["layout"], tuple(batch.shape)))
        if self.onnx:
            return run_onnx(self.path, batch, self.session)
        return self.block(mx.nd.array(batch, ctx=self.ctx, dtype=batch.dtype)).asnumpy()

    def logits(self, images):
        """``(N, classes)`` logits for a list of HWC uint8 NDArrays (batch padded to a static export batch)."""
        return self.batch_logits(np.stack([self.input(img) for img in images]))

    def batch_logits(self, batch):
        """``(N, classes)`` logits for a batch of :attr:`input` outputs, any ``N`` (run in export-batch chunks)."""
        fixed = self.shape[0]
        outputs = []
        for start in range(0, len(batch), fixed):
            chunk = batch[start:start + fixed]
            count = len(chunk)
            if count < fixed and not self.onnx:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - count, axis=0)])
            outputs.append(self.run(chunk)[:count])
        return np.concatenate(outputs)
