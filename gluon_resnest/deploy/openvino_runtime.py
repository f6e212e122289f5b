"""OpenVINO (optional extra ``openvino``) as a CPU runtime for the ONNX export, in float32 or bfloat16.

bfloat16 needs a CPU with AVX512_BF16 or AMX; OpenVINO then runs convolutions and matrix products in bf16 with
float32 accumulation and keeps the input and output float32.
"""
from ..utils.errors import RuntimeUnavailable

__all__ = ["PRECISIONS", "OpenVinoUnavailable", "import_openvino", "cpu_bf16_flags", "check_bf16_support",
           "compile_onnx", "run_compiled"]

PRECISIONS = ("f32", "bf16")

#: /proc/cpuinfo flags of which one is needed for fast bf16 inference.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class OpenVinoUnavailable(RuntimeUnavailable):
    """OpenVINO is not installed, or this CPU cannot run the requested precision."""


def import_openvino():
    """The ``openvino`` module, or :class:`OpenVinoUnavailable` saying how to install it."""
    try:
        import openvino
    except ImportError:
        raise OpenVinoUnavailable("OpenVINO is not installed; install the optional extra: pip install -c "
                                  "constraints.txt '.[openvino]' (or pip install openvino)") from None
    return openvino


def cpu_bf16_flags(cpuinfo="/proc/cpuinfo"):
    """The bf16 instruction-set flags (:data:`BF16_FLAGS`) this CPU reports; empty when unknown."""
    try:
        with open(cpuinfo) as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return []
    return [flag for flag in BF16_FLAGS if flag in flags]


def check_bf16_support(core=None):
    """Raise :class:`OpenVinoUnavailable` unless OpenVINO reports native BF16 on this CPU (AVX512_BF16 or AMX;
    without them OpenVINO would emulate bf16)."""
    ov = import_openvino()
    core = core or ov.Core()
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if "BF16" not in capabilities:
        raise OpenVinoUnavailable("this CPU has no native bfloat16 support (needs AVX512_BF16 or AMX; OpenVINO "
                                  "reports %s, /proc/cpuinfo bf16 flags: %s); use float32 or INT8"
                                  % (", ".join(capabilities), ", ".join(cpu_bf16_flags()) or "none"))


def compile_onnx(onnx_path, precision="f32", batch_size=None, threads=None, layer_counters=False):
    """An OpenVINO ``CompiledModel`` of ``onnx_path`` for the CPU at ``precision`` ("f32" or "bf16" for what
    is not INT8; ``None`` leaves OpenVINO's own default), optimized for latency; ``batch_size`` fixes the dynamic
    batch dimension, ``threads`` the inference threads; ``layer_counters`` turns on OpenVINO's per-layer timing
    (``InferRequest.profiling_info``)."""
    if precision is not None and precision not in PRECISIONS:
        raise ValueError("precision must be one of %s, got %r" % (", ".join(PRECISIONS), precision))
    ov = import_openvino()
    core = ov.Core()
    if precision == "bf16":
        check_bf16_support(core)
    model = core.read_model(onnx_path)
    if batch_size is not None:
        shape = list(model.inputs[0].get_partial_shape())
        shape[0] = batch_size
        model.reshape({model.inputs[0]: ov.PartialShape(shape)})
    config = {"PERFORMANCE_HINT": "LATENCY"}
    if precision is not None:
        config["INFERENCE_PRECISION_HINT"] = precision
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    if layer_counters:
        config["PERF_COUNT"] = True
    return core.compile_model(model, "CPU", config)


def run_compiled(compiled, data):
    """First output of an OpenVINO ``CompiledModel`` on one input array, as a numpy array."""
    return compiled(data)[compiled.outputs[0]]
