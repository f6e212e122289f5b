#!/usr/bin/env python
"""ImageNet-style validation of a ResNeSt: top-1/top-5 from a RecordIO file or an image folder.

    python scripts/verify.py --model resnest50 --pretrained --data val.rec
    python scripts/verify.py --model resnest14 --params my.params --classes 10 --data toy_val.rec --size 64
    python scripts/verify.py --export runs/toy/resnest14 --data runs/toy/toy_data/toy_val.rec
    python scripts/verify.py --export deploy/resnest50.onnx --data val_folder
    python scripts/verify.py --export deploy/resnest50 --runtime mxnet --data val.rec

An export runs in the runtime scripts/predict.py would choose unless --runtime forces one; the result line names
it. It is scored with the input size, normalization and class names of its manifest. A model is evaluated with its
variant's transform (resize ceil(size/0.875) + center crop, bilinear, below 320 px; crop size/(size+32) of the
short side + bicubic resize from 320 px) unless --size/--crop-pct override it.
"""
import argparse
import dataclasses
import sys
from typing import Optional

import gluon_resnest  # noqa: F401  (sizes MXNet's CPU threads before MXNet loads)
import mxnet as mx  # noqa: I100
from gluon_resnest.deploy.runtime_rule import RuntimeRequest
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.train.evaluation import EvalOptions, evaluate_export, evaluate_model
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.errors import OptionError
from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.options import add_arguments, cli_flags, option, settings_from_args


@dataclasses.dataclass(frozen=True)
class VerifyTarget:
    """What is scored: variant ``model`` with ``pretrained`` weights or ``params``, or an ``export``; on GPU ``gpu``
    (default: CPU); the result also written to ``json``."""
    model: Optional[str] = option(None, "a ResNeSt variant (with --pretrained or --params)", type=str,
                                  choices=tuple(CATALOGUE), metavar="MODEL")
    export: Optional[str] = option(None, "an export: PREFIX, PREFIX.onnx, PREFIX-int8 or PREFIX-int8.onnx", type=str)
    pretrained: bool = option(False, "the published weights from the model store")
    params: Optional[str] = option(None, "a .params file of this variant", type=str)
    gpu: Optional[int] = option(None, "GPU id (default: CPU)", type=int)
    json: Optional[str] = option(None, "also write the result here as JSON", type=str)

    def __post_init__(self):
        if bool(self.model) == bool(self.export):
            raise OptionError("give {model} (a variant with weights) or {export}")
        if self.model and not (self.pretrained or self.params):
            raise OptionError("give {pretrained} or {params}: random weights have nothing to verify")
        if self.pretrained and self.params:
            raise OptionError("give {pretrained} or {params}, not both")
        if self.export and (self.pretrained or self.params):
            raise OptionError("{export} takes its weights from the export; drop {pretrained} and {params}")


def parser():
    """The command line; every flag comes from the declarations of :class:`VerifyTarget`,
    :class:`~gluon_resnest.train.evaluation.EvalOptions` and :class:`~gluon_resnest.deploy.runtime_rule.RuntimeRequest`."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p, [VerifyTarget, EvalOptions, RuntimeRequest], defaults_in_help=True)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    target, options = settings_from_args(VerifyTarget, args), settings_from_args(EvalOptions, args)
    request = settings_from_args(RuntimeRequest, args)
    if (request.runtime or request.precision) and not target.export:
        raise OptionError("{runtime} and {precision} apply to {export}")
    ctx = mx.gpu(target.gpu) if target.gpu is not None else mx.cpu()
    if target.export:
        result = evaluate_export(target.export, options, request, ctx, progress=True)
    else:
        result = evaluate_model(target.model, target.params or True, options, ctx, progress=True)
    if result["labels_outside"]:
        print("warning: %(labels_outside)d of %(images)d images have labels outside the classifier's %(classes)d "
              "classes; they count as wrong" % result, file=sys.stderr)
    print("%(model)s on %(images)d images at %(size)d px: top-1 %(top1).2f%%, top-5 %(top5).2f%%" % result
          + (" (runtime: %s)" % result["runtime"] if "runtime" in result else ""))
    if target.json:
        atomic_write(target.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, flags=cli_flags([EvalOptions])))
