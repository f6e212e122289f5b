"""Non-finite training stops before anything is saved: a NaN/inf loss or weight raises :class:`NonFiniteError`
naming the epoch and the step, so no checkpoint, ``best.params`` or export of such weights is written. The message
says what is left to go back to: the run's newest checkpoint (which ``latest.json`` still names), or that the run
has written none yet."""
import math

from ..models.params import nonfinite_names

__all__ = ["NonFiniteError", "check_loss", "check_weights"]

_ADVICE = "Lower the learning rate (or add warmup) and %s"


class NonFiniteError(FloatingPointError):
    """Training produced a NaN or infinite loss or weight (the message names the epoch and step)."""


def _what_is_left(last_checkpoint):
    """The end of the message: the last good checkpoint (``last_checkpoint``: its stem path, or ``None`` when the
    run has none) and what to do."""
    if last_checkpoint is None:
        return ("nothing of this run was saved: it has no checkpoint yet. " + _ADVICE) % "restart"
    return ("nothing of this epoch was saved; the newest checkpoint, %s, is the last good one. " + _ADVICE) % (
        last_checkpoint, "resume or restart")


def check_loss(value, epoch, step, steps, last_checkpoint):
    """Raise :class:`NonFiniteError` unless ``value`` (the summed loss of ``step``, 0-based, of ``epoch``, 0-based)
    is finite; ``last_checkpoint``: the stem path of the run's newest checkpoint, or ``None``."""
    if not math.isfinite(value):
        raise NonFiniteError("training diverged: the loss is %s at epoch %d, step %d of %d; %s"
                             % (value, epoch + 1, step + 1, steps, _what_is_left(last_checkpoint)))


def check_weights(net, epoch, steps, last_checkpoint):
    """Raise :class:`NonFiniteError` naming the first parameters of ``net`` that hold NaN/inf after ``epoch``
    (``last_checkpoint`` as in :func:`check_loss`)."""
    bad = nonfinite_names({name: param.data() for name, param in net.collect_params().items()})
    if bad:
        raise NonFiniteError("training diverged: %d parameters hold NaN or inf after epoch %d, step %d of %d "
                             "(e.g. %s); %s" % (len(bad), epoch + 1, steps, steps, ", ".join(bad[:3]),
                                                _what_is_left(last_checkpoint)))
