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
import os
import sys
import tempfile

import mxnet as mx
import numpy as np

from gluon_resnest import get_model
from gluon_resnest.checkpoint import latest_checkpoint
from gluon_resnest.export import (WithPreprocess, export_model, read_meta, run_without_package, symbol_paths,
                                  write_meta)
from gluon_resnest.variants import VARIANTS


def resolve_weights(args):
    """The params path to load: --params, a training --checkpoint dir (best.params, else newest), or pretrained."""
    if args.params:
        return args.params
    if args.checkpoint:
        best = os.path.join(args.checkpoint, "best.params")
        if os.path.isfile(best):
            return best
        found = latest_checkpoint(args.checkpoint)
        if found is None:
            raise FileNotFoundError("no best.params or checkpoint in %s" % args.checkpoint)
        return found[0] + ".params"
    return True if args.pretrained else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(VARIANTS))
    src = p.add_mutually_exclusive_group()
    src.add_argument("--params", help="a .params file of this variant")
    src.add_argument("--checkpoint", help="a training --save-dir (uses best.params or the newest checkpoint)")
    src.add_argument("--pretrained", action="store_true", help="the published weights")
    p.add_argument("--out", required=True, help="output prefix")
    p.add_argument("--size", type=int, help="input resolution (default: the model's eval size)")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--preprocess", action="store_true", help="bake in uint8 NHWC input and mean/std normalization")
    p.add_argument("--onnx", action="store_true", help="also write PREFIX.onnx (dynamic batch)")
    p.add_argument("--int8", choices=["naive", "entropy"], help="also write an INT8 model calibrated this way")
    p.add_argument("--calib-data", help="RecordIO or image folder for INT8 calibration")
    p.add_argument("--calib-batches", type=int, default=4)
    args = p.parse_args(argv)
    if args.int8 and not args.calib_data:
        p.error("--int8 needs --calib-data")
    if args.int8 and args.preprocess:
        p.error("--int8 exports NCHW float input; drop --preprocess")
    weights = resolve_weights(args)
    net = get_model(args.model, pretrained=weights or False)
    if not weights:
        print("warning: no weights given, exporting random initialization", file=sys.stderr)
        net.initialize(mx.init.Xavier())
    size = args.size or VARIANTS[args.model].eval_size
    sym, params, shape = export_model(net, args.out, size, args.batch_size, args.preprocess)
    rng = np.random.RandomState(0)
    if args.preprocess:
        x = rng.randint(0, 256, shape).astype("uint8")
        expected = WithPreprocess(net)
        expected.preprocess.initialize()
        expected = expected(mx.nd.array(x, dtype="uint8")).asnumpy()
    else:
        x = rng.uniform(-2, 2, shape).astype("float32")
        expected = net(mx.nd.array(x)).asnumpy()
    with tempfile.TemporaryDirectory() as work:
        outs = run_without_package(args.out, x, work)
    report = {"symbol": sym, "params": params, "input_shape": list(shape)}
    for kind, out in outs.items():
        report["max_abs_diff_%s" % kind] = float(np.abs(out - expected).max())
    if args.onnx:
        from gluon_resnest.onnx_export import export_onnx, run_onnx

        onnx_path = export_onnx(sym, params, args.out + ".onnx", shape, x.dtype.type)
        got = run_onnx(onnx_path, x)
        report["onnx"] = onnx_path
        report["onnx_max_rel_diff"] = float(np.abs(got - expected).max() / np.abs(expected).max())
    if args.int8:
        from gluon_resnest.data import make_loader, open_image_dataset
        from gluon_resnest.quantize import compare_outputs, quantize_model
        from gluon_resnest.transforms import EvalTransform

        loader = make_loader(open_image_dataset(args.calib_data), EvalTransform(size), max(args.batch_size, 8))
        data_shape = (max(args.batch_size, 8), 3, size, size)
        qnet = quantize_model(get_model(args.model, pretrained=weights or False) if weights else net, loader,
                              data_shape, args.int8, args.calib_batches)
        qprefix = args.out + "-int8"
        qnet.export(qprefix)
        write_meta(qprefix, dict(read_meta(args.out), input_shape=list(data_shape), int8=args.int8))
        net.hybridize(static_alloc=True, static_shape=True)
        report["int8"] = symbol_paths(qprefix)
        report["int8_vs_fp32"] = compare_outputs(net, qnet, loader)
    print(json.dumps(report, indent=2))
    tolerance = 1e-5 * max(1.0, float(np.abs(expected).max()))
    if max(report["max_abs_diff_symbolblock"], report["max_abs_diff_module"]) > tolerance:
        print("error: reloaded export differs from the source network", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
