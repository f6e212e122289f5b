"""The fields of an export's ``-meta.json`` that readers rely on, checked before use.

The meta is not covered by a sha1 (it holds the others'), so a hand-edited or damaged one must fail with a
message naming the file and the field rather than an ``IndexError`` deep in a reader. Unknown fields are allowed.
"""
import numbers

from ..data.config import DataConfig

__all__ = ["check_meta"]


def _is_int(value, low=1):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


def _layout_problem(meta):
    shape, layout = meta["input_shape"], meta["layout"]
    channels, height, width = (shape[3], shape[1], shape[2]) if layout == "NHWC" else shape[1:]
    if channels != 3:
        return "input_shape %s has %s channels in %s layout, not 3" % (shape, channels, layout)
    if bool(meta["preprocessed"]) != (layout == "NHWC"):
        return "preprocessed %r does not go with layout %s" % (meta["preprocessed"], layout)
    try:
        size = DataConfig.from_dict(meta["data_config"]).input_size
    except (TypeError, ValueError) as err:
        return "field 'data_config': %s" % err
    if (height, width) != (size, size):
        return "input_shape %s does not match data_config input_size %d" % (shape, size)
    return None


def check_meta(meta, path):
    """Return ``meta`` (the parsed ``path``) when its fields are usable; ``ValueError`` naming ``path`` and the
    first bad field otherwise."""
    if not isinstance(meta, dict):
        raise ValueError("%s holds a %s, not an export description; export again" % (path, type(meta).__name__))
    checks = (
        ("input_shape", lambda v: isinstance(v, list) and len(v) == 4 and all(_is_int(d) for d in v),
         "a list of 4 positive integers (N, C, H, W or N, H, W, C)"),
        ("layout", lambda v: v in ("NCHW", "NHWC"), "NCHW or NHWC"),
        ("preprocessed", lambda v: isinstance(v, bool), "true or false"),
        ("data_config", lambda v: isinstance(v, dict), "the export's data config (input_size, crop_pct, crop_mode, "
                                                       "interpolation, mean, std)"),
        ("files", lambda v: isinstance(v, dict) and all(isinstance(s, str) for s in v.values()),
         "a {file name: sha1} object"),
        ("class_names", lambda v: v is None or (isinstance(v, list) and all(isinstance(n, str) for n in v)),
         "a list of names or null"),
    )
    for field, ok, expected in checks:
        if field == "class_names" and field not in meta:
            continue
        if field not in meta:
            raise ValueError("%s lacks the field %r (written by an older export); export again" % (path, field))
        if not ok(meta[field]):
            raise ValueError("%s: field %r is %r, expected %s; export again" % (path, field, meta[field], expected))
    problem = _layout_problem(meta)
    if problem:
        raise ValueError("%s: %s; export again" % (path, problem))
    return meta
