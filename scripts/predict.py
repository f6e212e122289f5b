#!/usr/bin/env python
"""Classify images with an exported ResNeSt (symbol/params prefix, INT8 prefix, or .onnx); prints the runtime it
chose, then the top 5 per image.

    python scripts/predict.py deploy/resnest50 cat.jpg dog.jpg     (its .onnx in OpenVINO or onnxruntime if exported
                                                                    with --onnx, else the symbol/params files)
    python scripts/predict.py deploy/resnest50 cat.jpg --runtime mxnet           (the symbol/params files)
    python scripts/predict.py deploy/resnest50.onnx cat.jpg --runtime onnxruntime
    python scripts/predict.py deploy/resnest50.onnx cat.jpg --runtime openvino     (bf16 if exported with --bf16)
    python scripts/predict.py deploy/resnest50-int8.onnx cat.jpg         (export --int8 ... --onnx; checked runtime)
    python scripts/predict.py runs/toy/resnest14 --rec runs/toy/toy_data/toy_val.rec --count 8
"""
import argparse
import sys

import gluon_resnest  # noqa: F401  (sizes MXNet's CPU threads before MXNet loads)
from gluon_resnest.data.datasets import UnreadableSample, open_image_dataset
from gluon_resnest.data.decoder import UndecodableImage, decode_image
from gluon_resnest.deploy.classifier import RUNTIMES, ExportedClassifier, class_names_for, top_classes
from gluon_resnest.deploy.openvino_runtime import PRECISIONS
from gluon_resnest.utils.cli import run_main


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="export prefix (PREFIX-symbol.json/-0000.params), PREFIX.onnx or PREFIX-int8.onnx")
    p.add_argument("images", nargs="*", help="image files")
    p.add_argument("--rec", help="take images from this RecordIO file instead (labels are shown)")
    p.add_argument("--count", type=int, default=8, help="how many RecordIO images")
    p.add_argument("--topk", type=int, default=5)
    p.add_argument("--runtime", choices=RUNTIMES,
                   help="force a runtime (default: the export's ONNX file in OpenVINO when installed, else "
                        "onnxruntime, else the symbol/params files in MXNet; for PREFIX-int8.onnx the runtime the "
                        "export checked it in)")
    p.add_argument("--precision", choices=PRECISIONS,
                   help="OpenVINO inference precision (default: bf16 when the export was checked with --bf16)")
    args = p.parse_args(argv)
    if not args.images and not args.rec:
        p.error("give image files or --rec")
    clf = ExportedClassifier(args.model, runtime=args.runtime, precision=args.precision)
    print("runtime: %s" % clf.description)
    items, unread = [], 0
    if args.rec:
        dataset = open_image_dataset(args.rec)
        for i in range(min(args.count, len(dataset))):
            try:
                img, label = dataset[i]
            except UnreadableSample as err:
                print("error: %s" % err, file=sys.stderr)
                unread += 1
                continue
            items.append(("%s[%d]" % (args.rec, i), img, int(label)))
    for path in args.images:
        try:
            with open(path, "rb") as handle:
                items.append((path, decode_image(handle.read()), None))
        except (OSError, UndecodableImage) as err:
            print("error: cannot read image %s: %s" % (path, getattr(err, "strerror", None) or err), file=sys.stderr)
            unread += 1
    if not items:
        return 2
    logits = clf.logits([img for _, img, _ in items])
    names = class_names_for(clf.meta, logits.shape[1])
    correct = 0
    for (name, _, label), row in zip(items, logits):
        top, prob = top_classes(row, args.topk)
        truth = "" if label is None else " (label: %s)" % names[label]
        correct += label is not None and top[0] == label
        print("%s%s: %s" % (name, truth, ", ".join("%s %.1f%%" % (names[i], 100 * prob[i]) for i in top)))
    if args.rec:
        print("top-1 on these %d images: %d/%d" % (len(items), correct, len(items)))
    return 2 if unread else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
