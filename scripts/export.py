#!/usr/bin/env python
"""Export a ResNeSt for deployment: MXNet symbol/params, optionally ONNX, INT8 and a checked bf16 ONNX path.

    python scripts/export.py --model resnest50 --pretrained --out deploy/resnest50 --onnx
    python scripts/export.py --model resnest14 --checkpoint runs/toy --out deploy/toy --int8 naive \\
        --calib-data runs/toy/toy_data/toy_train.rec --val-data runs/toy/toy_data/toy_val.rec --min-agreement 0.98
    python scripts/export.py --model resnest50 --pretrained --out deploy/resnest50 --bf16 --val-data VAL_IMAGES

Writes PREFIX-symbol.json, PREFIX-0000.params, PREFIX-meta.json; --onnx adds PREFIX.onnx; --int8 adds
PREFIX-int8-symbol.json/-0000.params/-meta.json, and with --onnx (or --bf16) also PREFIX-int8.onnx (every
convolution INT8; scripts/predict.py PREFIX-int8.onnx runs it in the runtime it was checked in, OpenVINO when
installed). Every export is checked against the source network, the symbol/params pair in a separate process that
does not import gluon_resnest (SymbolBlock.imports and mx.mod.Module); each INT8 model is compared with float32 on
held-out images (--val-data, else the --calib-data images after the calibration batches) and fails below
--min-agreement. --bf16 writes PREFIX.onnx and checks OpenVINO's bfloat16 inference of it (needs the optional extra
openvino and a CPU with AVX512_BF16 or AMX) against float32 the same way; run it with scripts/predict.py PREFIX.onnx
--runtime openvino. The files are published together, and only when every check passed; PREFIX-meta.json lists each
with its sha1. Files of an earlier export at PREFIX that this one does not produce make the export stop (naming
them) unless --force.
"""
import argparse
import json
import sys
import warnings

from gluon_resnest import list_models
from gluon_resnest.deploy.agreement import AgreementWarning, ExportCheckError
from gluon_resnest.deploy.deployment import ExportOptions, export_deployment
from gluon_resnest.deploy.int8 import CALIB_MODES
from gluon_resnest.train.checkpoint import run_class_names, run_weights
from gluon_resnest.utils.cli import run_main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=list_models())
    src = p.add_mutually_exclusive_group()
    src.add_argument("--params", help="a .params file of this variant")
    src.add_argument("--checkpoint", help="a training --save-dir (uses best.params or the newest checkpoint)")
    src.add_argument("--pretrained", action="store_true", help="the published weights")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--size", type=int, default=0, help="input resolution (0: the model's eval size)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--preprocess", action="store_true", help="bake in uint8 NHWC input and mean/std normalization")
    p.add_argument("--fuse", action="store_true", help="export the oneDNN-fused CPU graph (conv+BN+ReLU+add)")
    p.add_argument("--onnx", action="store_true", help="also write PREFIX.onnx (dynamic batch)")
    p.add_argument("--int8", choices=CALIB_MODES, help="also write an INT8 model calibrated this way")
    p.add_argument("--calib-data", help="RecordIO or image folder for INT8 calibration")
    p.add_argument("--calib-batches", type=int, default=4)
    p.add_argument("--bf16", action="store_true",
                   help="also write PREFIX.onnx and check OpenVINO bfloat16 inference of it against float32")
    p.add_argument("--val-data", help="RecordIO or image folder to compare INT8/bf16 with float32 on "
                                      "(default: the --calib-data images not used for calibration)")
    p.add_argument("--min-agreement", type=float, metavar="X",
                   help="fail (publish nothing) when top-1 agreement with float32 is below X (0..1)")
    p.add_argument("--force", action="store_true",
                   help="remove files of an earlier export at PREFIX that this export does not produce")
    args = vars(p.parse_args(argv))
    source = {name: args.pop(name) for name in ("model", "params", "checkpoint", "pretrained", "out")}
    options = ExportOptions(**args)
    checkpoint = source["checkpoint"]
    weights = source["params"] or (run_weights(checkpoint) if checkpoint else source["pretrained"])
    if not weights:
        print("warning: no weights given, exporting random initialization", file=sys.stderr)
    warnings.simplefilter("always", AgreementWarning)
    try:
        report = export_deployment(source["model"], weights, source["out"], options,
                                   class_names=run_class_names(checkpoint) if checkpoint else None)
    except ExportCheckError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    if not report["reload_ok"]:
        print("error: reloaded export differs from the source network; nothing was published", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
