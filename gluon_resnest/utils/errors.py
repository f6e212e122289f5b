"""Error messages that name their cause: option errors that name parameters (or flags), MXNet's errors reduced to
their reason.

MXNet's ``MXNetError`` text starts with ``Traceback (most recent call last):`` and C++ frame lines; the reason is
the last line (``MXNetError: Check failed: ...: Invalid NDArray file format``). :func:`mxnet_reason` returns that
line without its prefixes, so a translated error keeps the real cause.
"""
import re

__all__ = ["OptionText", "OptionError", "ReplaceRefused", "ReportableError", "RuntimeUnavailable", "flag",
           "mxnet_reason"]

_PREFIX = re.compile(r"^(\[[0-9:]+\]\s+\S+:\d+:\s*)?(MXNetError:\s*)?")


class ReportableError(Exception):
    """Base of the package's error types that are neither ``ValueError`` nor ``OSError`` but describe a problem of
    the input or the environment (an unreadable sample, a failed export check, a missing runtime); scripts report
    them as one line."""


class RuntimeUnavailable(ReportableError, RuntimeError):
    """A runtime or precision cannot run in this process: not installed, or the CPU lacks the instructions (the
    message says which and how to get it)."""


def flag(name):
    """The command-line flag of an option name: ``calib_data`` -> ``--calib-data``."""
    return "--" + name.replace("_", "-")


class OptionText:
    """An error message that reads right both to an API caller and on the command line (a mixin of exceptions).

    ``message`` marks each option name as ``{name}``: ``str(err)`` shows the names as they are (the parameters an
    API caller passed, ``calib_data``), :meth:`for_cli` as the flags a script's user typed (``--calib-data``).
    """

    _MARK = re.compile(r"\{([a-z][a-z0-9_]*)\}")

    def __init__(self, message):
        super().__init__(message)
        self.template = message
        self.options = tuple(self._MARK.findall(message))

    def __str__(self):
        return self._MARK.sub(lambda m: m.group(1), self.template)

    def for_cli(self, flags=None):
        """The message with every option written as its flag (``flags``: ``{name: flag}`` where a script's flag
        differs from the option's name)."""
        flags = flags or {}
        return self._MARK.sub(lambda m: flags.get(m.group(1), flag(m.group(1))), self.template)


class OptionError(OptionText, ValueError):
    """A bad option value or combination (its message names the options as :class:`OptionText` does)."""


class ReplaceRefused(OptionText, FileExistsError):
    """An output would replace or leave behind existing files and the option that allows it was not given."""


def mxnet_reason(err):
    """The reason line of an MXNet error (or of any exception's text): the last line that is not part of a
    traceback, without MXNet's timestamp and ``MXNetError:`` prefixes."""
    lines = [line.strip() for line in str(err).strip().splitlines()]
    reasons = [line for line in lines if line and not line.startswith(("Traceback (most recent call last)", "File "))
               and not re.match(r"^(Stack trace|\[bt\]|\d+: )", line)]
    if not reasons:
        return type(err).__name__
    reason = _PREFIX.sub("", reasons[-1])
    return reason or type(err).__name__
