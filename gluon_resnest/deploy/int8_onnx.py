"""INT8 ONNX export: the float32 ONNX export (batch norms folded into the convolutions) in QDQ form, quantized
by onnxruntime's static quantizer and calibrated on real images: every convolution and the classifier INT8
(per-channel int8 weights, uint8 activations), with the residual additions, ReLUs and pools between them
(:data:`QUANTIZED_OPERATORS`), so OpenVINO keeps INT8 tensors from one convolution to the next. The attention
branch's slices, products and sums stay float32. OpenVINO and onnxruntime run it."""
import logging

from ..utils.fileio import atomic_write
from .int8 import CALIB_MODES

__all__ = ["quantize_onnx", "ONNX_CALIBRATION", "QUANTIZED_OPERATORS"]

#: The ONNX operators given INT8 inputs. ``Softmax`` (the attention's radix softmax, range [0, 1]) is listed
#: because onnxruntime's quantizer fails on a graph with a ``Softmax`` it does not quantize.
QUANTIZED_OPERATORS = ("Conv", "Gemm", "Add", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Softmax")

#: The onnxruntime calibration methods that implement our calibration modes.
ONNX_CALIBRATION = dict(zip(CALIB_MODES, ("MinMax", "Entropy")))


class _PreprocessingAdvice(logging.Filter):
    """Drops the advice onnxruntime's quantizer logs on the root logger for every model it has not pre-processed
    itself ("Please consider pre-processing before quantization"): the model it gets is our folded export, and the
    INT8 file is held to float32 by the export's agreement check, not by that pass."""

    def filter(self, record):
        return "pre-processing before quantization" not in record.getMessage()


def quantize_onnx(onnx_path, out_path, batches, mode="naive"):
    """Write ``onnx_path`` quantized to INT8 QDQ form to ``out_path`` (atomically); returns ``out_path``.

    ``batches``: float32 ``(N, 3, S, S)`` numpy arrays in the export's layout, the calibration inputs; ``mode``:
    one of :data:`~gluon_resnest.deploy.int8.CALIB_MODES` (min/max ranges, or KL-divergence ranges).
    """
    if mode not in ONNX_CALIBRATION:
        raise ValueError("calibration mode must be one of %s, got %r" % (", ".join(ONNX_CALIBRATION), mode))
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    import onnx

    input_name = onnx.load(onnx_path).graph.input[0].name
    feeds = [{input_name: batch} for batch in batches]
    if not feeds:
        raise ValueError("INT8 ONNX calibration needs at least one batch of images")

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(feeds)

        def get_next(self):
            return next(self.remaining, None)

    def write(tmp):
        advice = _PreprocessingAdvice()
        logging.getLogger().addFilter(advice)
        try:
            quantize_static(onnx_path, tmp, Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=list(QUANTIZED_OPERATORS),
                            calibrate_method=getattr(CalibrationMethod, ONNX_CALIBRATION[mode]))
        finally:
            logging.getLogger().removeFilter(advice)

    return atomic_write(out_path, write)
