"""Classify image files with an exported model: symbol/params (FP32 or INT8) or ONNX."""
import os

import mxnet as mx
import numpy as np

from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from ..data.transforms import eval_transform_at
from .export import INT8_ONNX_SUFFIXES, export_prefix, load_exported, meta_path, read_meta, verify_files
from .onnx_export import onnx_session, run_onnx

__all__ = ["ExportedClassifier", "ExportInput", "class_names_for", "RUNTIMES"]


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


RUNTIMES = ("onnxruntime", "openvino")


class ExportedClassifier:
    """Load ``path`` (an export prefix, its ``PREFIX.onnx`` or its INT8 ``PREFIX-int8.onnx``) and classify HWC
    uint8 images.

    A ``.onnx`` file runs in ``runtime`` ("onnxruntime" or "openvino"); OpenVINO uses ``precision`` ("f32" or
    "bf16") for what is not INT8, by default bf16 for ``PREFIX.onnx`` when the export was checked in bf16
    (``scripts/export.py --bf16``), else f32.

    The input layout, size and dtype come from ``{prefix}-meta.json`` written at export time; the files it lists
    must be present with their sha1 (:class:`~gluon_resnest.deploy.export.ExportMismatchError` otherwise).
    """

    def __init__(self, path, ctx=mx.cpu(), runtime="onnxruntime", precision=None):
        self.path, self.onnx = path, path.endswith(".onnx")
        if runtime not in RUNTIMES:
            raise ValueError("runtime must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
        if (runtime != "onnxruntime" or precision) and not self.onnx:
            raise ValueError("--runtime openvino and --precision run an ONNX file; give PREFIX.onnx, not %s" % path)
        if precision and runtime != "openvino":
            raise ValueError("--precision applies to --runtime openvino")
        prefix = export_prefix(path)
        self.meta = read_meta(prefix)
        if self.meta is None:
            raise FileNotFoundError("%s is missing: export with scripts/export.py, which writes it (an export "
                                    "interrupted while publishing has none)" % meta_path(prefix))
        verify_files(prefix, self.meta, [path] if self.onnx else [])
        self.shape = tuple(self.meta["input_shape"])
        self.preprocessed = self.meta["preprocessed"]
        size = self.shape[1] if self.preprocessed else self.shape[2]
        self.transform = eval_transform_at(size, self.meta["mean"], self.meta["std"])
        self.input = ExportInput(self.transform, self.preprocessed)
        if self.onnx:
            if not os.path.isfile(path):
                raise FileNotFoundError("ONNX file %s is missing" % path)
            if runtime == "openvino":
                from .openvino_runtime import compile_onnx, run_compiled

                checked_bf16 = self.meta.get("bf16") and not path.endswith(INT8_ONNX_SUFFIXES[0])
                precision = precision or ("bf16" if checked_bf16 else "f32")
                compiled = compile_onnx(path, precision)
                self._run_onnx = lambda batch: run_compiled(compiled, batch)
            else:
                session = onnx_session(path)
                self._run_onnx = lambda batch: run_onnx(path, batch, session)
            self.runtime, self.precision = runtime, precision or "f32"
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
            return self._run_onnx(batch)
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
