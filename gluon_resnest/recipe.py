"""The ResNeSt ImageNet training recipe as small pure functions: schedule, weight decay, targets, DropBlock ramp."""
import mxnet as mx
import numpy as np

__all__ = ["cosine_schedule", "apply_no_wd", "smooth_one_hot", "mixup", "dropblock_rate", "NO_WD_PATTERN"]

#: Parameters exempt from weight decay with ``--no-wd``: BN gamma/beta and every bias.
NO_WD_PATTERN = ".*beta|.*gamma|.*bias"


def cosine_schedule(base_lr, steps_per_epoch, epochs, warmup_epochs=0, warmup_lr=0.0):
    """Linear warmup from ``warmup_lr`` over ``warmup_epochs``, then cosine decay to 0 at the last step."""
    total = max(1, steps_per_epoch * epochs)
    warmup = min(steps_per_epoch * warmup_epochs, total - 1)
    return mx.lr_scheduler.CosineScheduler(max_update=total, base_lr=base_lr, final_lr=0.0, warmup_steps=warmup,
                                           warmup_begin_lr=warmup_lr, warmup_mode="linear")


def apply_no_wd(net):
    """Set ``wd_mult = 0`` on BN gamma/beta and biases; return the names affected."""
    params = net.collect_params(NO_WD_PATTERN)
    params.setattr("wd_mult", 0.0)
    return sorted(params.keys())


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


def dropblock_rate(epoch, epochs, max_prob):
    """Linear DropBlock ramp: ``max_prob * (epoch + 1) / epochs`` (0-based epoch), reaching ``max_prob`` last."""
    return max_prob * (epoch + 1) / float(epochs)
