"""Training targets: label-smoothed one-hot vectors and mixup of a batch with its reverse."""
import mxnet as mx
import numpy as np

__all__ = ["smooth_one_hot", "mixup"]


def smooth_one_hot(labels, classes, eta=0.0):
    """One-hot targets ``(N, classes)`` with label smoothing: ``1 - eta + eta/classes`` on, ``eta/classes`` off."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError("labels must be in [0, %d), got range [%d, %d]" % (classes, labels.min(), labels.max()))
    out = np.full((labels.size, classes), eta / classes, dtype=np.float32)
    out[np.arange(labels.size), labels] = 1.0 - eta + eta / classes
    return out


def _reversed(batch):
    return mx.nd.flip(batch, axis=0) if isinstance(batch, mx.nd.NDArray) else batch[::-1]


def mixup(data, targets, lam):
    """Mix a batch with its reverse: ``lam * x + (1 - lam) * x[::-1]`` for inputs and targets alike.

    Works on NumPy arrays and NDArrays; shapes ``(N, ...)`` and ``(N, classes)`` are kept.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError("mixup lambda must be in [0, 1], got %r" % (lam,))
    return lam * data + (1 - lam) * _reversed(data), lam * targets + (1 - lam) * _reversed(targets)
