#!/usr/bin/env python
"""ImageNet-style validation of a ResNeSt: top-1/top-5 from a RecordIO file or an image folder.

    python scripts/verify.py --model resnest50 --pretrained --data val.rec
    python scripts/verify.py --model resnest14 --params my.params --classes 10 --data toy_val.rec --size 64
    python scripts/verify.py --export runs/toy/resnest14 --data runs/toy/toy_data/toy_val.rec
    python scripts/verify.py --export deploy/resnest50.onnx --data val_folder
    python scripts/verify.py --export deploy/resnest50 --runtime mxnet --data val.rec

An export runs in the runtime scripts/predict.py would choose (its ONNX file in OpenVINO or onnxruntime when it has
one, else its symbol/params files) unless --runtime forces one; the result line names it.

An export (symbol/params prefix, INT8 prefix or .onnx) is scored with the input size and normalization in its
-meta.json. Each model is evaluated with its own transform (resize ceil(size/0.875) + center crop, bilinear, below 320 px;
crop size/(size+32) of the short side + bicubic resize from 320 px) unless --size/--crop-pct override it.
"""
import argparse
import sys

from gluon_resnest import list_models  # first: it sizes MXNet's CPU threads before MXNet loads
import mxnet as mx  # noqa: I100
from gluon_resnest.deploy.classifier import RUNTIMES
from gluon_resnest.train.evaluation import evaluate_export, evaluate_model
from gluon_resnest.utils.cli import run_main
from gluon_resnest.utils.fileio import atomic_write


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", choices=list_models(), metavar="MODEL", help="a ResNeSt variant (with weights)")
    source.add_argument("--export", help="an exported model: PREFIX (PREFIX-symbol.json, INT8 too) or FILE.onnx")
    parser.add_argument("--runtime", choices=RUNTIMES, help="--export: force this runtime (see scripts/predict.py)")
    parser.add_argument("--data", required=True, help="validation .rec (with .idx) or image folder")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="published weights from the model store")
    weights.add_argument("--params", help="a .params file of this variant")
    parser.add_argument("--classes", type=int, help="classifier width (default: that of the weights)")
    parser.add_argument("--size", type=int, help="eval resolution (default: the model's published one)")
    parser.add_argument("--crop-pct", type=float, help="override the crop fraction")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gpu", type=int, help="GPU id (default: CPU)")
    parser.add_argument("--json", help="write the result here as JSON")
    args = parser.parse_args(argv)
    if args.model and not (args.pretrained or args.params):
        parser.error("give --pretrained or --params: random weights have nothing to verify")
    if args.runtime and not args.export:
        parser.error("--runtime applies to --export")
    if args.export and (args.pretrained or args.params or args.classes or args.size or args.crop_pct):
        parser.error("--export takes its weights, classes and input size from the export")
    ctx = mx.gpu(args.gpu) if args.gpu is not None else mx.cpu()
    if args.export:
        result = evaluate_export(args.export, args.data, args.batch_size, args.workers, ctx, progress=True,
                                 runtime=args.runtime)
    else:
        result = evaluate_model(args.model, args.params or True, args.data, args.classes, args.size,
                                args.crop_pct, args.batch_size, args.workers, ctx, progress=True)
    if result["labels_outside"]:
        print("warning: %(labels_outside)d of %(images)d images have labels outside the classifier's %(classes)d "
              "classes; they count as wrong" % result, file=sys.stderr)
    print("%(model)s on %(images)d images at %(size)d px: top-1 %(top1).2f%%, top-5 %(top5).2f%%" % result
          + (" (runtime: %s)" % result["runtime"] if "runtime" in result else ""))
    if args.json:
        atomic_write(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, flags={"input_size": "--size"}))
