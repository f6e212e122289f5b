"""Training options: the declarations of :mod:`gluon_resnest.utils.options` plus a resume rule each. A field of a
settings group in :mod:`.config` made by :func:`option` holds its default, help, aliases, range (every numeric
training option has one) and resume rule; the range checks, the resume check's rules (:func:`fixed_by_checkpoint`,
:func:`invocation_only`) and the docs table (:func:`options_table`) are generated from those declarations.
"""
from ..utils import options as declarations
from ..utils.options import add_arguments as _add_arguments
from ..utils.options import Range, option_flags

__all__ = ["option", "declared", "add_arguments", "options_from_args", "fixed_by_checkpoint", "invocation_only",
           "options_table", "Range", "APPLIES", "INVOCATION", "FIXED"]

#: Resume rules. ``APPLIES``: a changed value applies from the resumed step. ``INVOCATION``: the option describes
#: this invocation (where to read or write, how many loader processes), never compared with the checkpoint.
#: ``FIXED``: a checkpoint cannot honour a change (the declaration says why); resuming with one is refused.
APPLIES, INVOCATION, FIXED = "applies", "invocation", "fixed"


def option(default, help, resume=APPLIES, fixed_because="", bounds=None, **kwargs):
    """A settings field declaring a training option (:func:`gluon_resnest.utils.options.option`'s arguments)
    with its resume rule: :data:`APPLIES`, :data:`INVOCATION` or :data:`FIXED` (with ``fixed_because``, the
    reason shown when a resume changes it). A numeric option must give its ``bounds`` (a :class:`Range`)."""
    if resume not in (APPLIES, INVOCATION, FIXED) or (resume == FIXED) != bool(fixed_because):
        raise ValueError("resume must be applies, invocation or fixed, and fixed needs fixed_because")
    if isinstance(default, (int, float)) and not isinstance(default, bool) and bounds is None:
        raise ValueError("a numeric training option needs its bounds (a Range)")
    return declarations.option(default, help, tags={"resume": resume, "fixed_because": fixed_because},
                               bounds=bounds, **kwargs)


def declared(groups):
    """``[(group name, field, Option)]`` of the settings classes in ``groups`` (``((name, class), ...)``)."""
    return [(group, field, opt) for group, cls in groups for field, opt in declarations.declared([cls])]


def add_arguments(parser, groups):
    """Add every declared option of ``groups`` to the ``argparse`` ``parser``, with its default."""
    _add_arguments(parser, [cls for _, cls in groups])


def options_from_args(args, groups):
    """``{option: value}`` from a namespace parsed by a parser made with :func:`add_arguments`."""
    return declarations.options_from_args(args, [cls for _, cls in groups])


def fixed_by_checkpoint(groups):
    """``{option: reason}`` of the options a checkpoint fixes."""
    return {field.name: opt.tags["fixed_because"] for _, field, opt in declared(groups)
            if opt.tags["resume"] == FIXED}


def invocation_only(groups):
    """The options never compared with a checkpoint on resume."""
    return {field.name for _, field, opt in declared(groups) if opt.tags["resume"] == INVOCATION}


def _default_text(field, opt):
    if opt.negate or isinstance(field.default, bool):
        return declarations.default_text(field, opt)
    return "`%r`" % (field.default,) if not isinstance(field.default, str) or field.default else "empty"


_RESUME_TEXT = {APPLIES: "applies from the resumed step", INVOCATION: "free (this invocation only)"}


def options_table(groups):
    """A Markdown table of every declared option: flags, default, what a resume does with a change, meaning."""
    rows = ["| flag | default | on `--resume` | meaning |", "|---|---|---|---|"]
    for _, field, opt in declared(groups):
        flags = ", ".join("`%s`" % f for f in option_flags(field, opt) + ((opt.switch[0],) if opt.switch else ()))
        rule = opt.tags["resume"]
        resume = "refused: %s" % opt.tags["fixed_because"] if rule == FIXED else _RESUME_TEXT[rule]
        meaning = opt.help.replace("|", "\\|")
        if opt.choices:
            meaning += " (%s)" % ", ".join(opt.choices)
        if opt.bounds is not None:
            meaning += "; allowed: %s" % opt.bounds.text()
        if opt.bare_value is not None:
            meaning += "; alone it means %g" % opt.bare_value
        if opt.switch:
            meaning += "; %s alone sets %g" % (opt.switch[0], opt.switch[1])
        rows.append("| %s | %s | %s | %s |" % (flags, _default_text(field, opt), resume, meaning))
    return "\n".join(rows) + "\n"
