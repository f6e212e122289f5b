"""Training checkpoints: parameters, optimizer states and loop state, written atomically, found again on resume.

A checkpoint of epoch ``E`` (0-based, completed) is ``ckpt-E.params`` (weights), ``ckpt-E.states`` (optimizer
states, an ``mx.nd.save`` array file) and ``ckpt-E.json`` (the :class:`~gluon_resnest.train.records.CheckpointState`:
loop state, configuration, optimizer counters, and the manifest of the other two files' sha1s) in the save
directory. The three files are one unit: a ``.params`` or ``.states`` whose sha1 is not the one its ``.json``
records (a file of another epoch, a damaged copy) is refused naming the file. A checkpoint state without a manifest
(format version 1) loads without that check. Loading one runs no code: there is no pickle anywhere.
``latest.json`` names the newest complete checkpoint and is replaced last, so a crash while writing never leaves a
resumable but half-written checkpoint; it may only name a ``ckpt-N`` stem inside the save directory.
``best.params`` holds the weights of the best validation score so far. Only the newest ``keep`` checkpoints are
kept.
"""
import dataclasses
import json
import os
import re

import mxnet as mx

from ..utils.errors import OptionError, mxnet_reason
from ..utils.fileio import atomic_write
from ..utils.publish import sha1_file
from .optimizer import optimizer_state
from .records import CheckpointState

__all__ = ["save_checkpoint", "latest_checkpoint", "read_checkpoint_states", "prune_checkpoints", "save_best",
           "run_weights", "run_class_names", "load_weights_file", "BEST_PARAMS", "POINTER"]

BEST_PARAMS = "best.params"
POINTER = "latest.json"
_STEM = re.compile(r"ckpt-(\d+)")
_SUFFIXES = (".params", ".states", ".json")
#: The files of a checkpoint that its ``.json`` manifest covers.
_ARRAY_SUFFIXES = (".params", ".states")


def save_checkpoint(save_dir, net, trainer, state, keep=0):
    """Write the checkpoint of ``state`` (a :class:`~gluon_resnest.train.records.CheckpointState` of completed
    epoch ``state.epoch``), with the optimizer's layout and the manifest of its files added, point ``latest.json``
    at it, then keep only the newest ``keep`` checkpoints (0: all). Returns the stem path."""
    stem = os.path.join(save_dir, "ckpt-%04d" % state.epoch)
    arrays, layout = optimizer_state(trainer)
    atomic_write(stem + ".params", net.save_parameters)
    atomic_write(stem + ".states", lambda tmp: mx.nd.save(tmp, arrays))
    files = {os.path.basename(stem + suffix): sha1_file(stem + suffix) for suffix in _ARRAY_SUFFIXES}
    atomic_write(stem + ".json", dataclasses.replace(state, optimizer=layout, files=files).as_dict())
    atomic_write(os.path.join(save_dir, POINTER), {"epoch": state.epoch, "stem": os.path.basename(stem)})
    if keep:
        prune_checkpoints(save_dir, keep)
    return stem


def prune_checkpoints(save_dir, keep):
    """Delete all but the newest ``keep`` checkpoints (never the one ``latest.json`` names, nor ``best.params``);
    returns the epochs removed."""
    epochs = sorted({int(m.group(1)) for m in (_STEM.fullmatch(os.path.splitext(f)[0]) for f in os.listdir(save_dir))
                     if m})
    current_stem = _pointed_stem(save_dir)
    removed = []
    for epoch in epochs[:-keep] if keep < len(epochs) else []:
        stem = "ckpt-%04d" % epoch
        if stem == current_stem:
            continue
        for suffix in _SUFFIXES:
            path = os.path.join(save_dir, stem + suffix)
            if os.path.exists(path):
                os.remove(path)
        removed.append(epoch)
    return removed


def save_best(save_dir, net):
    """Write the weights of ``net`` as the run's best."""
    return atomic_write(os.path.join(save_dir, BEST_PARAMS), net.save_parameters)


def _read_json(path, what):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError("%s %s is not valid JSON (%s); delete it or fix it to resume" % (what, path, err)) from None


def _pointed_stem(save_dir):
    """The ``ckpt-N`` name ``latest.json`` holds, or ``None`` without a ``latest.json``; ``ValueError`` naming the
    file when it is not valid JSON or names anything but a ``ckpt-N`` stem in ``save_dir``."""
    pointer = os.path.join(save_dir, POINTER)
    if not os.path.isfile(pointer):
        return None
    info = _read_json(pointer, "checkpoint pointer")
    name = info.get("stem") if isinstance(info, dict) else None
    if not isinstance(name, str) or not _STEM.fullmatch(name):
        raise ValueError("checkpoint pointer %s names %r, not a ckpt-N checkpoint in %s: checkpoints are confined "
                         "to the save directory" % (pointer, name, save_dir))
    return name


