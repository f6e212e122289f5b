"""Parameter files: read once, check against a network (a mismatch gets a message that names it), load.

Two key schemes are read: structural keys (``layer1.0.conv2.fc1.weight``, written by ``save_parameters``) and
legacy prefixed keys (``resnest_layers1_conv2_weight`` with the model prefix stripped, or ``arg:``/``aux:`` keys of
an ``export``).
"""
import warnings

import mxnet as mx
import numpy as np

from ..utils.errors import mxnet_reason

from .catalogue import CATALOGUE
from .complexity import count_trainable

__all__ = ["ParamsMismatchError", "NonFiniteWeightsWarning", "read_params", "classifier_size", "check_params",
           "load_params", "nonfinite_names", "structural_arrays"]

_CLASSIFIER_KEYS = ("fc.weight", "dense0_weight")


class ParamsMismatchError(ValueError):
    """A parameter file does not fit the network it is loaded into."""


class NonFiniteWeightsWarning(UserWarning):
    """Loaded weights hold NaN or inf values."""


def nonfinite_names(arrays):
    """Sorted keys of ``arrays`` (``{key: NDArray}``) whose values are not all finite."""
    return sorted(key for key, value in arrays.items()
                  if value.size and not np.isfinite(value.asnumpy().astype(np.float64, copy=False)).all())


def read_params(path, data=None):
    """``{key: NDArray}`` of the ``.params`` file ``path``, or of its bytes ``data`` when already read."""
    try:
        loaded = mx.nd.load_frombuffer(data) if data is not None else mx.nd.load(path)
    except mx.base.MXNetError as err:
        raise ParamsMismatchError("%s is not a readable MXNet .params file: %s" % (path, mxnet_reason(err))) from None
    if not isinstance(loaded, dict):
        raise ParamsMismatchError("%s holds an unnamed list of arrays, not a parameter dict" % path)
    return loaded


def classifier_size(arrays):
    """Number of classes of the ResNeSt classifier in ``arrays`` (None if there is none)."""
    for key, value in arrays.items():
        if key.endswith(_CLASSIFIER_KEYS):
            return value.shape[0]
    return None


def _by_full_name(net, arrays):
    """``arrays`` re-keyed by the full parameter names of ``net`` (keys that match no parameter are kept)."""
    stripped = {k[4:] if k.startswith(("arg:", "aux:")) else k: v for k, v in arrays.items()}
    if any("." in key for key in stripped):
        structural = net._collect_params_with_prefix()
        return {structural[k].name if k in structural else k: v for k, v in stripped.items()}
    prefix = net.prefix
    return {k if k.startswith(prefix) else prefix + k: v for k, v in stripped.items()}


def structural_arrays(net, arrays):
    """``arrays`` (either key scheme, as :func:`read_params` returns them) keyed by the structural names of
    ``net``'s parameters (``layer1.0.conv2.fc1.weight``); keys that name no parameter of ``net`` are kept as they
    are. The values are the same objects."""
    structural = {param.name: key for key, param in net._collect_params_with_prefix().items()}
    return {structural.get(key, key): value for key, value in _by_full_name(net, arrays).items()}


def _guess_variant(shapes):
    """Names of catalogue variants whose trainable count equals that of ``shapes`` (1000-class head assumed)."""
    count = count_trainable(shapes)
    head = [s for k, s in shapes.items() if k.endswith(_CLASSIFIER_KEYS)]
    if head and head[0][0] != 1000:
        count += (1000 - head[0][0]) * (head[0][1] + 1)
    return [name for name, rec in CATALOGUE.items() if rec.params == count]


def check_params(net, arrays, source, model_name="this network", allow_missing=False, ignore_extra=False):
    """Raise :class:`ParamsMismatchError` naming the missing, unexpected and differently shaped arrays."""
    found = {k: v.shape for k, v in _by_full_name(net, arrays).items()}
    expected = {p.name: p.shape for p in net.collect_params().values()}
    missing = [] if allow_missing else sorted(set(expected) - set(found))
    extra = [] if ignore_extra else sorted(set(found) - set(expected))
    shapes = sorted(k for k in set(expected) & set(found)
                    if expected[k] and 0 not in expected[k] and tuple(expected[k]) != tuple(found[k]))
    if not (missing or extra or shapes):
        return
    parts = []
    if missing:
        parts.append("%d arrays missing from the file (e.g. %s)" % (len(missing), ", ".join(missing[:3])))
    if extra:
        parts.append("%d unexpected arrays in the file (e.g. %s)" % (len(extra), ", ".join(extra[:3])))
    if shapes:
        parts.append("%d shape mismatches (e.g. %s)" % (len(shapes), ", ".join(
            "%s: file %s vs model %s" % (k, tuple(found[k]), tuple(expected[k])) for k in shapes[:3])))
    guess = _guess_variant(found)
    hint = (" The file's parameter count matches %s." % " / ".join(guess)) if guess else ""
    raise ParamsMismatchError("parameter file %s does not fit %s: %s.%s"
                              % (source, model_name, "; ".join(parts), hint))


def load_params(net, arrays, source, ctx=None, model_name=None, allow_missing=False, ignore_extra=False,
                cast_dtype=False):
    """Check ``arrays`` (from :func:`read_params`) against ``net`` and load them; ``source`` names them in errors."""
    model_name = model_name or getattr(net, "model_name", "this ResNeSt")
    check_params(net, arrays, source, model_name, allow_missing, ignore_extra)
    bad = nonfinite_names(arrays)
    if bad:
        warnings.warn("%s holds NaN or inf in %d arrays (e.g. %s): the network will output NaN"
                      % (source, len(bad), ", ".join(bad[:3])), NonFiniteWeightsWarning, stacklevel=2)
    net.collect_params().load_dict(_by_full_name(net, arrays), ctx, allow_missing, ignore_extra=True,
                                   filename=source, cast_dtype=cast_dtype)
    return net
