"""Which member of an export runs in which runtime at which precision: one rule, :func:`choose_runtime`.

Every entry point that runs an export (:class:`~gluon_resnest.deploy.classifier.ExportedClassifier`, hence
``scripts/predict.py``, ``scripts/verify.py --export``, the serving handler and the benchmark's default row)
executes its answer and prints :meth:`RuntimeChoice.describe`.

**The rule.** A request names the member the user's path designates (``PREFIX.onnx`` the ONNX member, ``PREFIX``
the export as a whole, see :mod:`~gluon_resnest.deploy.export_files`) and optionally a ``runtime`` and a
``precision`` (the precision of what is not INT8). The candidates are the rows of :data:`PREFERENCE` for that
member that the export has, fastest first:

=============== =========== ============ ========= ======================================================
designated      member      runtime      precision used by default when
=============== =========== ============ ========= ======================================================
export, .onnx   onnx        openvino     bf16      the ONNX member was checked in OpenVINO at bf16
export, -bf16   bf16        mxnet        bf16      the bf16 member was checked (it always is)
export, .onnx   onnx        openvino     f32       always
export, .onnx   onnx        onnxruntime  f32       always
export          symbol      mxnet        f32       always (oneDNN-fused when exported so)
-int8           int8        mxnet        f32       always
-int8.onnx      int8_onnx   openvino     f32       the INT8 ONNX member was checked in OpenVINO
-int8.onnx      int8_onnx   onnxruntime  f32       always
=============== =========== ============ ========= ======================================================

Without ``runtime`` or ``precision`` the first row that is used by default and can run here (``available``:
installed, and for bf16 a CPU with bf16 units) wins. ``runtime`` keeps the rows of that runtime (those used by
default first; a member checked in another runtime runs in the one forced). ``precision`` keeps the rows at that
precision; OpenVINO rows take any precision (its hint for what is not INT8), MXNet's and onnxruntime's run their
member's. Among the rows a request keeps, the first that can run here wins; none is an error, never a silent
choice outside the request. INT8 members run only when a path names them: their answers differ from float32
beyond rounding (the export's agreement check measures by how much). Refused, with an
:class:`~gluon_resnest.utils.errors.OptionError` naming the options: ``runtime`` mxnet for an ONNX file; an ONNX
runtime for an export without an ONNX member, or for an MXNet member's path; a ``precision`` no kept row runs at.
``tests/deploy/test_runtime_rule.py`` holds every row and refusal as a test case.
"""
import dataclasses
from typing import Optional

from ..utils.errors import OptionError, RuntimeUnavailable
from ..utils.options import check_settings, option
from .openvino_runtime import PRECISIONS

__all__ = ["RUNTIMES", "RuntimeRequest", "RuntimeChoice", "Row", "PREFERENCE", "choose_runtime"]

#: The runtimes an export can run in: MXNet for symbol/params members, onnxruntime and OpenVINO for ONNX ones.
RUNTIMES = ("openvino", "onnxruntime", "mxnet")


@dataclasses.dataclass(frozen=True)
class RuntimeRequest:
    """What a caller asks of an export: the ``member`` its path designates (``None``: the export as a whole), and
    optionally a ``runtime`` and a ``precision`` (command-line options of predict.py, verify.py and serve.py)."""
    runtime: Optional[str] = option(None, "force a runtime (default: the fastest the export's files allow, "
                                          "docs/deployment.md: which runtime runs an export)", type=str,
                                    choices=RUNTIMES)
    precision: Optional[str] = option(None, "precision of what is not INT8: OpenVINO's hint, or MXNet's member "
                                            "(default: bf16 where the export checked it and the CPU has bf16 "
                                            "units, else f32)", type=str, choices=PRECISIONS)
    member: Optional[str] = None

    def __post_init__(self):
        check_settings(self)


@dataclasses.dataclass(frozen=True)
class Row:
    """A candidate: ``member`` in ``runtime`` at ``precision``; used by default only if the member was checked in
    that runtime at ``needs_check`` (a precision) when that is set."""
    member: str
    runtime: str
    precision: str
    needs_check: Optional[str] = None

    @property
    def any_precision(self):
        """OpenVINO runs an ONNX member at the precision it is asked for (for what is not INT8)."""
        return self.runtime == "openvino"


_ONNX_ROWS = (Row("onnx", "openvino", "bf16", "bf16"), Row("onnx", "openvino", "f32"),
              Row("onnx", "onnxruntime", "f32"))
_BF16_ROW = Row("bf16", "mxnet", "bf16", "bf16")