def _check_manifest(stem, state):
    """``OptionError`` (a ``ValueError``) naming the first file of checkpoint ``stem`` whose sha1 differs from the
    one its state records (nothing to check for a version-1 state, which records none)."""
    if state.version < 2:
        return
    expected = {os.path.basename(stem + suffix) for suffix in _ARRAY_SUFFIXES}
    if set(state.files) != expected:
        raise OptionError("checkpoint state %s.json lists the files %s, not %s; restore it or start a new "
                          "{save_dir}" % (stem, ", ".join(sorted(state.files)) or "none", ", ".join(sorted(expected))))
    for suffix in _ARRAY_SUFFIXES:
        path = stem + suffix
        found, recorded = sha1_file(path), state.files[os.path.basename(path)]
        if found != recorded:
            raise OptionError("checkpoint file %s is not the one %s.json was saved with (sha1 %s, the manifest "
                              "records %s): a file of another checkpoint or a damaged copy; restore the checkpoint's "
                              "own file or start a new {save_dir}" % (path, stem, found, recorded))


def latest_checkpoint(save_dir):
    """``(stem path, CheckpointState)`` of the newest complete checkpoint, or ``None`` if there is none.

    ``ValueError`` naming the file when ``latest.json`` is not valid JSON or names anything but a ``ckpt-N`` stem in
    ``save_dir``, when the state is damaged, or when a ``.params`` or ``.states`` file is not the one the state's
    manifest records; ``FileNotFoundError`` when the checkpoint it names is incomplete.
    """
    name = _pointed_stem(save_dir)
    if name is None:
        return None
    stem = os.path.join(save_dir, name)
    root = os.path.realpath(save_dir)
    for suffix in _SUFFIXES:
        path = stem + suffix
        if not os.path.isfile(path):
            raise FileNotFoundError("checkpoint %s is incomplete: %s is missing" % (stem, path))
        if os.path.dirname(os.path.realpath(path)) != root:
            raise ValueError("checkpoint file %s resolves outside the save directory %s" % (path, save_dir))
    state = CheckpointState.from_dict(_read_json(stem + ".json", "checkpoint state"), stem + ".json")
    _check_manifest(stem, state)
    return stem, state


def read_checkpoint_states(stem):
    """The optimizer-state arrays of checkpoint ``stem`` as ``{name: numpy array}`` (``mx.nd.load``: no code runs);
    ``ValueError`` naming the file when it is not an MXNet array file."""
    path = stem + ".states"
    try:
        arrays = mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise ValueError("optimizer states %s are not an MXNet array file: %s" % (path, mxnet_reason(err))) from None
    if isinstance(arrays, list):
        if arrays:
            raise ValueError("optimizer states %s hold unnamed arrays" % path)
        arrays = {}
    return {name: value.asnumpy() for name, value in arrays.items()}


def load_weights_file(net, path, ctx):
    """Load the ``.params`` file ``path`` of a run into ``net`` (cast to its dtype); ``ValueError`` naming the file
    and MXNet's reason when it is damaged or does not fit."""
    try:
        net.load_parameters(path, ctx=ctx, cast_dtype=True)
    except (mx.base.MXNetError, AssertionError) as err:
        raise ValueError("cannot load the weights %s: %s" % (path, mxnet_reason(err))) from None


def run_weights(save_dir, checkpoint=None):
    """The weights a training directory stands for: ``best.params``, else the newest checkpoint's parameters.
    ``checkpoint``: the :func:`latest_checkpoint` of ``save_dir`` when the caller has it (else it is read here,
    when needed)."""
    best = os.path.join(save_dir, BEST_PARAMS)
    if os.path.isfile(best):
        return best
    found = checkpoint or latest_checkpoint(save_dir)
    if found is None:
        raise FileNotFoundError("no %s or checkpoint in %s" % (BEST_PARAMS, save_dir))
    return found[0] + ".params"


def run_class_names(save_dir):
    """The class names the newest checkpoint of a training directory records, or ``None``."""
    found = latest_checkpoint(save_dir)
    names = found[1].class_names if found else None
    return list(names) if names is not None else None
