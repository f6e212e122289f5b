#!/usr/bin/env python
"""Convert an official-ResNeSt or timm PyTorch checkpoint (.pth, or .safetensors without torch) to Gluon .params.

    python scripts/convert.py --model resnest50 resnest50.pth resnest50.params

With torch installed the result is checked against the PyTorch reference loaded with the same checkpoint.
"""
import argparse
import sys

from gluon_resnest import list_models
from gluon_resnest.interop.torch_convert import compare_with_reference, convert_checkpoint
from gluon_resnest.utils.cli import run_main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="PyTorch checkpoint: .pth/.pt (needs torch) or .safetensors")
    parser.add_argument("output", help="Gluon .params file to write (written atomically)")
    parser.add_argument("--model", required=True, choices=list_models(), help="variant of the checkpoint")
    parser.add_argument("--no-check", action="store_true", help="skip the comparison with the PyTorch reference")
    parser.add_argument("--reference", choices=["official", "timm"], help="reference implementation to check with")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max relative logit difference (float32)")
    args = parser.parse_args(argv)
    net = convert_checkpoint(args.checkpoint, args.output, args.model)
    print("wrote %s (%s, strict load ok)" % (args.output, args.model))
    if args.no_check:
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: skipped the comparison with the PyTorch reference")
        return 0
    source, rel = compare_with_reference(net, args.model, args.checkpoint, args.reference, shape=(2, 3, 96, 96))
    print("max relative logit difference vs %s reference: %.3g" % (source, rel))
    if rel > args.tolerance:
        print("error: difference above tolerance %g" % args.tolerance, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
