#!/usr/bin/env python
"""Convert ResNeSt weights between this package and PyTorch (timm and the official resnest package).

    python scripts/convert.py to-torch runs/my_photos out/my_photos
    python scripts/convert.py to-torch pretrained out/resnest50d --model resnest50
    python scripts/convert.py to-torch my.params out/fast --model resnest50_fast_1s1x64d --target official
    python scripts/convert.py from-torch resnest50.pth resnest50.params --model resnest50

to-torch reads our weights (a .params file, a training --save-dir, or "pretrained": the published weights of
--model) and writes OUT/model.safetensors and OUT/config.json (class names, evaluation data config) without torch;
timm loads the folder with timm.create_model("local-dir:OUT", pretrained=True), the official package as
docs/migration.md shows.
from-torch reads a PyTorch checkpoint (.pth/.pt with torch installed; .safetensors or a converted folder without)
and, with torch installed, checks the result against the PyTorch reference.
"""
import argparse
import os
import sys

from gluon_resnest.interop.torch_convert import FromTorchOptions, compare_with_reference, convert_checkpoint
from gluon_resnest.interop.torch_export import ToTorchOptions, convert_to_torch, read_class_names
from gluon_resnest.models import model_data_config
from gluon_resnest.train.checkpoint import latest_checkpoint, run_weights
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.errors import OptionError
from gluon_resnest.utils.options import add_arguments, settings_from_args

PRETRAINED = "pretrained"


def _training_run(save_dir):
    """``(weights file, variant, data config fields, class names)`` of a training --save-dir, as its newest
    checkpoint records them (variant and the rest ``None`` when it has none)."""
    found = latest_checkpoint(save_dir)
    weights = run_weights(save_dir, found)
    if found is None:
        return weights, None, {"input_size": None, "crop_pct": None}, None
    state = found[1]
    net, data = state.config.get("net") or {}, state.config.get("data") or {}
    fields = {"input_size": data.get("input_size"), "crop_pct": data.get("crop_pct")}
    return weights, net.get("model"), fields, state.class_names


def to_torch(args):
    opts = settings_from_args(ToTorchOptions, args)
    model, fields, names = opts.model, {}, None
    if args.weights == PRETRAINED:
        weights = True
    elif os.path.isdir(args.weights):
        weights, run_model, fields, names = _training_run(args.weights)
        if model and run_model and model != run_model:
            raise OptionError("{model} %s differs from the variant the training run %s trained, %s"
                              % (model, args.weights, run_model))
        model = model or run_model
    else:
        weights = args.weights
    if not model:
        raise OptionError("give {model}: %s does not record which variant it holds" % args.weights)
    if opts.class_names:
        names = read_class_names(opts.class_names)
    data_config = model_data_config(model, input_size=opts.input_size or fields.get("input_size"),
                                    crop_pct=opts.crop_pct or fields.get("crop_pct"))
    report = convert_to_torch(weights, args.out, model, opts.target, data_config, names)
    print("wrote %s for %s %s (%d classes, %d px): %s" % (
        args.out, opts.target, report["architecture"], report["num_classes"], data_config.input_size,
        ", ".join(os.path.basename(path) for path in report["files"])))
    return 0


def from_torch(args):
    opts = settings_from_args(FromTorchOptions, args)
    if not opts.model:
        raise OptionError("give {model}, the variant of %s" % args.checkpoint)
    net = convert_checkpoint(args.checkpoint, args.output, opts.model)
    print("wrote %s (%s, strict load ok)" % (args.output, opts.model))
    if not opts.check:
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: skipped the comparison with the PyTorch reference")
        return 0
    source, rel = compare_with_reference(net, opts.model, args.checkpoint, opts.reference, shape=(2, 3, 96, 96))
    print("max relative logit difference vs %s reference: %.3g" % (source, rel))
    if rel > opts.tolerance:
        print("error: difference above tolerance %g" % opts.tolerance, file=sys.stderr)
        return 1
    return 0


def parser():
    """The command line: the subcommands to-torch and from-torch, their options from the declarations of
    :class:`ToTorchOptions` and :class:`FromTorchOptions`."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = p.add_subparsers(dest="command", required=True, metavar="{to-torch,from-torch}")
    to = commands.add_parser("to-torch", help="our weights -> a folder timm or the official package loads")
    to.add_argument("weights", help="a .params file (either key scheme), a training --save-dir, or 'pretrained'")
    to.add_argument("out", help="folder to write model.safetensors and config.json into (published together)")
    add_arguments(to, [ToTorchOptions], defaults_in_help=True)
    to.set_defaults(run=to_torch)
    back = commands.add_parser("from-torch", help="a PyTorch checkpoint -> our .params file")
    back.add_argument("checkpoint", help="PyTorch checkpoint: .pth/.pt (needs torch), .safetensors, or a folder "
                                         "holding model.safetensors")
    back.add_argument("output", help="Gluon .params file to write (written atomically)")
    add_arguments(back, [FromTorchOptions], defaults_in_help=True)
    back.set_defaults(run=from_torch)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(run_main(main))
