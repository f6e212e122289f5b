#!/usr/bin/env python
"""Classify images with an exported ResNeSt (PREFIX, PREFIX.onnx, PREFIX-int8, PREFIX-int8.onnx or PREFIX-bf16);
prints the runtime it runs in and the CPU runtime (threads, oneDNN's ISA, AMX), then the top classes per image.

    python scripts/predict.py deploy/resnest50 cat.jpg dog.jpg     (the fastest runtime the export's files allow)
    python scripts/predict.py deploy/resnest50 cat.jpg --runtime mxnet           (the symbol/params files)
    python scripts/predict.py deploy/resnest50.onnx cat.jpg --runtime onnxruntime
    python scripts/predict.py deploy/resnest50.onnx cat.jpg --runtime openvino     (bf16 if exported with --bf16)
    python scripts/predict.py deploy/resnest50-int8.onnx cat.jpg         (export --int8 ... --onnx; checked runtime)
    python scripts/predict.py runs/toy/resnest14 --rec runs/toy/toy_data/toy_val.rec --count 8

Which member runs in which runtime: docs/deployment.md ("Which runtime runs an export").
"""
import argparse
import dataclasses
import sys
from typing import Optional

import gluon_resnest  # first: it sets up MXNet's CPU runtime (threads, oneDNN's ISA) before MXNet loads
from gluon_resnest.data.datasets import UnreadableSample, open_image_dataset
from gluon_resnest.data.decoder import UndecodableImage, decode_image
from gluon_resnest.deploy.classifier import ExportedClassifier, class_names_for, top_classes
from gluon_resnest.deploy.runtime_rule import RuntimeRequest
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.options import Range, add_arguments, check_settings, option, settings_from_args


@dataclasses.dataclass(frozen=True)
class PredictOptions:
    """What predict.py prints: the ``topk`` classes of each image, of image files or of ``count`` records of
    ``rec``."""
    rec: Optional[str] = option(None, "take images from this RecordIO file instead (labels are shown)", type=str)
    count: int = option(8, "how many RecordIO images", bounds=Range(1))
    topk: int = option(5, "classes printed per image", bounds=Range(1))

    def __post_init__(self):
        check_settings(self)


def parser():
    """The command line: the export, the image files, and the options of :class:`PredictOptions` and
    :class:`~gluon_resnest.deploy.runtime_rule.RuntimeRequest`."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="export: PREFIX, PREFIX.onnx, PREFIX-int8 or PREFIX-int8.onnx")
    p.add_argument("images", nargs="*", help="image files")
    add_arguments(p, [PredictOptions, RuntimeRequest], defaults_in_help=True)
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    opts, request = settings_from_args(PredictOptions, args), settings_from_args(RuntimeRequest, args)
    if not args.images and not opts.rec:
        p.error("give image files or --rec")
    clf = ExportedClassifier(args.model, runtime=request.runtime, precision=request.precision)
    print("runtime: %s" % clf.description)
    print(gluon_resnest.cpu_runtime())
    items, unread = [], 0
    if opts.rec:
        dataset = open_image_dataset(opts.rec)
        for i in range(min(opts.count, len(dataset))):
            try:
                img, label = dataset[i]
            except UnreadableSample as err:
                print("error: %s" % err, file=sys.stderr)
                unread += 1
                continue
            items.append(("%s[%d]" % (opts.rec, i), img, int(label)))
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
        top, prob = top_classes(row, opts.topk)
        truth = "" if label is None else " (label: %s)" % names[label]
        correct += label is not None and top[0] == label
        print("%s%s: %s" % (name, truth, ", ".join("%s %.1f%%" % (names[i], 100 * prob[i]) for i in top)))
    if opts.rec:
        print("top-1 on these %d images: %d/%d" % (len(items), correct, len(items)))
    return 2 if unread else 0


if __name__ == "__main__":
    sys.exit(run_main(main))
