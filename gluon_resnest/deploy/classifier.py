"""Classify image files with an exported model: symbol/params (FP32 or INT8) or ONNX."""

import mxnet as mx
import numpy as np

from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from ..data.config import resolve_data_config
from ..utils.errors import OptionError
from .export import export_prefix, load_exported, meta_path, read_meta, verify_files
from .onnx_export import onnx_session, run_onnx

__all__ = ["ExportedClassifier", "ExportInput", "class_names_for", "onnx_runner", "RUNTIMES"]


def class_names_for(meta, classes):
    """Names from the export's metadata, ImageNet names for 1000 classes, else ``class N``."""
    if meta and meta.get("class_names"):
        return list(meta["class_names"])
    if classes == IMAGENET1K_CLASSES:
        return list(imagenet1k_names()["classes_long"])
    return ["class %d" % i for i in range(classes)]


class ExportInput:
    """One HWC uint8 image -> one input of an export: HWC uint8 ``(S, S, 3)`` crop when the preprocessing is baked
    in, else normalized CHW float32 ``(3, S, S)`` (``transform``: the export's eval transform, from its data config)."""

    def __init__(self, transform, preprocessed):
        self.transform, self.preprocessed = transform, preprocessed

    def __call__(self, img):
        if self.preprocessed:
            return self.transform.crop(img).asnumpy().astype("uint8")
        return self.transform(img).astype("float32")


RUNTIMES = ("onnxruntime", "openvino")


def onnx_runner(path, runtime=None, precision="f32"):
    """``(runtime, run)`` for the ONNX file ``path``: ``run(batch)`` returns the first output as a numpy array.
    ``runtime`` is "onnxruntime" or "openvino" (at ``precision`` outside the INT8 operators); ``None`` takes
    OpenVINO when it is installed, else onnxruntime."""
    from .openvino_runtime import OpenVinoUnavailable, compile_onnx, run_compiled

    if runtime in ("openvino", None):
        try:
            compiled = compile_onnx(path, precision)
            return "openvino", lambda batch: run_compiled(compiled, batch)
        except OpenVinoUnavailable:
            if runtime == "openvino":
                raise
    session = onnx_session(path)
    return "onnxruntime", lambda batch: run_onnx(path, batch, session)


class ExportedClassifier:
    """Load ``path`` (an export prefix, its ``PREFIX.onnx`` or its INT8 ``PREFIX-int8.onnx``) and classify HWC
    uint8 images.

    A ``.onnx`` file runs in ``runtime`` ("onnxruntime" or "openvino"; by default onnxruntime, and for
    ``PREFIX-int8.onnx`` checked in OpenVINO, OpenVINO when it is installed); OpenVINO uses ``precision`` ("f32"
    or "bf16") for what is not INT8, by default bf16 for ``PREFIX.onnx`` when the export was checked in bf16
    (``scripts/export.py --bf16``), else f32.

    The input layout, size and dtype and the eval transform (:attr:`data_config`: size, crop, interpolation,
    mean/std) come from ``{prefix}-meta.json`` written at export time; the files it lists must be present with their
    sha1 (:class:`~gluon_resnest.deploy.export.ExportMismatchError` otherwise).
    """

    def __init__(self, path, ctx=mx.cpu(), runtime=None, precision=None):
        self.path, self.onnx = path, path.endswith(".onnx")
        if runtime not in RUNTIMES + (None,):
            raise ValueError("runtime must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
        if (runtime == "openvino" or precision) and not self.onnx:
            raise OptionError("{runtime} openvino and {precision} run an ONNX file; give PREFIX.onnx, not %s" % path)
        prefix = export_prefix(path)
        self.meta = read_meta(prefix)
        if self.meta is None:
            raise FileNotFoundError("%s is missing: export with scripts/export.py, which writes it (an export "
                                    "interrupted while publishing has none)" % meta_path(prefix))
        verify_files(prefix, self.meta, [path] if self.onnx else [])
        self.shape = tuple(self.meta["input_shape"])
        self.preprocessed = self.meta["preprocessed"]
        self.data_config = resolve_data_config(self.meta)
        self.transform = self.data_config.eval_transform()
        self.input = ExportInput(self.transform, self.preprocessed)
        if self.onnx:
            int8 = prefix != path[:-len(".onnx")]
            checked = self.meta.get("int8_onnx" if int8 else "bf16") or {}
            if runtime is None and not (int8 and checked.get("runtime") == "openvino"):
                runtime = "onnxruntime"
            if precision and runtime == "onnxruntime":
                raise OptionError("{precision} applies to {runtime} openvino")
            precision_used = precision or ("bf16" if checked and not int8 else "f32")
            self.runtime, self._run_onnx = onnx_runner(path, runtime, precision_used)
            if precision and self.runtime != "openvino":
                raise OptionError("{precision} applies to OpenVINO, which is not installed")
            self.precision = precision_used if self.runtime == "openvino" else "f32"
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
