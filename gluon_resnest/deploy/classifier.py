"""Classify image files with an exported model: symbol/params (FP32 or INT8) or ONNX, in the fastest runtime the
export allows."""

import os

import mxnet as mx
import numpy as np

from ..data.config import resolve_data_config
from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from ..utils.errors import OptionError
from .export import ONNX_SUFFIXES, export_prefix, load_exported, meta_path, read_meta, verify_files
from .onnx_export import onnx_session, run_onnx

__all__ = ["ExportedClassifier", "ExportInput", "class_names_for", "top_classes", "onnx_runner", "RUNTIMES"]


def class_names_for(meta, classes):
    """Names from the export's metadata, ImageNet names for 1000 classes, else ``class N``."""
    if meta and meta.get("class_names"):
        return list(meta["class_names"])
    if classes == IMAGENET1K_CLASSES:
        return list(imagenet1k_names()["classes_long"])
    return ["class %d" % i for i in range(classes)]


def top_classes(logits, k):
    """``(indices, probabilities)`` of the ``k`` most probable classes of one ``(classes,)`` logit row, most
    probable first (softmax in float64, ties in class order); ``probabilities`` covers every class."""
    row = np.asarray(logits, np.float64)
    prob = np.exp(row - row.max())
    prob /= prob.sum()
    return np.argsort(-prob, kind="stable")[:k], prob


class ExportInput:
    """One HWC uint8 image -> one input of an export: HWC uint8 ``(S, S, 3)`` crop when the preprocessing is baked
    in, else normalized CHW float32 ``(3, S, S)`` (``transform``: the export's eval transform, from its data config)."""

    def __init__(self, transform, preprocessed):
        self.transform, self.preprocessed = transform, preprocessed

    def __call__(self, img):
        if self.preprocessed:
            return self.transform.crop(img).asnumpy().astype("uint8")
        return self.transform(img).astype("float32")


#: ``--runtime`` choices: the ONNX runtimes, and MXNet for the symbol/params files.
RUNTIMES = ("openvino", "onnxruntime", "mxnet")


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


def _onnx_file(path, prefix, meta, runtime):
    """The ONNX file to run for ``path`` and a forced ``runtime``, or ``None`` for the symbol/params files.

    A ``.onnx`` path is run as given; a float32 export prefix runs its ``PREFIX.onnx`` when the export has one,
    unless ``runtime`` is "mxnet"; an INT8 prefix runs its own MXNet INT8 files."""
    if path.endswith(".onnx"):
        if runtime == "mxnet":
            raise OptionError("{runtime} mxnet runs the symbol/params files: give the export prefix %s, not %s"
                              % (prefix, path))
        return path
    onnx = prefix + ONNX_SUFFIXES[0]
    has_onnx = os.path.basename(onnx) in (meta.get("files") or {}) and not meta.get("int8")
    if runtime in ("openvino", "onnxruntime") and not has_onnx:
        raise OptionError("{runtime} %s runs an ONNX file and %s has none; give PREFIX.onnx of an export made with "
                          "an ONNX file" % (runtime, prefix))
    return onnx if has_onnx and runtime != "mxnet" else None


class ExportedClassifier:
    """Load ``path`` (an export prefix, its ``PREFIX.onnx`` or its INT8 ``PREFIX-int8.onnx``) and classify HWC
    uint8 images, in the fastest runtime the export's files allow unless ``runtime`` forces one.

    ``runtime`` is "openvino", "onnxruntime" or "mxnet" (the symbol/params files). By default a float32 export
    runs its ONNX file when it has one (``PREFIX`` or ``PREFIX.onnx``), in OpenVINO when it is installed, else in
    onnxruntime, and otherwise its symbol/params files (oneDNN-fused when exported with ``--fuse``); an INT8
    prefix runs its MXNet INT8 files, and ``PREFIX-int8.onnx`` runs in the runtime the export checked it in
    (OpenVINO, when installed and checked there, else onnxruntime). OpenVINO uses ``precision`` ("f32" or
    "bf16") for what is not INT8, by default bf16 for ``PREFIX.onnx`` when the export was checked in bf16
    (``scripts/export.py --bf16``), else f32. :attr:`runtime` is the runtime chosen and :attr:`description`
    says what it runs.

    The input layout, size and dtype and the eval transform (:attr:`data_config`: size, crop, interpolation,
    mean/std) come from ``{prefix}-meta.json`` written at export time; the files it lists must be present with their
    sha1 (:class:`~gluon_resnest.deploy.export.ExportMismatchError` otherwise).
    """

    def __init__(self, path, ctx=mx.cpu(), runtime=None, precision=None):
        self.path = path
        if runtime not in RUNTIMES + (None,):
            raise ValueError("runtime must be one of %s, got %r" % (", ".join(RUNTIMES), runtime))
        prefix = export_prefix(path)
        self.meta = read_meta(prefix)
        if self.meta is None:
            raise FileNotFoundError("%s is missing: export with scripts/export.py, which writes it (an export "
                                    "interrupted while publishing has none)" % meta_path(prefix))
        onnx = _onnx_file(path, prefix, self.meta, runtime)
        if precision and onnx is None:
            raise OptionError("{precision} applies to {runtime} openvino, which runs an ONNX file; give PREFIX.onnx, "
                              "not %s" % path)
        verify_files(prefix, self.meta, [onnx] if onnx else [])
        self.onnx = onnx
        self.shape = tuple(self.meta["input_shape"])
        self.preprocessed = self.meta["preprocessed"]
        self.data_config = resolve_data_config(self.meta)
        self.transform = self.data_config.eval_transform()
        self.input = ExportInput(self.transform, self.preprocessed)
        if onnx:
            int8 = prefix != onnx[:-len(".onnx")]
            checked = self.meta.get("int8_onnx" if int8 else "bf16") or {}
            if runtime is None and int8 and checked.get("runtime") != "openvino":
                runtime = "onnxruntime"
            if precision and runtime == "onnxruntime":
                raise OptionError("{precision} applies to {runtime} openvino")
            precision_used = precision or ("bf16" if checked and not int8 else "f32")
            self.runtime, self._run_onnx = onnx_runner(onnx, runtime, precision_used)
            if precision and self.runtime != "openvino":
                raise OptionError("{precision} applies to OpenVINO, which is not installed")
            self.precision = precision_used if self.runtime == "openvino" else "f32"
            self.description = "%s %s, %s" % (self.runtime, "int8" if int8 else self.precision,
                                              os.path.basename(onnx))
        else:
            self.block = load_exported(prefix, ctx)
            self.runtime, self.precision = "mxnet", "int8" if self.meta.get("int8") else "f32"
            self.description = "mxnet %s, %s%s symbol/params" % (
                self.precision, os.path.basename(prefix), " oneDNN-fused" if self.meta.get("fused") else "")
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
        """``(N, classes)`` logits for a batch of :attr:`input` outputs, any ``N`` (the symbol/params files run in
        chunks of the export's batch size, an ONNX file, whose batch dimension is dynamic, in one go)."""
        fixed = max(len(batch), 1) if self.onnx else self.shape[0]
        outputs = []
        for start in range(0, len(batch), fixed):
            chunk = batch[start:start + fixed]
            count = len(chunk)
            if count < fixed and not self.onnx:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - count, axis=0)])
            outputs.append(self.run(chunk)[:count])
        return np.concatenate(outputs)
