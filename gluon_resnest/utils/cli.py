"""How the scripts end on an error a user can meet: one line ``error: ...`` on stderr and exit code 2.

:func:`run_main` runs a script's ``main(argv)`` and turns the package's error types, environment errors (files,
disks, permissions, the model store, missing optional packages) and MXNet's errors into that line: an
:class:`~gluon_resnest.utils.errors.OptionText` error (an ``OptionError``, say) is shown with its command-line flags, an MXNet error with its
reason line, a multi-line message joined with ``; ``. Anything else is a bug and keeps its traceback. A script whose
parser is an :class:`ArgumentParser` reports a rejected command line the same way.
"""
import argparse
import sys

from .errors import OptionText, ReportableError, mxnet_reason

__all__ = ["run_main", "describe", "user_errors", "ArgumentParser", "UsageError"]


class UsageError(ValueError):
    """A command line its parser rejects: an unknown flag, a value of the wrong type or outside the choices, a
    missing argument or subcommand."""


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse.ArgumentParser`` whose errors raise :class:`UsageError` naming the command (``run_main`` shows
    it as one line and exits 2) instead of printing the usage; its subcommand parsers do the same."""

    def error(self, message):
        raise UsageError("%s: %s (%s --help lists the options)" % (self.prog, message, self.prog))


def user_errors():
    """The exception types a script reports as one line."""
    import mxnet as mx

    return (OSError, ValueError, ImportError, ArithmeticError, ReportableError, mx.base.MXNetError)


def describe(err, flags=None):
    """The one-line text of ``err`` for a script's user (``flags``: ``{option: flag}`` where a script's flag is not
    the option's name, see :meth:`~gluon_resnest.utils.errors.OptionError.for_cli`)."""
    import mxnet as mx

    if isinstance(err, OptionText):
        text = err.for_cli(flags)
    elif isinstance(err, mx.base.MXNetError):
        text = "MXNet: %s" % mxnet_reason(err)
    else:
        text = str(err) or type(err).__name__
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def run_main(main, argv=None, flags=None):
    """``main(argv)``'s exit code; 2 after printing ``error: ...`` for a user error (:func:`user_errors`)."""
    try:
        return main(argv)
    except user_errors() as err:
        print("error: %s" % describe(err, flags), file=sys.stderr)
        return 2
