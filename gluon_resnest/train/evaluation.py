"""Top-1/top-5 evaluation of a classifier over a loader (gradient-free), and of a model on a dataset."""
import time

import mxnet as mx
import numpy as np

from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..data.transforms import EvalTransform, eval_transform_for
from ..deploy.classifier import ExportedClassifier
from ..models.factory import get_model, model_record

__all__ = ["count_correct", "evaluate", "evaluate_model", "evaluate_export"]


def count_correct(logits, labels, topk=(1, 5)):
    """Number of samples whose label is among the top-k logits, for each k (numpy inputs)."""
    order = np.argsort(-logits, axis=1)
    labels = labels.astype(np.int64).reshape(-1, 1)
    return [int((order[:, :min(k, logits.shape[1])] == labels).any(axis=1).sum()) for k in topk]


def _score(loader, logits_of, progress=False):
    """``{"top1_correct", "top5_correct", "count"}`` of ``logits_of(batch NDArray) -> numpy (N, classes)``."""
    totals = np.zeros(3, dtype=np.int64)
    iterator = loader
    if progress:
        from tqdm import tqdm

        iterator = tqdm(loader, desc="eval", unit="batch")
    for data, label in iterator:
        logits = logits_of(data)
        top1, top5 = count_correct(logits, label.asnumpy())
        totals += (top1, top5, logits.shape[0])
    return {"top1_correct": int(totals[0]), "top5_correct": int(totals[1]), "count": int(totals[2])}


def evaluate(net, loader, ctx=mx.cpu(), progress=False, dtype="float32"):
    """``{"top1_correct", "top5_correct", "count"}`` over ``loader``; sums, so results combine across ranks."""
    return _score(loader, lambda data: net(data.as_in_context(ctx).astype(dtype, copy=False)).astype(
        "float32").asnumpy(), progress)


def _report(model, data, transform, sums, start, loader):
    return {"model": model, "data": data, "size": transform.size, "crop_pct": transform.crop_pct,
            "images": sums["count"], "top1": 100.0 * sums["top1_correct"] / sums["count"],
            "top5": 100.0 * sums["top5_correct"] / sums["count"], "skipped": len(loader.skipped),
            "seconds": round(time.time() - start, 2)}


def evaluate_model(name, weights, data, classes=None, size=None, crop_pct=None, batch_size=32, workers=2,
                   ctx=mx.cpu(), progress=False):
    """Top-1/top-5 of variant ``name`` with ``weights`` (``True`` for the published ones, or a ``.params`` path)
    on ``data`` (a ``.rec`` file or image folder), with the variant's own evaluation transform unless ``size`` or
    ``crop_pct`` override it. Returns a dict with ``images``, ``top1``, ``top5`` (%) and the transform used."""
    net = get_model(name, pretrained=weights, classes=classes, ctx=ctx)
    net.hybridize(static_alloc=True)
    pretrained = model_record(name).pretrained
    transform = eval_transform_for(pretrained, size)
    if crop_pct:
        transform = EvalTransform(transform.size, crop_pct, pretrained.interpolation, pretrained.mean, pretrained.std)
    loader = make_loader(open_image_dataset(data), transform, batch_size, num_workers=workers)
    start = time.time()
    return _report(name, data, transform, evaluate(net, loader, ctx, progress=progress), start, loader)


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
    return dict(_report(path, data, clf.transform, sums, start, loader), runtime=clf.description)
