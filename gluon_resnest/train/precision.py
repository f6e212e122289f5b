"""The precision a network trains in: ``float32``; ``float16`` (GPU: float16 parameters, float32 master weights in
the optimizer); ``bfloat16`` (CPU: MXNet's automatic mixed precision, AMP).

In ``bfloat16`` the parameters, their gradients and the optimizer states stay float32 (so checkpoints, Horovod's
gradient sums and the final export are float32, as in a float32 run) while the operators of :data:`BF16_OPS` run in
bfloat16 on oneDNN: convolutions and the classifier, batch norms, ReLUs, pools and the shortcut sums take the
precision of their inputs. The split-attention glue (slices, products, the radix softmax), the loss and its softmax
stay float32, since their bfloat16 CPU kernels cost more than float32 plus the casts. AMP changes MXNet's
operators for the whole process (:func:`prepare`, before the network is built), so one process trains in one
precision.
"""
import logging

import mxnet as mx
import numpy as np

from ..utils.cpu_runtime import cpu_runtime
from ..utils.errors import OptionError

__all__ = ["DTYPES", "BF16_OPS", "prepare", "input_dtype", "parameter_dtype", "as_float32"]

logger = logging.getLogger(__name__)

#: The precisions a network trains in.
DTYPES = ("float32", "float16", "bfloat16")
#: The operators that run in bfloat16 under AMP: MXNet's list for bfloat16 (convolutions, fully connected) and
#: ``Activation`` (the ReLUs ``nn.Activation`` emits, in none of MXNet's lists).
BF16_OPS = ("Convolution", "FullyConnected", "Activation")
_AMP = []


def prepare(dtype, ctx):
    """Set up this process for training in ``dtype`` on ``ctx``, before the network is built: for ``bfloat16``,
    MXNet's AMP (once per process; another precision afterwards is an ``OptionError``) and a warning where oneDNN
    emulates bf16 (which costs more than float32). ``float16`` needs a GPU and ``bfloat16`` the CPU (``OptionError``)."""
    if dtype == "float16" and ctx.device_type != "gpu":
        raise OptionError("float16 training needs a GPU: MXNet 1.9 has no float16 GEMM on CPU (use {gpu}, or "
                          "{dtype} bfloat16 on a CPU with bf16 units, or float32)")
    if dtype == "bfloat16" and ctx.device_type != "cpu":
        raise OptionError("{dtype} bfloat16 trains on the CPU (MXNet 1.9 has no bfloat16 GPU kernels); use {dtype} "
                          "float16 with {gpu}")
    if _AMP and _AMP[0] != dtype:
        raise OptionError("this process set up MXNet's AMP for %s training, which changes MXNet's operators for the "
                          "process; train {dtype} %s in another process" % (_AMP[0], dtype))
    if dtype != "bfloat16" or _AMP:
        return
    from mxnet.contrib import amp

    amp.init(target_dtype="bfloat16", target_precision_ops=list(BF16_OPS))
    _AMP.append(dtype)
    runtime = cpu_runtime()
    if not runtime.native_bf16:
        logger.warning("bfloat16 training on this CPU runs bf16 %s, slower than float32 "
                       "(docs/performance.md#bf16-without-amx); --dtype float32 trains faster here",
                       "emulated with AVX-512" if "emulated" in runtime.bf16 else "without bf16 units")


def parameter_dtype(dtype):
    """The dtype the parameters are held in: float16 for ``float16``, else float32."""
    return "float16" if dtype == "float16" else "float32"


def input_dtype(dtype):
    """The dtype of the batches fed to the network: as its parameters (AMP casts for bfloat16 itself)."""
    return parameter_dtype(dtype)


def as_float32(array):
    """``array`` (an NDArray of any float dtype, bfloat16 included) as float32."""
    return array if array.dtype == np.float32 else mx.nd.amp_cast(array, dtype="float32")
