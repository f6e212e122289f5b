"""Running an export member in a runtime: what this process can run (:class:`InstalledRuntimes`, the
``available`` argument of :func:`~gluon_resnest.deploy.runtime_rule.choose_runtime`) and the callables that run a
member (:func:`member_runner`, :func:`onnx_runner`)."""
import mxnet as mx

from . import openvino_runtime
from .export import load_exported
from .export_files import MEMBER_KINDS
from .onnx_export import onnx_session, run_onnx

__all__ = ["InstalledRuntimes", "member_runner", "onnx_runner", "onnx_check_runtime"]


class InstalledRuntimes:
    """The ``(runtime, precision)`` pairs this process can run, probed when first asked and remembered:
    MXNet at f32 always, at bf16 where oneDNN has bf16 units (AMX or AVX512_BF16, see
    :func:`~gluon_resnest.utils.cpu_runtime.cpu_runtime`); onnxruntime when it imports; OpenVINO when it imports,
    and at bf16 when it reports native bf16 on this CPU."""

    def __init__(self):
        self._reasons = {}

    def __contains__(self, pair):
        return self.reason(*pair) is None

    def reason(self, runtime, precision):
        """``None`` when ``runtime`` can run at ``precision`` here, else the reason it cannot."""
        key = (runtime, precision)
        if key not in self._reasons:
            self._reasons[key] = self._probe(runtime, precision)
        return self._reasons[key]

    @staticmethod
    def _probe(runtime, precision):
        if runtime == "mxnet":
            return None if precision == "f32" else _mxnet_bf16_problem()
        if runtime == "onnxruntime":
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                return "onnxruntime is not installed; install the optional extra: pip install -c constraints.txt " \
                       "'.[onnx]'"
            return None if precision == "f32" else "onnxruntime runs ONNX files at f32 only"
        try:
            openvino_runtime.import_openvino()
            if precision == "bf16":
                openvino_runtime.check_bf16_support()
        except openvino_runtime.OpenVinoUnavailable as err:
            return str(err)
        return None


def _mxnet_bf16_problem():
    """``None`` when oneDNN runs bf16 convolutions on bf16 units here (AMX or AVX512_BF16), else why not."""
    from ..utils.cpu_runtime import cpu_runtime

    runtime = cpu_runtime()
    if runtime.native_bf16:
        return None
    return ("MXNet's bf16 member needs a CPU with bf16 units (AMX or AVX512_BF16); here oneDNN runs bf16 %s, slower "
            "than float32: run the float32 member"
            % ("emulated with AVX-512" if "emulated" in runtime.bf16 else "not at all"))


def onnx_check_runtime(available):
    """The runtime an export checks a reduced-precision ONNX member in: OpenVINO when it can run here, else
    onnxruntime (the member's default runtime is then the one it was checked in)."""
    return "openvino" if ("openvino", "f32") in available else "onnxruntime"


def onnx_runner(path, runtime, precision="f32"):
    """``run(batch) -> numpy`` of the ONNX file ``path`` in ``runtime`` ("onnxruntime", or "openvino" at
    ``precision`` for what is not INT8): the first output on one input array."""
    if runtime == "openvino":
        compiled = openvino_runtime.compile_onnx(path, precision)
        return lambda batch: openvino_runtime.run_compiled(compiled, batch)
    session = onnx_session(path)
    return lambda batch: run_onnx(path, batch, session)


def member_runner(export, choice, ctx=mx.cpu()):
    """``run(batch)`` of the :class:`~gluon_resnest.deploy.runtime_rule.RuntimeChoice` ``choice`` on ``export``
    (:class:`~gluon_resnest.deploy.export_files.Export`): it maps a numpy batch in the export's layout to numpy
    outputs; a member with a static batch (its manifest's ``batch_size``) takes exactly that batch."""
    if MEMBER_KINDS[choice.member].format == "mxnet":
        block = load_exported(export.member_prefix(choice.member), ctx, export.meta.dtype)
        return lambda batch: block(mx.nd.array(batch, ctx=ctx, dtype=batch.dtype)).asnumpy()
    return onnx_runner(export.files(choice.member)[0], choice.runtime, choice.precision)
