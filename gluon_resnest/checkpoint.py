"""Training checkpoints: parameters, trainer states and loop state, written atomically, found again on resume.

A checkpoint of epoch ``E`` (0-based, completed) is ``ckpt-E.params``, ``ckpt-E.states`` and ``ckpt-E.json``
in the save directory; ``latest.json`` names the newest complete one and is replaced last, so a crash while
writing never leaves a resumable but half-written checkpoint.
"""
import json
import os

from .fileio import atomic_write

__all__ = ["save_checkpoint", "latest_checkpoint"]


def _write_json(obj):
    def write(tmp):
        with open(tmp, "w") as handle:
            json.dump(obj, handle, indent=2, sort_keys=True)
    return write


def save_checkpoint(save_dir, epoch, net, trainer, state):
    """Write checkpoint files for completed ``epoch`` and point ``latest.json`` at them."""
    stem = os.path.join(save_dir, "ckpt-%04d" % epoch)
    atomic_write(stem + ".params", net.save_parameters)
    atomic_write(stem + ".states", trainer.save_states)
    atomic_write(stem + ".json", _write_json(dict(state, epoch=epoch)))
    atomic_write(os.path.join(save_dir, "latest.json"), _write_json({"epoch": epoch, "stem": os.path.basename(stem)}))
    return stem


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
