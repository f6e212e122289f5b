"""Errors about options that read right both to an API caller and on the command line.

A library error names the parameter the caller passed (``calib_data``); a script prints the same error with the
flag its user typed (``--calib-data``). :class:`OptionError` carries both: its message marks each option name as
``{name}``.
"""
import re

__all__ = ["OptionError", "flag"]


def flag(name):
    """The command-line flag of an option name: ``calib_data`` -> ``--calib-data``."""
    return "--" + name.replace("_", "-")


class OptionError(ValueError):
    """A bad option value or combination.

    ``message`` marks option names as ``{name}``; ``str(err)`` shows the names as they are (the API's parameters),
    :meth:`for_cli` as command-line flags (or as ``flags`` maps them, for options whose flag differs).
    """

    _MARK = re.compile(r"\{([a-z][a-z0-9_]*)\}")

    def __init__(self, message):
        super().__init__(message)
        self.template = message
        self.options = tuple(self._MARK.findall(message))

    def __str__(self):
        return self._MARK.sub(lambda m: m.group(1), self.template)

    def for_cli(self, flags=None):
        """The message with every option written as its flag (``flags``: ``{name: flag}`` exceptions)."""
        flags = flags or {}
        return self._MARK.sub(lambda m: flags.get(m.group(1), flag(m.group(1))), self.template)
