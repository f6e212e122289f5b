#!/usr/bin/env python
"""Export a ResNeSt for deployment: MXNet symbol/params, optionally ONNX and INT8.

    python scripts/export.py --model resnest50 --pretrained --out deploy/resnest50 --onnx
    python scripts/export.py --model resnest14 --checkpoint runs/toy --out deploy/toy --int8 naive \\
        --calib-data runs/toy/toy_data/toy_val.rec

Writes PREFIX-symbol.json, PREFIX-0000.params, PREFIX-meta.json; --onnx adds PREFIX.onnx; --int8 adds
PREFIX-int8-symbol.json/-0000.params. Every export is checked against the source network, the symbol/params
pair in a separate process that does not import gluon_resnest (SymbolBlock.imports and mx.mod.Module).
"""
import argparse
import json
import sys

from gluon_resnest import list_models
from gluon_resnest.deploy.deployment import export_deployment
from gluon_resnest.train.checkpoint import run_class_names, run_weights


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=list_models())
    src = p.add_mutually_exclusive_group()
    src.add_argument("--params", help="a .params file of this variant")
    src.add_argument("--checkpoint", help="a training --save-dir (uses best.params or the newest checkpoint)")
    src.add_argument("--pretrained", action="store_true", help="the published weights")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--size", type=int, help="input resolution (default: the model's eval size)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--preprocess", action="store_true", help="bake in uint8 NHWC input and mean/std normalization")
    p.add_argument("--fuse", action="store_true", help="export the oneDNN-fused CPU graph (conv+BN+ReLU+add)")
    p.add_argument("--onnx", action="store_true", help="also write PREFIX.onnx (dynamic batch)")
    p.add_argument("--int8", choices=["naive", "entropy"], help="also write an INT8 model calibrated this way")
    p.add_argument("--calib-data", help="RecordIO or image folder for INT8 calibration")
    p.add_argument("--calib-batches", type=int, default=4)
    args = p.parse_args(argv)
    if args.int8 and not args.calib_data:
        p.error("--int8 needs --calib-data")
    if args.fuse and args.onnx:
        p.error("--onnx needs the plain graph; drop --fuse")
    if args.int8 and args.preprocess:
        p.error("--int8 exports NCHW float input; drop --preprocess")
    weights = args.params or (run_weights(args.checkpoint) if args.checkpoint else args.pretrained)
    if not weights:
        print("warning: no weights given, exporting random initialization", file=sys.stderr)
    report = export_deployment(args.model, weights, args.out, args.size, args.batch_size, args.preprocess,
                               args.onnx, args.int8, args.calib_data, args.calib_batches, args.fuse,
                               class_names=run_class_names(args.checkpoint) if args.checkpoint else None)
    print(json.dumps(report, indent=2))
    if not report["reload_ok"]:
        print("error: reloaded export differs from the source network", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
