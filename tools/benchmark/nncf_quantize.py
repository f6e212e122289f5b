"""Run as a script in the NNCF interpreter (``python -P nncf_quantize.py SRC.onnx CALIB.npy OUT.xml``), not imported:
OpenVINO's own post-training INT8 quantization (NNCF, performance preset) of the float32 ONNX file ``SRC.onnx``,
calibrated on ``CALIB.npy`` (float32, ``(count, batch, 3, S, S)``: ``count`` calibration batches), written as an
OpenVINO IR (``OUT.xml`` and ``OUT.bin``) with a dynamic batch dimension.

Imports only numpy, openvino and nncf: the NNCF interpreter (numpy >= 1.24) has neither MXNet nor gluon_resnest.
"""
import sys


def main(src, calib, out):
    import nncf
    import numpy as np
    import openvino as ov

    batches = list(np.load(calib))
    model = ov.Core().read_model(src)
    model.reshape({model.inputs[0]: ov.PartialShape(list(batches[0].shape))})
    quantized = nncf.quantize(model, nncf.Dataset(batches), subset_size=len(batches),
                              preset=nncf.QuantizationPreset.PERFORMANCE)
    quantized.reshape({quantized.inputs[0]: ov.PartialShape([-1] + list(batches[0].shape[1:]))})
    ov.save_model(quantized, out)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:4])