#: The candidates per designated member (``None``: the export as a whole), fastest first.
PREFERENCE = {
    None: (_ONNX_ROWS[0], _BF16_ROW) + _ONNX_ROWS[1:] + (Row("symbol", "mxnet", "f32"),),
    "onnx": _ONNX_ROWS,
    "bf16": (_BF16_ROW,),
    "int8": (Row("int8", "mxnet", "f32"),),
    "int8_onnx": (Row("int8_onnx", "openvino", "f32", "int8"), Row("int8_onnx", "onnxruntime", "f32")),
}


@dataclasses.dataclass(frozen=True)
class RuntimeChoice:
    """The rule's answer: run ``member`` in ``runtime``, at ``precision`` for what is not INT8."""
    member: str
    runtime: str
    precision: str

    def describe(self, member_precision, file_name, fused=False):
        """``"openvino bf16, r50.onnx"``, ``"mxnet int8, r50-int8 symbol/params"``: the runtime, the precision
        (``member_precision`` for an INT8 member), the file."""
        shown = member_precision if member_precision == "int8" else self.precision
        return "%s %s, %s%s" % (self.runtime, shown, file_name, " oneDNN-fused" if fused else "")


def _refuse(request, prefix):
    """The :class:`OptionError` of a ``runtime``/``precision`` that no candidate of the designated member takes."""
    path = prefix + {"int8": "-int8", "bf16": "-bf16"}.get(request.member, "")
    if request.runtime == "mxnet" and request.member in ("onnx", "int8_onnx"):
        return OptionError("{runtime} mxnet runs the symbol/params files: give the export prefix %s, not its ONNX "
                           "file" % prefix)
    if request.runtime in ("openvino", "onnxruntime") and request.member in ("int8", "bf16"):
        return OptionError("{runtime} %s runs an ONNX file and %s is MXNet's %s symbol/params; give %s.onnx "
                           "(exported with --onnx)" % (request.runtime, path, request.member, path if
                                                       request.member == "int8" else prefix))
    if request.runtime in ("openvino", "onnxruntime") and not request.precision:
        return OptionError("{runtime} %s runs an ONNX file and %s has none; give PREFIX.onnx of an export made with "
                           "an ONNX file" % (request.runtime, prefix))
    if request.runtime == "onnxruntime":
        return OptionError("{precision} %s: {runtime} onnxruntime runs f32 only" % request.precision)
    if request.member == "int8":
        return OptionError("{precision} %s: MXNet's INT8 member %s runs its other operators at f32; the precision "
                           "applies to OpenVINO on %s.onnx" % (request.precision, path, path))
    if request.precision == "bf16":
        return OptionError("{precision} bf16: %s has no member that runs in bf16%s; export it with --bf16"
                           % (path, " in {runtime} %s" % request.runtime if request.runtime else ""))
    return OptionError("{precision} %s: %s runs at %s only; give %s" % (
        request.precision, path, "bf16" if request.member == "bf16" else "its own precision", prefix))


def choose_runtime(members, request, available, prefix="PREFIX"):
    """The :class:`RuntimeChoice` for ``request`` (:class:`RuntimeRequest`) on an export with ``members``
    (``{member name: Member}``), given ``available``, a container of the ``(runtime, precision)`` pairs this
    process can run (with an optional ``reason(runtime, precision)`` method saying why one cannot). The rule is
    the module's table; ``prefix`` only names the export in messages.

    :class:`~gluon_resnest.utils.errors.OptionError` for a request the export cannot take;
    :class:`~gluon_resnest.utils.errors.RuntimeUnavailable` when no row the request keeps can run here.
    """
    rows = [row for row in PREFERENCE[request.member] if row.member in members]
    met = [row for row in rows if row.needs_check is None or members[row.member].checked(row.runtime, row.needs_check)]
    if request.runtime:
        rows = [row for row in met if row.runtime == request.runtime] + \
            [row for row in rows if row.runtime == request.runtime and row not in met]
    elif not request.precision:
        rows = met
    if request.precision:
        rows = [dataclasses.replace(row, precision=request.precision) if row.any_precision else row
                for row in rows if row.any_precision or row.precision == request.precision]
        rows = [row for i, row in enumerate(rows) if row not in rows[:i]]
    if not rows:
        raise _refuse(request, prefix)
    for row in rows:
        if (row.runtime, row.precision) in available:
            return RuntimeChoice(row.member, row.runtime, row.precision)
    raise _unavailable(rows[-1] if not (request.runtime or request.precision) else rows[0], request, available)


def _unavailable(row, request, available):
    if request.precision and not request.runtime and ("openvino", "f32") not in available and \
            row.runtime == "openvino":
        return OptionError("{precision} applies to OpenVINO, which is not installed")
    reason_of = getattr(available, "reason", None)
    reason = reason_of(row.runtime, row.precision) if reason_of else None
    return RuntimeUnavailable(reason or "%s cannot run at %s in this process" % (row.runtime, row.precision))
