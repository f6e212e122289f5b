"""Which member of an export runs in which runtime at which precision: one rule, :func:`choose_runtime`.

Every entry point that runs an export (:class:`~gluon_resnest.deploy.classifier.ExportedClassifier`, hence
``scripts/predict.py``, ``scripts/verify.py --export``, the serving handler and the benchmark's default row)
executes its answer and prints :meth:`RuntimeChoice.describe`.

**The rule.** A request names the member the user's path designates (``PREFIX.onnx`` the ONNX member, ``PREFIX``
the export as a whole, see :mod:`~gluon_resnest.deploy.export_files`) and optionally a ``runtime`` and a
``precision`` (OpenVINO's precision for what is not INT8). The candidates are the rows of :data:`PREFERENCE` for
that member that the export has, fastest first:

=============== =========== ============ ========= ======================================================
designated      member      runtime      precision used by default when
=============== =========== ============ ========= ======================================================
export, .onnx   onnx        openvino     bf16      the ONNX member was checked in OpenVINO at bf16
export, .onnx   onnx        openvino     f32       always
export, .onnx   onnx        onnxruntime  f32       always
export          symbol      mxnet        f32       always (oneDNN-fused when exported so)
-int8           int8        mxnet        f32       always
-int8.onnx      int8_onnx   openvino     f32       the INT8 ONNX member was checked in OpenVINO
-int8.onnx      int8_onnx   onnxruntime  f32       always
=============== =========== ============ ========= ======================================================

Without ``runtime`` or ``precision`` the first row that is used by default and can run here
(``available``) wins. ``runtime`` keeps the rows of that runtime and takes the first used by default, else the
first (a member checked in another runtime runs in the one forced); ``precision`` keeps the OpenVINO rows and sets
their precision. A forced choice that cannot run here is an
error, never a silent fallback. Refused, with an :class:`~gluon_resnest.utils.errors.OptionError` naming the
options: ``runtime`` mxnet for an ONNX file; an ONNX runtime for an export without an ONNX member or for the
``-int8`` symbol/params; ``precision`` with a runtime other than OpenVINO or for a symbol/params member.
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
    precision: Optional[str] = option(None, "OpenVINO's precision for what is not INT8 (default: bf16 when the "
                                            "export checked its ONNX file in bf16, else f32)", type=str,
                                      choices=PRECISIONS)
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


#: The candidates per designated member (``None``: the export as a whole), fastest first.
PREFERENCE = {
    None: (Row("onnx", "openvino", "bf16", "bf16"), Row("onnx", "openvino", "f32"), Row("onnx", "onnxruntime", "f32"),
           Row("symbol", "mxnet", "f32")),
    "onnx": (Row("onnx", "openvino", "bf16", "bf16"), Row("onnx", "openvino", "f32"),
             Row("onnx", "onnxruntime", "f32")),
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


def _refuse(request, members, prefix):
    """The :class:`OptionError` of a forced ``runtime``/``precision`` the designated member cannot take."""
    if request.runtime == "mxnet":
        return OptionError("{runtime} mxnet runs the symbol/params files: give the export prefix %s, not its ONNX "
                           "file" % prefix)
    if request.runtime is not None:
        if request.member == "int8":
            return OptionError("{runtime} %s runs an ONNX file and %s-int8 is the INT8 symbol/params; give "
                               "%s-int8.onnx (export with --int8 and --onnx)" % (request.runtime, prefix, prefix))
        return OptionError("{runtime} %s runs an ONNX file and %s has none; give PREFIX.onnx of an export made with "
                           "an ONNX file" % (request.runtime, prefix))
    return OptionError("{precision} applies to {runtime} openvino, which runs an ONNX file; give PREFIX.onnx, not %s"
                       % prefix)


def choose_runtime(members, request, available, prefix="PREFIX"):
    """The :class:`RuntimeChoice` for ``request`` (:class:`RuntimeRequest`) on an export with ``members``
    (``{member name: Member}``), given ``available``, a container of the ``(runtime, precision)`` pairs this
    process can run (with an optional ``reason(runtime, precision)`` method saying why one cannot). The rule is
    the module's table; ``prefix`` only names the export in messages.

    :class:`~gluon_resnest.utils.errors.OptionError` for a request the export cannot take;
    :class:`~gluon_resnest.utils.errors.RuntimeUnavailable` for a forced runtime or precision that cannot run here.
    """
    if request.precision and request.runtime == "onnxruntime":
        raise OptionError("{precision} applies to {runtime} openvino")
    rows = [row for row in PREFERENCE[request.member] if row.member in members]
    met = [row for row in rows if row.needs_check is None or members[row.member].checked(row.runtime, row.needs_check)]
    if request.runtime:
        rows = [row for row in met if row.runtime == request.runtime] or \
            [row for row in rows if row.runtime == request.runtime]
    elif request.precision:
        rows = [row for row in rows if row.runtime == "openvino"]
    else:
        rows = met
    if not rows:
        raise _refuse(request, members, prefix)
    if request.precision:
        rows = [dataclasses.replace(rows[0], precision=request.precision)]
    forced = bool(request.runtime or request.precision)
    for row in rows:
        if (row.runtime, row.precision) in available:
            return RuntimeChoice(row.member, row.runtime, row.precision)
        if forced:
            break
    row = rows[0] if forced else rows[-1]
    raise _unavailable(row, request, available)


def _unavailable(row, request, available):
    if request.precision and not request.runtime and ("openvino", "f32") not in available:
        return OptionError("{precision} applies to OpenVINO, which is not installed")
    reason_of = getattr(available, "reason", None)
    reason = reason_of(row.runtime, row.precision) if reason_of else None
    text = reason or "%s cannot run at %s in this process" % (row.runtime, row.precision)
    return RuntimeUnavailable(text)
