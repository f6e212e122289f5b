"""Error messages that name their cause: MXNet's errors reduced to their reason, and option errors.

MXNet's ``MXNetError`` text starts with ``Traceback (most recent call last):`` and C++ frame lines; the reason is
the last line (``MXNetError: Check failed: ...: Invalid NDArray file format``). :func:`mxnet_reason` returns that
line without its prefixes, so a translated error keeps the real cause.
"""
import re

__all__ = ["OptionError", "ReportableError", "flag", "mxnet_reason"]

_PREFIX = re.compile(r"^(\[[0-9:]+\]\s+\S+:\d+:\s*)?(MXNetError:\s*)?")


class ReportableError(Exception):
    """Base of the package's error types that are neither ``ValueError`` nor ``OSError`` but describe a problem of
    the input or the environment (an unreadable sample, a failed export check, a missing runtime); scripts report
    them as one line."""


class OptionError(ValueError):
    """A parameter has a value that cannot be used; :attr:`option` names the parameter (``lr``, ``input_size``),
    and the message starts with it. Scripts show :attr:`option` as its command-line flag."""

    def __init__(self, option, problem):
        super().__init__("%s %s" % (option, problem))
        self.option, self.problem = option, problem


def flag(option):
    """The command-line flag of a flat option name (``input_size`` -> ``--input-size``)."""
    return "--" + option.replace("_", "-")


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
