#!/usr/bin/env python
"""Export a ResNeSt for deployment: MXNet symbol/params, optionally ONNX, INT8 and a checked bf16 ONNX path.

    python scripts/export.py --model resnest50 --pretrained --out deploy/resnest50 --onnx
    python scripts/export.py --model resnest14 --checkpoint runs/toy --out deploy/toy --int8 naive \\
        --calib-data runs/toy/toy_data/toy_train.rec --val-data runs/toy/toy_data/toy_val.rec --min-agreement 0.98
    python scripts/export.py --model resnest50 --pretrained --out deploy/resnest50 --bf16 --val-data VAL_IMAGES

The members of the export (docs/deployment.md) are checked before anything is published: the symbol/params pair
reloaded in a process without gluon_resnest, the ONNX file in onnxruntime, each INT8 member and the bf16 path
against float32 on held-out images (--min-agreement makes a low agreement fail). PREFIX-meta.json lists every file
with its sha1 and how it was checked; scripts/predict.py runs the export in the runtime the checks allow. Prints
the report as JSON; exit 1 when a check fails (nothing is published).
"""
import argparse
import json
import sys
import warnings

import gluon_resnest  # noqa: F401  (sizes MXNet's CPU threads before MXNet loads)
from gluon_resnest.deploy.agreement import AgreementWarning, ExportCheckError
from gluon_resnest.deploy.deployment import ExportOptions, ExportSource, export_deployment
from gluon_resnest.train.checkpoint import run_class_names, run_weights
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.options import add_arguments, settings_from_args


def parser():
    """The command line; every flag comes from the declarations of :class:`ExportSource` and
    :class:`ExportOptions`."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p.add_argument_group("what to export"), [ExportSource], defaults_in_help=True)
    add_arguments(p.add_argument_group("members and checks"), [ExportOptions], defaults_in_help=True)
    return p


def parse_args(argv=None):
    """``(ExportSource, ExportOptions)`` of the command line."""
    args = parser().parse_args(argv)
    return settings_from_args(ExportSource, args), settings_from_args(ExportOptions, args)


def main(argv=None):
    source, options = parse_args(argv)
    weights = source.params or (run_weights(source.checkpoint) if source.checkpoint else source.pretrained)
    if not weights:
        print("warning: no weights given, exporting random initialization", file=sys.stderr)
    warnings.simplefilter("always", AgreementWarning)
    try:
        report = export_deployment(source.model, weights, source.out, options,
                                   class_names=run_class_names(source.checkpoint) if source.checkpoint else None)
    except ExportCheckError as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    print(json.dumps(report.as_dict(), indent=2))
    for line in report.summaries():
        print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
