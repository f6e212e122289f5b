"""Top-1/top-5 evaluation of a classifier over a loader (gradient-free), and of a model or an export on a
dataset."""
import dataclasses
import time
from typing import Optional

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..deploy.classifier import ExportedClassifier
from ..deploy.runtime_rule import RuntimeRequest
from ..models.factory import get_model, model_data_config
from ..models.resnest import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from ..utils.errors import OptionError
from ..utils.options import Range, check_settings, option
from .precision import as_float32

__all__ = ["EvalOptions", "count_correct", "evaluate", "evaluate_model", "evaluate_export"]


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What :func:`evaluate_model` and :func:`evaluate_export` score on, and how: the images at ``data``, in batches
    of ``batch_size`` loaded by ``workers`` processes; for a model, ``classes``, ``input_size`` and ``crop_pct``
    override its weights' classifier width and its variant's data config (an export takes them from its
    manifest)."""
    data: Optional[str] = option(None, "validation .rec (with .idx) or image folder", type=str, required=True)
    batch_size: int = option(32, "images per batch", bounds=Range(1))
    workers: int = option(2, "data-loading worker processes (0: load in this process)", bounds=Range(0, 64))
    classes: Optional[int] = option(None, "classifier width (default: that of the weights)", type=int,
                                    bounds=Range(1))
    input_size: Optional[int] = option(None, "eval resolution (default: the variant's published one)", type=int,
                                       flag="--size", bounds=Range(MIN_INPUT_SIZE, MAX_INPUT_SIZE))
    crop_pct: Optional[float] = option(None, "center-crop fraction (default: the variant's)", type=float,
                                       bounds=Range(0, 1, low_open=True))

    def __post_init__(self):
        check_settings(self)

    def model_overrides(self):
        """The options that apply to a model but not to an export (those it takes from its manifest)."""
        return [name for name in ("classes", "input_size", "crop_pct") if getattr(self, name) is not None]


def count_correct(logits, labels, topk=(1, 5)):
    """Number of samples whose label is among the top-k logits, for each k (numpy inputs)."""
    order = np.argsort(-logits, axis=1)
    labels = labels.astype(np.int64).reshape(-1, 1)
    return [int((order[:, :min(k, logits.shape[1])] == labels).any(axis=1).sum()) for k in topk]


def _score(loader, logits_of, progress=False):
    """``{"top1_correct", "top5_correct", "count", "labels_outside", "classes"}`` of ``logits_of(batch NDArray) ->
    numpy (N, classes)``; ``labels_outside`` counts the labels no class of the classifier has (they count as
    wrong)."""
    totals = np.zeros(4, dtype=np.int64)
    classes = 0
    iterator = loader
    if progress:
        from tqdm import tqdm

        iterator = tqdm(loader, desc="eval", unit="batch")
    for data, label in iterator:
        logits = logits_of(data)
        labels = label.asnumpy()
        classes = logits.shape[1]
        top1, top5 = count_correct(logits, labels)
        totals += (top1, top5, logits.shape[0], int(((labels < 0) | (labels >= classes)).sum()))
    return {"top1_correct": int(totals[0]), "top5_correct": int(totals[1]), "count": int(totals[2]),
            "labels_outside": int(totals[3]), "classes": int(classes)}


def evaluate(net, loader, ctx=mx.cpu(), progress=False, dtype="float32"):
    """``{"top1_correct", "top5_correct", "count"}`` over ``loader``; sums, so results combine across ranks."""
    return _score(loader, lambda data: as_float32(net(data.as_in_context(ctx).astype(dtype, copy=False))).asnumpy(),
                  progress)


def _report(model, data, data_config, sums, start, loader):
    return {"model": model, "data": data, "size": data_config.input_size, "data_config": data_config.as_dict(),
            "images": sums["count"], "top1": 100.0 * sums["top1_correct"] / sums["count"],
            "top5": 100.0 * sums["top5_correct"] / sums["count"], "skipped": len(loader.skipped),
            "labels_outside": sums["labels_outside"], "classes": sums["classes"],
            "seconds": round(time.time() - start, 2)}


def evaluate_model(name, weights, options, ctx=mx.cpu(), progress=False):
    """Top-1/top-5 of variant ``name`` with ``weights`` (``True`` for the published ones, or a ``.params`` path)
    as :class:`EvalOptions` ``options`` say, with the variant's data config (``input_size`` and ``crop_pct``
    overriding its fields when given). Returns a dict with ``images``, ``top1``, ``top5`` (%) and the data config
    used."""
    net = get_model(name, pretrained=weights, classes=options.classes, ctx=ctx)
    net.hybridize(static_alloc=True)
    data_config = model_data_config(name, input_size=options.input_size, crop_pct=options.crop_pct)
    loader = make_loader(open_image_dataset(options.data), data_config.eval_transform(), options.batch_size,
                         num_workers=options.workers)
    start = time.time()
    return _report(name, options.data, data_config, evaluate(net, loader, ctx, progress=progress), start, loader)


def evaluate_export(path, options, request=RuntimeRequest(), ctx=mx.cpu(), progress=False):
    """Top-1/top-5 of an export (``PREFIX``, ``PREFIX.onnx``, ``PREFIX-int8``, ``PREFIX-int8.onnx``, read with
    :class:`~gluon_resnest.deploy.classifier.ExportedClassifier`, with its own input transform) on
    ``options.data`` (a ``.rec`` file or image folder; a folder's classes are taken in the export's class-name
    order when it has them), in the runtime the rule picks for ``request``
    (:class:`~gluon_resnest.deploy.runtime_rule.RuntimeRequest`). ``OptionError`` for ``options`` that only apply
    to a model. Returns a dict like :func:`evaluate_model`'s plus ``runtime``, the classifier's
    :attr:`~gluon_resnest.deploy.classifier.ExportedClassifier.description`."""
    if options.model_overrides():
        raise OptionError("an export takes its classes and input size from its manifest; drop %s"
                          % ", ".join("{%s}" % name for name in options.model_overrides()))
    clf = ExportedClassifier(path, ctx, runtime=request.runtime, precision=request.precision)
    loader = make_loader(open_image_dataset(options.data, classes=clf.meta.class_names), clf.input,
                         options.batch_size, num_workers=options.workers)
    start = time.time()
    sums = _score(loader, lambda batch: clf.batch_logits(batch.asnumpy()), progress)
    return dict(_report(path, options.data, clf.data_config, sums, start, loader), runtime=clf.description)
