"""Schedules of the ResNeSt recipe: cosine learning rate with linear warmup, and the linear DropBlock ramp."""
import mxnet as mx

__all__ = ["cosine_schedule", "dropblock_rate"]


def cosine_schedule(base_lr, steps_per_epoch, epochs, warmup_epochs=0, warmup_lr=0.0):
    """Linear warmup from ``warmup_lr`` over ``warmup_epochs``, then cosine decay to 0 at the last step."""
    total = max(1, steps_per_epoch * epochs)
    warmup = min(steps_per_epoch * warmup_epochs, total - 1)
    return mx.lr_scheduler.CosineScheduler(max_update=total, base_lr=base_lr, final_lr=0.0, warmup_steps=warmup,
                                           warmup_begin_lr=warmup_lr, warmup_mode="linear")


def dropblock_rate(epoch, epochs, max_prob):
    """Linear DropBlock ramp: ``max_prob * (epoch + 1) / epochs`` (0-based epoch), reaching ``max_prob`` last."""
    return max_prob * (epoch + 1) / float(epochs)
