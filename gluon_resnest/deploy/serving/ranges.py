"""Integer ranges of the serving options, declared with each option and checked in one place.

An option declared with ``tags=in_range(low, high)`` (:func:`~gluon_resnest.utils.options.option`) takes integers
from ``low`` to ``high`` (``None``: no upper bound); :func:`check_ranges` raises
:class:`~gluon_resnest.utils.errors.OptionError` naming the first option of a settings object out of its range (the
scripts show it as its flag).
"""
from ...utils.errors import OptionError
from ...utils.options import declared

__all__ = ["in_range", "check_ranges", "range_text", "RANGE"]

#: The tag that carries an option's ``(low, high)``.
RANGE = "range"


def in_range(low, high=None):
    """The ``tags`` of an integer option from ``low`` to ``high`` (``None``: unbounded)."""
    return {RANGE: (low, high)}


def range_text(low, high):
    return "from %d to %d" % (low, high) if high is not None else ">= %d" % low


def check_ranges(settings):
    """:class:`OptionError` naming the first option of the dataclass instance ``settings`` whose value is not an
    integer in its declared range."""
    for field, opt in declared([type(settings)]):
        if RANGE not in opt.tags:
            continue
        low, high = opt.tags[RANGE]
        value = getattr(settings, field.name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            raise OptionError("{%s} must be an integer %s, got %r" % (field.name, range_text(low, high), value))
    return settings
