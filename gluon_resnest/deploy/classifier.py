"""Classify images with an exported model, in the runtime :func:`~gluon_resnest.deploy.runtime_rule.choose_runtime`
picks for it."""
import os

import mxnet as mx
import numpy as np

from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from .export_files import MEMBER_KINDS, Export
from .runtime_rule import RuntimeRequest, choose_runtime
from .runtimes import InstalledRuntimes, member_runner

__all__ = ["ExportedClassifier", "ExportInput", "class_names_for", "top_classes"]


def class_names_for(meta, classes):
    """Names of the ``classes`` outputs: the export's (``meta``: its
    :class:`~gluon_resnest.deploy.export_meta.ExportMeta`, or ``None``), ImageNet's for 1000 classes, else
    ``class N``."""
    if meta is not None and meta.class_names:
        return list(meta.class_names)
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


class ExportedClassifier:
    """Classify HWC uint8 images with the export ``path`` names (``PREFIX``, ``PREFIX.onnx``, ``PREFIX-int8``,
    ``PREFIX-int8.onnx``), in the runtime the rule picks for ``runtime`` and ``precision``
    (:func:`~gluon_resnest.deploy.runtime_rule.choose_runtime`: by default the fastest the export's files allow).

    :attr:`export` is the opened :class:`~gluon_resnest.deploy.export_files.Export` (its files checked against the
    manifest's sha1s), :attr:`meta` its manifest, :attr:`choice` the rule's answer and :attr:`description` the line
    scripts print (``"openvino bf16, r50.onnx"``). The input layout, size and dtype and the eval transform
    (:attr:`data_config`: size, crop, interpolation, mean/std) come from the manifest.
    """

    def __init__(self, path, ctx=mx.cpu(), runtime=None, precision=None, available=None):
        self.path, self.ctx = path, ctx
        self.export = Export.open(path)
        self.meta = self.export.meta
        request = RuntimeRequest(runtime, precision, member=self.export.designated)
        self.choice = choose_runtime(self.meta.members, request, available or InstalledRuntimes(),
                                     self.export.prefix)
        self.runtime, self.precision = self.choice.runtime, self.choice.precision
        member, kind = self.meta.members[self.choice.member], MEMBER_KINDS[self.choice.member]
        shown = os.path.basename(self.export.files(member.kind)[0]) if kind.format == "onnx" else \
            "%s symbol/params" % os.path.basename(self.export.member_prefix(member.kind))
        self.description = self.choice.describe(kind.precision, shown, member.fused)
        self.shape = self.meta.input_shape(self.choice.member)
        self.data_config = self.meta.data_config
        self.transform = self.data_config.eval_transform()
        self.input = ExportInput(self.transform, self.meta.preprocessed)
        self._run, self._static_batch = member_runner(self.export, self.choice, ctx), member.batch_size

    def run(self, batch):
        """Raw outputs for an already preprocessed batch in the export's layout; checks the shape first (a
        symbol/params member takes exactly its static batch)."""
        expected = self.shape[1:]
        if tuple(batch.shape[1:]) != tuple(expected):
            raise ValueError("this export takes input (N, %s) in %s layout, got shape %s"
                             % (", ".join(map(str, expected)), self.meta.layout, tuple(batch.shape)))
        return self._run(batch)

    def logits(self, images):
        """``(N, classes)`` logits for a list of HWC uint8 NDArrays."""
        return self.batch_logits(np.stack([self.input(img) for img in images]))

    def batch_logits(self, batch):
        """``(N, classes)`` logits for a batch of :attr:`input` outputs, any ``N``: a member with a static batch
        runs in chunks of it (the last one padded), one with a dynamic batch in one go."""
        fixed = self._static_batch or max(len(batch), 1)
        outputs = []
        for start in range(0, len(batch), fixed):
            chunk = batch[start:start + fixed]
            count = len(chunk)
            if count < fixed:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - count, axis=0)])
            outputs.append(self.run(chunk)[:count])
        return np.concatenate(outputs)
