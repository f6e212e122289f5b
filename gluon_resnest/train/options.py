"""Training options, each declared once: a field of a settings group in :mod:`.config` made by :func:`option`,
with its default, help text, command-line aliases and resume rule. The command-line parser
(:func:`add_arguments`), the resume check's rules (:func:`fixed_by_checkpoint`, :func:`invocation_only`) and the
docs table (:func:`options_table`) are generated from those declarations.
"""
import dataclasses
from typing import Optional, Tuple

from ..utils.errors import flag

__all__ = ["Option", "option", "declared", "add_arguments", "options_from_args", "fixed_by_checkpoint",
           "invocation_only", "options_table", "APPLIES", "INVOCATION", "FIXED"]

#: Resume rules. ``APPLIES``: a changed value applies from the resumed step. ``INVOCATION``: the option describes
#: this invocation (where to read or write, how many loader processes), never compared with the checkpoint.
#: ``FIXED``: a checkpoint cannot honour a change (the declaration says why); resuming with one is refused.
APPLIES, INVOCATION, FIXED = "applies", "invocation", "fixed"


@dataclasses.dataclass(frozen=True)
class Option:
    """How a training option appears to users (see :func:`option`)."""
    help: str
    aliases: Tuple[str, ...] = ()
    resume: str = APPLIES
    fixed_because: str = ""
    choices: Optional[Tuple[str, ...]] = None
    bare_value: Optional[float] = None
    switch: Optional[Tuple[str, float]] = None
    negate: Optional[str] = None


def option(default, help, aliases=(), resume=APPLIES, fixed_because="", choices=None, bare_value=None, switch=None,
           negate=None):
    """A settings field declaring a training option.

    ``aliases``: more flags for it (GluonCV's names). ``resume``: :data:`APPLIES`, :data:`INVOCATION` or
    :data:`FIXED` (with ``fixed_because``, the reason shown when a resume changes it). ``choices``: the allowed
    values. ``bare_value``: the value of the flag given without one (``--label-smoothing`` alone). ``switch``:
    ``(flag, value)``, a value-less flag that sets the option to ``value`` unless the option is given too
    (``--mixup``). ``negate``: for a boolean that defaults to true, the flag that turns it off (``--no-export``).
    """
    if resume not in (APPLIES, INVOCATION, FIXED) or (resume == FIXED) != bool(fixed_because):
        raise ValueError("resume must be applies, invocation or fixed, and fixed needs fixed_because")
    meta = Option(help, tuple(aliases), resume, fixed_because, tuple(choices) if choices else None, bare_value,
                  switch, negate)
    return dataclasses.field(default=default, metadata={"option": meta})


def declared(groups):
    """``[(group name, field, Option)]`` of the settings classes in ``groups`` (``((name, class), ...)``)."""
    return [(group, field, field.metadata["option"]) for group, cls in groups for field in dataclasses.fields(cls)]


def _flags(field, opt):
    return (opt.negate,) if opt.negate else (flag(field.name),) + opt.aliases


def add_arguments(parser, groups):
    """Add every declared option of ``groups`` to the ``argparse`` ``parser``, with its default."""
    for _, field, opt in declared(groups):
        kwargs = {"dest": field.name, "help": opt.help, "default": field.default}
        if field.type is bool or isinstance(field.default, bool):
            kwargs["action"] = "store_false" if opt.negate else "store_true"
        else:
            kwargs["type"] = type(field.default)
            if opt.choices:
                kwargs.update(choices=list(opt.choices), metavar=field.name.upper())
            if opt.bare_value is not None:
                kwargs.update(nargs="?", const=opt.bare_value)
        parser.add_argument(*_flags(field, opt), **kwargs)
        if opt.switch:
            parser.add_argument(opt.switch[0], dest="switch_" + field.name, action="store_true",
                                help="set %s to %g unless it is given" % (flag(field.name), opt.switch[1]))


def options_from_args(args, groups):
    """``{option: value}`` from a namespace parsed by a parser made with :func:`add_arguments`."""
    values = vars(args).copy()
    for _, field, opt in declared(groups):
        if opt.switch and values.pop("switch_" + field.name, False) and values[field.name] == field.default:
            values[field.name] = opt.switch[1]
    return values


def fixed_by_checkpoint(groups):
    """``{option: reason}`` of the options a checkpoint fixes."""
    return {field.name: opt.fixed_because for _, field, opt in declared(groups) if opt.resume == FIXED}


def invocation_only(groups):
    """The options never compared with a checkpoint on resume."""
    return {field.name for _, field, opt in declared(groups) if opt.resume == INVOCATION}


def _default_text(field, opt):
    if opt.negate:
        return "on (%s turns it off)" % opt.negate
    if isinstance(field.default, bool):
        return "off"
    return "`%r`" % (field.default,) if not isinstance(field.default, str) or field.default else "empty"


_RESUME_TEXT = {APPLIES: "applies from the resumed step", INVOCATION: "free (this invocation only)"}


def options_table(groups):
    """A Markdown table of every declared option: flags, default, what a resume does with a change, meaning."""
    rows = ["| flag | default | on `--resume` | meaning |", "|---|---|---|---|"]
    for _, field, opt in declared(groups):
        flags = ", ".join("`%s`" % f for f in _flags(field, opt) + ((opt.switch[0],) if opt.switch else ()))
        resume = "refused: %s" % opt.fixed_because if opt.resume == FIXED else _RESUME_TEXT[opt.resume]
        meaning = opt.help.replace("|", "\\|")
        if opt.choices:
            meaning += " (%s)" % ", ".join(opt.choices)
        if opt.bare_value is not None:
            meaning += "; alone it means %g" % opt.bare_value
        if opt.switch:
            meaning += "; %s alone sets %g" % (opt.switch[0], opt.switch[1])
        rows.append("| %s | %s | %s | %s |" % (flags, _default_text(field, opt), resume, meaning))
    return "\n".join(rows) + "\n"
