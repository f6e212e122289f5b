"""INT8 ONNX export: the float32 ONNX export in QDQ form with every convolution INT8 (per-channel int8 weights,
uint8 activations), quantized by onnxruntime's static quantizer and calibrated on real images. OpenVINO and
onnxruntime run it."""
from ..utils.fileio import atomic_write
from .int8 import CALIB_MODES

__all__ = ["quantize_onnx", "ONNX_CALIBRATION"]

#: The onnxruntime calibration methods that implement our calibration modes.
ONNX_CALIBRATION = dict(zip(CALIB_MODES, ("MinMax", "Entropy")))


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
        quantize_static(onnx_path, tmp, Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=getattr(CalibrationMethod, ONNX_CALIBRATION[mode]))

    return atomic_write(out_path, write)
