"""Options declared once: a dataclass field made by :func:`option` carries its default, help text, command-line
aliases and allowed values, and the command-line parser, the parsed values and the docs tables are generated from
those declarations.

A settings class is a (frozen) dataclass whose fields are options; a script adds them to its parser with
:func:`add_arguments` and builds the settings with :func:`settings_from_args`, so no script writes a default or a
help text again. A numeric option declares the values it accepts with a :class:`Range`, and
:func:`check_settings` checks a settings instance against its ranges and choices (an ``OptionError`` naming the
option), so no caller writes a bound again. Layers attach their own rules to an option with ``tags`` (training's
resume rule, say) and read them back with :func:`declared`.
"""
import dataclasses
import math
from typing import Any, Mapping, Optional, Tuple

from .errors import OptionError
from .errors import flag as flag_of

__all__ = ["Option", "Range", "option", "declared", "add_arguments", "options_from_args", "settings_from_args",
           "check_settings", "option_flags", "cli_flags", "default_text"]


def _number_text(value):
    return str(value) if isinstance(value, int) else "%g" % value


@dataclasses.dataclass(frozen=True)
class Range:
    """The values a numeric option accepts: finite numbers with ``low <= value`` (``low < value`` with
    ``low_open``) and ``value <= high`` (``value < high`` with ``high_open``); ``None`` leaves that side unbounded.
    ``also``: values outside the interval that have a meaning of their own (``0``: the default). ``note``: what the
    bounds or the extra values stand for, shown with the refusal."""
    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    also: Tuple[Any, ...] = ()
    note: str = ""

    def __contains__(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if value in self.also:
            return True
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def text(self):
        """The range as the errors and the docs write it: ``in [0, 1)``, ``>= 1``, ``0 or in [32, 1024]``."""
        if self.low is not None and self.high is not None:
            interval = "in %s%s, %s%s" % ("(" if self.low_open else "[", _number_text(self.low),
                                          _number_text(self.high), ")" if self.high_open else "]")
        elif self.low is not None:
            interval = "%s %s" % (">" if self.low_open else ">=", _number_text(self.low))
        elif self.high is not None:
            interval = "%s %s" % ("<" if self.high_open else "<=", _number_text(self.high))
        else:
            interval = "a finite number"
        if self.also:
            interval = "%s or %s" % (" or ".join(_number_text(v) for v in self.also), interval)
        return interval


@dataclasses.dataclass(frozen=True)
class Option:
    """How an option appears to users (see :func:`option`)."""
    help: str
    aliases: Tuple[str, ...] = ()
    choices: Optional[Tuple[Any, ...]] = None
    type: Optional[type] = None
    bare_value: Any = None
    switch: Optional[Tuple[str, Any]] = None
    negate: Optional[str] = None
    metavar: Optional[str] = None
    flag: Optional[str] = None
    required: bool = False
    tags: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    bounds: Optional[Range] = None


def option(default, help, aliases=(), choices=None, type=None, bare_value=None, switch=None, negate=None,
           metavar=None, flag=None, required=False, tags=None, bounds=None):
    """A dataclass field declaring an option.

    ``default``: its value when not given; a tuple makes a list option (``--batches 1 8 16``), whose items have
    ``type`` (default: the type of the first item). ``type``: the value type when ``default`` is ``None``.
    ``aliases``: more flags for it. ``choices``: the allowed values. ``bare_value``: the value of the flag given
    without one (``--label-smoothing`` alone). ``switch``: ``(flag, value)``, a value-less flag that sets the
    option to ``value`` unless the option is given too (``--mixup``). ``negate``: for a boolean that defaults to
    true, the flag that turns it off (``--no-export``). ``flag``: the flag when it is not the field name's
    (``--size`` for ``input_size``). ``required``: the command line must give it (the default then serves API
    callers). ``tags``: rules a layer attaches (read back through :func:`declared`). ``bounds``: the :class:`Range`
    of a numeric option (checked by :func:`check_settings`).
    """
    if default is None and type is None:
        raise ValueError("an option whose default is None needs its type")
    meta = Option(help, tuple(aliases), tuple(choices) if choices else None, type, bare_value, switch, negate,
                  metavar, flag, required, dict(tags or {}), bounds)
    return dataclasses.field(default=default, metadata={"option": meta})


def declared(settings_classes):
    """``[(field, Option)]`` of the options of ``settings_classes`` (dataclasses, in order); fields that are not
    options are skipped."""
    return [(field, field.metadata["option"]) for cls in settings_classes for field in dataclasses.fields(cls)
            if "option" in field.metadata]


def option_flags(field, opt):
    """The command-line flags of an option, the main one first."""
    if opt.negate:
        return (opt.negate,)
    return (opt.flag or flag_of(field.name),) + opt.aliases


def cli_flags(settings_classes):
    """``{option name: flag}`` of the options whose flag is not the one their name gives (``input_size`` ->
    ``--size``), for :func:`~gluon_resnest.utils.cli.run_main` to write them in error messages."""
    return {field.name: opt.flag for field, opt in declared(settings_classes) if opt.flag}


def _value_type(field, opt):
    if opt.type is not None:
        return opt.type
    if isinstance(field.default, tuple):
        return type(field.default[0]) if field.default else str
    return type(field.default)


def add_arguments(parser, settings_classes, defaults_in_help=False):
    """Add every option of ``settings_classes`` to the ``argparse`` ``parser`` (or argument group), with its
    default; ``defaults_in_help`` appends ``(default: ...)`` to the help text of each option whose default is a
    value (not ``None``, off or empty)."""
    for field, opt in declared(settings_classes):
        shown = defaults_in_help and field.default not in (None, False, "")
        text = opt.help + (" (default: %s)" % default_text(field, opt) if shown else "")
        kwargs = {"dest": field.name, "help": text, "default": field.default}
        if opt.required:
            kwargs["required"] = True
        if isinstance(field.default, bool):
            kwargs["action"] = "store_false" if opt.negate else "store_true"
        else:
            kwargs["type"] = _value_type(field, opt)
            if isinstance(field.default, tuple):
                kwargs["nargs"] = "+"
            if opt.choices:
                kwargs["choices"] = list(opt.choices)
            if opt.metavar:
                kwargs["metavar"] = opt.metavar
            if opt.bare_value is not None:
                kwargs.update(nargs="?", const=opt.bare_value)
        parser.add_argument(*option_flags(field, opt), **kwargs)
        if opt.switch:
            parser.add_argument(opt.switch[0], dest="switch_" + field.name, action="store_true",
                                help="set %s to %s unless it is given" % (option_flags(field, opt)[0], opt.switch[1]))


def options_from_args(args, settings_classes):
    """``{option: value}`` of the options of ``settings_classes`` in a namespace parsed by a parser made with
    :func:`add_arguments` (list options as tuples); other attributes of ``args`` are left out."""
    values = vars(args)
    out = {}
    for field, opt in declared(settings_classes):
        value = values[field.name]
        if opt.switch and values.get("switch_" + field.name) and value == field.default:
            value = opt.switch[1]
        out[field.name] = tuple(value) if isinstance(value, list) else value
    return out


def settings_from_args(cls, args):
    """An instance of the settings class ``cls`` from a namespace parsed with its options."""
    return cls(**options_from_args(args, (cls,)))


def check_settings(settings):
    """``OptionError`` naming the first option of the settings instance ``settings`` (as ``{name}``) whose value is
    outside its declared choices or :class:`Range` (every item of a list option is checked; ``None`` passes where
    it is the default)."""
    for field, opt in declared([type(settings)]):
        value = getattr(settings, field.name)
        for item in value if isinstance(value, tuple) else (value,):
            if item is None and field.default is None:
                continue
            if opt.choices and item not in opt.choices:
                raise OptionError("{%s} must be one of %s, got %r" % (field.name, ", ".join(map(str, opt.choices)),
                                                                     item))
            if opt.bounds is not None and item not in opt.bounds:
                note = " (%s)" % opt.bounds.note if opt.bounds.note else ""
                raise OptionError("{%s} must be %s%s, got %r" % (field.name, opt.bounds.text(), note, item))


def default_text(field, opt):
    """The default of an option as the docs and help texts write it."""
    if opt.negate:
        return "on (%s turns it off)" % opt.negate
    if isinstance(field.default, bool):
        return "off"
    if isinstance(field.default, tuple):
        return " ".join(str(item) for item in field.default) or "none"
    if field.default is None or field.default == "":
        return "none"
    return str(field.default)
