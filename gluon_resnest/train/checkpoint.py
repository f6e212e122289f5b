"""Training checkpoints: parameters, trainer states and loop state, written atomically, found again on resume.

A checkpoint of epoch ``E`` (0-based, completed) is ``ckpt-E.params``, ``ckpt-E.states`` and ``ckpt-E.json``
in the save directory; ``latest.json`` names the newest complete one and is replaced last, so a crash while
writing never leaves a resumable but half-written checkpoint. ``best.params`` holds the weights of the best
validation score so far.
"""
import json
import os

from ..utils.fileio import atomic_write

__all__ = ["save_checkpoint", "latest_checkpoint", "save_best", "run_weights", "BEST_PARAMS"]

BEST_PARAMS = "best.params"


def save_checkpoint(save_dir, epoch, net, trainer, state):
    """Write checkpoint files for completed ``epoch`` and point ``latest.json`` at them."""
    stem = os.path.join(save_dir, "ckpt-%04d" % epoch)
    atomic_write(stem + ".params", net.save_parameters)
    atomic_write(stem + ".states", trainer.save_states)
    atomic_write(stem + ".json", dict(state, epoch=epoch))
    atomic_write(os.path.join(save_dir, "latest.json"), {"epoch": epoch, "stem": os.path.basename(stem)})
    return stem


def save_best(save_dir, net):
    """Write the weights of ``net`` as the run's best."""
    return atomic_write(os.path.join(save_dir, BEST_PARAMS), net.save_parameters)


def latest_checkpoint(save_dir):
    """``(stem path, loop state)`` of the newest complete checkpoint, or ``None`` if there is none."""
    pointer = os.path.join(save_dir, "latest.json")
    if not os.path.isfile(pointer):
        return None
    with open(pointer) as handle:
        stem = os.path.join(save_dir, json.load(handle)["stem"])
    for suffix in (".params", ".states", ".json"):
        if not os.path.isfile(stem + suffix):
            raise FileNotFoundError("checkpoint %s is incomplete: %s%s is missing" % (stem, stem, suffix))
    with open(stem + ".json") as handle:
        return stem, json.load(handle)


def run_weights(save_dir):
    """The weights a training directory stands for: ``best.params``, else the newest checkpoint's parameters."""
    best = os.path.join(save_dir, BEST_PARAMS)
    if os.path.isfile(best):
        return best
    found = latest_checkpoint(save_dir)
    if found is None:
        raise FileNotFoundError("no %s or checkpoint in %s" % (BEST_PARAMS, save_dir))
    return found[0] + ".params"
