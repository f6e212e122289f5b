"""Model size and cost: trainable parameters and multiply-accumulates of convolutions and dense layers."""
import json

import mxnet as mx
import numpy as np

__all__ = ["count_trainable", "count_parameters", "count_macs"]


def count_trainable(shapes):
    """Number of values among ``{name: shape}``, BN running statistics excluded."""
    return sum(int(np.prod(shape)) for name, shape in shapes.items()
               if not name.endswith(("running_mean", "running_var")))


def count_parameters(net):
    """Trainable parameters of ``net`` (those with a gradient; BN running statistics excluded)."""
    return count_trainable({p.name: p.shape for p in net.collect_params().values() if p.grad_req != "null"})


def count_macs(net, size=224):
    """Multiply-accumulates of all Convolution and FullyConnected ops for one ``size x size`` image.

    Uses symbolic shape inference only (nothing is executed).
    """
    data = mx.sym.var("data")
    sym = net(data)
    if isinstance(sym, (list, tuple)):
        sym = mx.sym.Group(list(sym))
    internals = sym.get_internals()
    arg_shapes, out_shapes, _ = internals.infer_shape(data=(1, 3, size, size))
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    arg_shapes = dict(zip(internals.list_arguments(), arg_shapes))
    total = 0
    nodes = json.loads(sym.tojson())["nodes"]
    for node in nodes:
        if node["op"] not in ("Convolution", "FullyConnected"):
            continue
        out = shapes[node["name"] + "_output"]
        weight = arg_shapes[nodes[node["inputs"][1][0]]["name"]]
        total += int(np.prod(out)) * int(np.prod(weight[1:]))
    return total
