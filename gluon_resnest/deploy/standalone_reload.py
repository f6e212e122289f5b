"""Run as a script (never imported by the package): load an export with plain MXNet, as another team would.

    python standalone_reload.py PREFIX INPUT.npy OUT

Writes ``OUT-symbolblock.npy`` (``SymbolBlock.imports``) and ``OUT-module.npy`` (``mx.mod.Module``), the outputs of
``PREFIX-symbol.json``/``PREFIX-0000.params`` on the array in ``INPUT.npy``, and fails if gluon_resnest was loaded.
"""
import sys

import mxnet as mx
import numpy as np


def main(prefix, inp, out):
    x = np.load(inp)
    block = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
    np.save(out + "-symbolblock.npy", block(mx.nd.array(x, dtype=x.dtype)).asnumpy())
    sym, args, auxs = mx.model.load_checkpoint(prefix, 0)
    mod = mx.mod.Module(sym, data_names=["data"], label_names=None, context=mx.cpu())
    mod.bind(data_shapes=[mx.io.DataDesc("data", x.shape, x.dtype)], for_training=False)
    mod.set_params(args, auxs)
    mod.forward(mx.io.DataBatch([mx.nd.array(x, dtype=x.dtype)]), is_train=False)
    np.save(out + "-module.npy", mod.get_outputs()[0].asnumpy())
    if "gluon_resnest" in sys.modules:
        raise SystemExit("gluon_resnest was imported by the standalone reload")


if __name__ == "__main__":
    main(*sys.argv[1:4])
