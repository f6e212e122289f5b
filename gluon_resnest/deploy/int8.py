"""INT8 post-training quantization with MXNet's oneDNN backend (CPU), calibrated on real images."""
import contextlib
import os
import warnings

import mxnet as mx

from .agreement import compare_outputs
from .inference_graph import prepare_for_inference

__all__ = ["CalibrationIter", "quantize_model", "compare_outputs", "CALIB_MODES"]

#: Calibration modes: activation ranges from their min/max ("naive") or by KL divergence ("entropy").
CALIB_MODES = ("naive", "entropy")


class CalibrationIter(mx.io.DataIter):
    """A ``DataIter`` over the first ``num_batches`` batches of a Gluon loader (data only), for calibration."""

    def __init__(self, loader, num_batches, data_shape):
        super().__init__(data_shape[0])
        self._batches = []
        for i, (data, _) in enumerate(loader):
            if i >= num_batches:
                break
            if tuple(data.shape) == tuple(data_shape):
                self._batches.append(data)
        if not self._batches:
            raise ValueError("the calibration data yielded no full batch of shape %s" % (tuple(data_shape),))
        self.provide_data = [mx.io.DataDesc("data", tuple(data_shape))]
        self.provide_label = None
        self._cursor = 0

    def reset(self):
        self._cursor = 0

    def next(self):
        if self._cursor >= len(self._batches):
            raise StopIteration
        self._cursor += 1
        return mx.io.DataBatch(data=[self._batches[self._cursor - 1]])


def quantize_model(net, calib_loader, data_shape, calib_mode="naive", num_calib_batches=4, exclude_first=True):
    """Quantize ``net`` (HybridBlock, float32 NCHW input) to INT8; returns a hybridized ``SymbolBlock``.

    The first convolution stays float32 by default (``exclude_first``): it sees raw, signed input and costs
    little. Split-attention glue (reshape, softmax, broadcast_mul) stays float32 as MXNet has no INT8 kernels.
    """
    if calib_mode not in CALIB_MODES:
        raise ValueError("calib_mode must be one of %s, got %r" % (", ".join(CALIB_MODES), calib_mode))
    from mxnet.contrib import quantization

    calib = CalibrationIter(calib_loader, num_calib_batches, data_shape)
    prepare_for_inference(net)
    net.hybridize(static_alloc=True, static_shape=True)
    net(mx.nd.zeros(data_shape))
    exclude = None
    if exclude_first:
        internals = net(mx.sym.var("data")).get_internals().list_outputs()
        convs = [name[:-len("_output")] for name in internals if name.endswith("_fwd_output") and "conv" in name]
        exclude = convs[:1]
    with _quiet_quantizer():
        qnet = quantization.quantize_net(net, quantized_dtype="auto", exclude_layers=exclude, calib_data=calib,
                                         calib_mode=calib_mode, ctx=mx.cpu(),
                                         num_calib_examples=len(calib._batches) * data_shape[0])
    qnet.hybridize(static_alloc=True, static_shape=True)
    qnet(mx.nd.zeros(data_shape))
    return qnet


@contextlib.contextmanager
def _quiet_quantizer():
    """Keep MXNet 1.9's notices about its own quantizer off stderr while it runs: the deprecation of
    ``quantize_net`` for MXNet 2.0, the input type its ``SymbolBlock`` is built without, and the graph executor's
    "Subgraph backend MKLDNN is activated" line (``MXNET_SUBGRAPH_VERBOSE``, unless the user set it)."""
    verbose = os.environ.get("MXNET_SUBGRAPH_VERBOSE")
    os.environ.setdefault("MXNET_SUBGRAPH_VERBOSE", "0")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*deprecated after MXNet 2.0", category=UserWarning)
            warnings.filterwarnings("ignore", message="Cannot decide type", category=UserWarning)
            yield
    finally:
        if verbose is None:
            os.environ.pop("MXNET_SUBGRAPH_VERBOSE", None)
