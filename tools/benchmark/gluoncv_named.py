"""The network a GluonCV name builds against ours at DropBlock rate 0, in one process with the same weights.

``gluoncv.model_zoo.get_model(name)`` (after ``import gluon_resnest``) builds ours with GluonCV's training rate 0.1;
its inference forms (the hybridized network, and ``gluoncv.utils.export_block``'s files loaded as a
``SymbolBlock``) are timed against the same forms of ``get_model(name)`` (rate 0), round by round, alternating
which goes first, so both see the same machine load.
"""
import json
import os
import tempfile
import time

import mxnet as mx
import numpy as np

from gluon_resnest.interop.gluoncv import import_gluoncv
from gluon_resnest.models.factory import get_model
from gluon_resnest.nn import copy_parameters, iter_dropblocks

__all__ = ["alternating_medians", "graph_ops", "gluoncv_named_rows"]


def alternating_medians(fns, rounds=15, warmup=2):
    """Median wall time of each of ``fns`` over ``rounds`` rounds after ``warmup``; each round runs every function
    once, in forward order on even rounds and reverse order on odd ones."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for r in range(rounds):
        order = list(range(len(fns)))
        for i in order if r % 2 == 0 else order[::-1]:
            tic = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - tic)
    return [float(np.median(t)) for t in times]


def graph_ops(symbol_file):
    """``(operator count, sorted names of random and Dropout operators)`` of an exported symbol file."""
    with open(symbol_file) as handle:
        ops = [node["op"] for node in json.load(handle)["nodes"] if node["op"] != "null"]
    return len(ops), sorted({op for op in ops if "random" in op or op == "Dropout"})


def gluoncv_named_rows(name="resnest50", batch=8, size=224, rounds=15, warmup=2):
    """Rows ``{form, network, drop_prob, ops, random_ops, seconds, img_per_s, ratio}`` for the hybridized network
    and its ``export_block`` files, GluonCV's default against rate 0 (``ratio``: time over the rate-0 network's)."""
    gcv = import_gluoncv()
    from gluoncv.utils import export_block

    default = gcv.model_zoo.get_model(name)
    default.initialize(mx.init.Xavier())
    plain = get_model(name)
    plain.initialize()
    copy_parameters(default, plain)
    nets = {"gluoncv-named": default, "rate 0": plain}
    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    image = mx.nd.random.uniform(0, 255, shape=(batch, size, size, 3))
    forms = []
    with tempfile.TemporaryDirectory(prefix="resnest-gcv-named-") as work:
        for label, net in nets.items():
            prefix = os.path.join(work, label.replace(" ", "-"))
            export_block(prefix, net, data_shape=(size, size, 3), preprocess=True, layout="HWC")
            exported = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
            exported.hybridize(static_alloc=True, static_shape=True)
            net.hybridize(static_alloc=True, static_shape=True)
            rate = {db.drop_prob for db in iter_dropblocks(net)}.pop()
            ops = graph_ops(prefix + "-symbol.json")
            forms.append(("hybridized", label, rate, None, lambda n=net: n(x).wait_to_read()))
            forms.append(("export_block", label, rate, ops, lambda b=exported: b(image).wait_to_read()))
        seconds = alternating_medians([form[-1] for form in forms], rounds, warmup)
    base = {form[0]: s for form, s in zip(forms, seconds) if form[1] == "rate 0"}
    return [{"form": form, "network": label, "drop_prob": rate, "ops": ops and ops[0],
             "random_ops": ops and ops[1], "batch": batch, "size": size, "seconds": s, "img_per_s": batch / s,
             "ratio": s / base[form]} for (form, label, rate, ops, _), s in zip(forms, seconds)]
