"""Top-1/top-5 evaluation of a classifier over a loader (gradient-free), and of a model on a dataset."""
import time

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..deploy.classifier import ExportedClassifier
from ..models.factory import get_model, model_data_config

__all__ = ["count_correct", "evaluate", "evaluate_model", "evaluate_export"]


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
    return _score(loader, lambda data: net(data.as_in_context(ctx).astype(dtype, copy=False)).astype(
        "float32").asnumpy(), progress)


def _report(model, data, data_config, sums, start, loader):
    return {"model": model, "data": data, "size": data_config.input_size, "data_config": data_config.as_dict(),
            "images": sums["count"], "top1": 100.0 * sums["top1_correct"] / sums["count"],
            "top5": 100.0 * sums["top5_correct"] / sums["count"], "skipped": len(loader.skipped),
            "labels_outside": sums["labels_outside"], "classes": sums["classes"],
            "seconds": round(time.time() - start, 2)}


def evaluate_model(name, weights, data, classes=None, size=None, crop_pct=None, batch_size=32, workers=2,
                   ctx=mx.cpu(), progress=False):
    """Top-1/top-5 of variant ``name`` with ``weights`` (``True`` for the published ones, or a ``.params`` path)
    on ``data`` (a ``.rec`` file or image folder), with the variant's data config, ``size`` and ``crop_pct``
    overriding its fields when given. Returns a dict with ``images``, ``top1``, ``top5`` (%) and the data config
    used."""
    net = get_model(name, pretrained=weights, classes=classes, ctx=ctx)
    net.hybridize(static_alloc=True)
    data_config = model_data_config(name, input_size=size, crop_pct=crop_pct)
    loader = make_loader(open_image_dataset(data), data_config.eval_transform(), batch_size, num_workers=workers)
    start = time.time()
    return _report(name, data, data_config, evaluate(net, loader, ctx, progress=progress), start, loader)


def evaluate_export(path, data, batch_size=32, workers=2, ctx=mx.cpu(), progress=False, runtime=None):
    """Top-1/top-5 of an exported model (symbol/params prefix, INT8 prefix or ``.onnx``, read with
    :class:`~gluon_resnest.deploy.classifier.ExportedClassifier`, with its own input transform) on ``data`` (a
    ``.rec`` file or image folder; a folder's classes are taken in the export's class-name order when it has
    them), in ``runtime`` (default: the classifier's choice). Returns a dict like :func:`evaluate_model`'s plus
    ``runtime``, the classifier's :attr:`~gluon_resnest.deploy.classifier.ExportedClassifier.description`."""
    clf = ExportedClassifier(path, ctx, runtime=runtime)
    names = clf.meta.get("class_names")
    loader = make_loader(open_image_dataset(data, classes=names), clf.input, batch_size, num_workers=workers)
    start = time.time()
    sums = _score(loader, lambda batch: clf.batch_logits(batch.asnumpy()), progress)
    return dict(_report(path, data, clf.data_config, sums, start, loader), runtime=clf.description)
