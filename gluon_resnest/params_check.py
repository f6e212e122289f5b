"""Parameter checks and copies: compare a ``.params`` file with a network before loading (so a mismatch gets a
message that names it), and copy weights between networks with the same structure."""
import mxnet as mx

from .variants import VARIANTS

__all__ = ["ParamsMismatchError", "file_keys_match", "check_params_file", "count_trainable", "classifier_size",
           "copy_parameters"]


class ParamsMismatchError(ValueError):
    """A parameter file does not fit the network it is loaded into."""


def count_trainable(shapes):
    """Number of trainable values among ``{key: shape}`` (BN running statistics excluded)."""
    total = 0
    for key, shape in shapes.items():
        if not key.endswith(("running_mean", "running_var")):
            size = 1
            for dim in shape:
                size *= dim
            total += size
    return total


def copy_parameters(source, target, ctx=None):
    """Copy every parameter of ``source`` into ``target`` by structural name (``layer1.0.conv2.fc1.weight``).

    Both networks must have the same attribute hierarchy (e.g. ours and GluonCV's ResNeSt); returns ``target``.
    """
    targets = target._collect_params_with_prefix()
    for key, param in source._collect_params_with_prefix().items():
        targets[key].set_data(param.data(ctx) if ctx is not None else param.data())
    return target


def classifier_size(filename):
    """Number of classes of the classifier stored in a ResNeSt ``.params`` file (None if it has none)."""
    for key, value in mx.nd.load(filename).items():
        if key.endswith(("fc.weight", "dense0_weight")):
            return value.shape[0]
    return None


def _guess_variant(file_shapes, classes):
    """Names of table variants whose trainable count equals the file's (1000-class head assumed)."""
    count = count_trainable(file_shapes)
    head = [s for k, s in file_shapes.items() if k.endswith(("fc.weight", "dense0_weight"))]
    if head and head[0][0] != 1000:
        count += (1000 - head[0][0]) * (head[0][1] + 1)
    return [name for name, row in VARIANTS.items() if row.params == count]


def file_keys_match(net, loaded):
    """``(expected shapes, file shapes)`` keyed the way the file is keyed (structural or legacy prefixed)."""
    file_shapes = {k[4:] if k.startswith(("arg:", "aux:")) else k: v.shape for k, v in loaded.items()}
    if any("." in key for key in file_shapes):
        expected = {k: p.shape for k, p in net._collect_params_with_prefix().items()}
    else:
        prefix = net.prefix
        expected = {}
        for name, param in net.collect_params().items():
            expected[name[len(prefix):] if name.startswith(prefix) else name] = param.shape
        file_shapes = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in file_shapes.items()}
    return expected, file_shapes


def check_params_file(net, filename, model_name="this network", allow_missing=False, ignore_extra=False):
    """Raise :class:`ParamsMismatchError` describing missing, unexpected and differently shaped arrays."""
    try:
        loaded = mx.nd.load(filename)
    except mx.base.MXNetError as err:
        raise ParamsMismatchError("%s is not a readable MXNet .params file: %s"
                                  % (filename, str(err).splitlines()[0])) from None
    if not isinstance(loaded, dict):
        raise ParamsMismatchError("%s holds an unnamed list of arrays, not a parameter dict" % filename)
    expected, found = file_keys_match(net, loaded)
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
    guess = _guess_variant(found, getattr(net, "classes", 1000))
    hint = (" The file's parameter count matches %s." % " / ".join(guess)) if guess else ""
    raise ParamsMismatchError("parameter file %s does not fit %s: %s.%s"
                              % (filename, model_name, "; ".join(parts), hint))
