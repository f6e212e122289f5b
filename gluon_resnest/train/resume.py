"""What a resumed run may change: the options a checkpoint can honour, and those it cannot.

A checkpoint fixes the network, its classifier, the parameter dtype, the optimizer kind, and the data order (batch
size and number of workers, which shard the data). Everything else (epochs, learning rate, warmup, the other
recipe options) applies from the resumed step: the schedule is rebuilt from the new values and evaluated at the
restored update count.
"""
from ..utils.errors import OptionError
from .config import GROUPS
from .options import fixed_by_checkpoint, invocation_only

__all__ = ["FIXED_BY_CHECKPOINT", "RUN_ONLY", "resume_changes", "check_resume_data"]

#: Options a checkpoint cannot honour a change of, with the reason (declared in :mod:`.config`).
FIXED_BY_CHECKPOINT = fixed_by_checkpoint(GROUPS)
#: Options that describe this invocation, not the training: never compared.
RUN_ONLY = invocation_only(GROUPS)


def resume_changes(saved_config, saved_world_size, cfg, world_size):
    """``{option: (checkpoint value, new value)}`` of the options ``cfg`` changes relative to a checkpoint's
    configuration (``saved_config``: ``{group: {option: value}}``), which the resumed run applies from its step.

    ``ValueError`` naming the option and both values when a change cannot be honoured
    (:data:`FIXED_BY_CHECKPOINT`, or a different number of workers).
    """
    if saved_world_size is not None and saved_world_size != world_size:
        raise OptionError("cannot resume with %d Horovod workers: the checkpoint was trained with %d, and the number "
                          "of workers fixes the data order (each worker's shard)" % (world_size, saved_world_size))
    saved = {}
    for group in saved_config.values():
        saved.update(group)
    changes = {}
    for option, value in cfg.flat().items():
        if option in RUN_ONLY or option not in saved or saved[option] == value:
            continue
        if option in FIXED_BY_CHECKPOINT:
            raise OptionError("cannot resume with {%s} %r: the checkpoint was trained with {%s} %r, and %s; start a "
                              "new {save_dir} or keep {%s} %r" % (option, value, option, saved[option],
                                                                   FIXED_BY_CHECKPOINT[option], option, saved[option]))
        changes[option] = (saved[option], value)
    return changes


def check_resume_data(state, data, epochs, stem):
    """Refuse a resume whose data or epoch count the checkpoint ``state`` (a
    :class:`~gluon_resnest.train.records.CheckpointState` of ``stem``) cannot honour.

    ``data`` is the :class:`~gluon_resnest.train.records.DataFacts` of this run's training data; a checkpoint that
    records different values is refused (``OptionError`` naming both), since the schedule and the data order
    depend on them. ``epochs`` below the checkpoint's completed epochs is an ``OptionError`` on ``epochs``.
    """
    done = state.epochs_done
    if epochs < done:
        raise OptionError("{epochs} %d is below the %d epochs checkpoint %s has completed; give {epochs} %d or more"
                          % (epochs, done, stem, done))
    saved = state.data
    if saved is None:
        return
    if (saved.train_images, saved.steps_per_epoch) != (data.train_images, data.steps_per_epoch):
        raise OptionError("cannot resume from %s on this data: the checkpoint was trained on %d training images "
                          "(%d steps per epoch), this data has %d (%d steps per epoch), and the schedule and data "
                          "order depend on it; resume on the same data or start a new {save_dir}"
                          % (stem, saved.train_images, saved.steps_per_epoch, data.train_images,
                             data.steps_per_epoch))
    if saved.fingerprint and data.fingerprint and saved.fingerprint != data.fingerprint:
        raise OptionError("cannot resume from %s on this data: the training data differs from the checkpoint's "
                          "(same size, fingerprint %s instead of %s); resume on the same data or start a new "
                          "{save_dir}" % (stem, data.fingerprint, saved.fingerprint))
