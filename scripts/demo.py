#!/usr/bin/env python
"""Smoke demo: build a ResNeSt, hybridize, export symbol/params, reload the export and compare outputs."""
import argparse
import os
import tempfile

import mxnet as mx
import numpy as np

from gluon_resnest import get_model
from gluon_resnest.export import export_model, load_exported


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="resnest50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "gluon_resnest_demo"))
    args = parser.parse_args()
    net = get_model(args.model)
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, args.size, args.size))
    sym, params, _ = export_model(net, os.path.join(args.out, args.model), args.size)
    reloaded = load_exported(os.path.join(args.out, args.model))
    a, b = net(x).asnumpy(), reloaded(x).asnumpy()
    print("exported %s and %s" % (sym, params))
    print("logits[:5] %s; max |diff| after reload %.3g" % (np.round(a[0, :5], 4), np.abs(a - b).max()))


if __name__ == "__main__":
    main()
