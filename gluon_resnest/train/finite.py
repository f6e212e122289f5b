"""Non-finite training stops before anything is saved: a NaN/inf loss or weight raises :class:`NonFiniteError`
naming the epoch and the step, so no checkpoint, ``best.params`` or export of such weights is written and the
newest checkpoint (``latest.json``) stays the last good one."""
import math

from ..models.params import nonfinite_names

__all__ = ["NonFiniteError", "check_loss", "check_weights"]

_ADVICE = ("nothing of this epoch was saved; the newest checkpoint in the save directory is the last good one. "
           "Lower the learning rate (or add warmup) and resume or restart")


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or infinite loss or weight (the message names the epoch and step)."""


def check_loss(value, epoch, step, steps):
    """Raise :class:`NonFiniteError` unless ``value`` (the summed loss of ``step``, 0-based, of ``epoch``, 0-based)
    is finite."""
    if not math.isfinite(value):
        raise NonFiniteError("training diverged: the loss is %s at epoch %d, step %d of %d; %s"
                             % (value, epoch + 1, step + 1, steps, _ADVICE))


def check_weights(net, epoch, steps):
    """Raise :class:`NonFiniteError` naming the first parameters of ``net`` that hold NaN/inf after ``epoch``."""
    bad = nonfinite_names({name: param.data() for name, param in net.collect_params().items()})
    if bad:
        raise NonFiniteError("training diverged: %d parameters hold NaN or inf after epoch %d, step %d of %d "
                             "(e.g. %s); %s" % (len(bad), epoch + 1, steps, steps, ", ".join(bad[:3]), _ADVICE))
