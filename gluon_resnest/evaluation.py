"""Top-1/top-5 evaluation of a classifier over a loader (gradient-free)."""
import mxnet as mx
import numpy as np

__all__ = ["count_correct", "evaluate"]


def count_correct(logits, labels, topk=(1, 5)):
    """Number of samples whose label is among the top-k logits, for each k (numpy inputs)."""
    order = np.argsort(-logits, axis=1)
    labels = labels.astype(np.int64).reshape(-1, 1)
    return [int((order[:, :min(k, logits.shape[1])] == labels).any(axis=1).sum()) for k in topk]


def evaluate(net, loader, ctx=mx.cpu(), progress=False, dtype="float32"):
    """``{"top1_correct", "top5_correct", "count"}`` over ``loader``; sums, so results combine across ranks."""
    totals = np.zeros(3, dtype=np.int64)
    iterator = loader
    if progress:
        from tqdm import tqdm

        iterator = tqdm(loader, desc="eval", unit="batch")
    for data, label in iterator:
        logits = net(data.as_in_context(ctx).astype(dtype, copy=False)).astype("float32").asnumpy()
        top1, top5 = count_correct(logits, label.asnumpy())
        totals += (top1, top5, logits.shape[0])
    return {"top1_correct": int(totals[0]), "top5_correct": int(totals[1]), "count": int(totals[2])}
