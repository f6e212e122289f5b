"""oneDNN's bf16 convolutions against fp32 on every convolution configuration of the catalogue's networks.

:func:`network_convolutions` traces each variant (classification and every dilated plan) at a small input size and
collects the distinct ``Convolution`` nodes of its graph with the shape of their input; :func:`compare` runs one of
them at batch 2 in fp32 and in bf16, forward, data gradient and weight gradient. Run as a module (``python -m
tests.helpers.bf16_convolutions``) it compares them all and prints, before each bf16 run, a line ``CONFIG <i>``
(so that ``DNNL_VERBOSE=1`` lines can be attributed), then one JSON line with the results.

The inputs, weights and output gradients are bf16 numbers, so every product is exact in fp32 and the two runs
differ only by how the sums are rounded: the bf16 kernel accumulates in fp32 and rounds its result once to bf16
(8 significant bits, unit roundoff u = 2^-8), and both runs accumulate K products in fp32 (unit roundoff 2^-24).
Each element thus obeys ``|bf16 - fp32| <= u * |fp32| + 2 * K * 2^-24 * S`` with S the same sum over absolute
values (computed by an fp32 run on ``|x|``, ``|w|``, ``|dy|``) and K the reduction length of that direction:
``C_in / groups * kh * kw`` (forward), ``C_out / groups * kh * kw`` (data gradient), ``N * H_out * W_out`` (weight
gradient). :func:`compare` returns the largest ratio of the error to that bound per direction (<= 1 passes).
"""
import ast
import json
import sys

import numpy as np

import gluon_resnest
import mxnet as mx
from mxnet import autograd, nd
from mxnet.contrib.amp.amp import bfloat16

from gluon_resnest.models.catalogue import CATALOGUE

__all__ = ["BF16_UNIT_ROUNDOFF", "DIRECTIONS", "network_convolutions", "compare", "main"]

BF16_UNIT_ROUNDOFF = 2.0 ** -8
FP32_UNIT_ROUNDOFF = 2.0 ** -24
DIRECTIONS = ("forward", "data gradient", "weight gradient")
BATCH = 2


def _graph_convolutions(net, size):
    """``{config}`` of the ``Convolution`` nodes ``net`` traces for a ``(1, 3, size, size)`` input: ``(C_in,
    C_out, kernel, stride, pad, dilate, groups, H, W)``."""
    sym = net(mx.sym.var("data"))
    internals = sym.get_internals()
    outputs = internals.list_outputs()
    args, shapes, _ = internals.infer_shape(data=(1, 3, size, size))
    shape_of = dict(zip(outputs, shapes))
    shape_of.update(zip(internals.list_arguments(), args))
    nodes = json.loads(sym.tojson())["nodes"]

    def output_name(index, slot):
        node = nodes[index]
        if node["op"] == "null":
            return node["name"]
        single = node["name"] + "_output"
        return single if single in shape_of else "%s_output%d" % (node["name"], slot)

    found = set()
    for node in nodes:
        if node["op"] == "Convolution":
            attrs = node["attrs"]
            _, channels, height, width = shape_of[output_name(*node["inputs"][0][:2])]
            found.add((channels, int(attrs["num_filter"])) + tuple(
                ast.literal_eval(attrs.get(key, default)) for key, default in (
                    ("kernel", "()"), ("stride", "(1, 1)"), ("pad", "(0, 0)"), ("dilate", "(1, 1)")))
                + (int(attrs.get("num_group", "1")), height, width))
    return found


def network_convolutions(size=64, dilations=(1, 2, 3, 4)):
    """The distinct convolution configurations (see :func:`_graph_convolutions`) of every catalogue variant under
    every dilation plan (output strides 32, 16, 8/16, 8), sorted."""
    found = set()
    for name in CATALOGUE:
        for dilation in dilations:
            found |= _graph_convolutions(gluon_resnest.get_model(name, dilation=dilation), size)
    return sorted(found)


def _bf16_exact(array):
    return nd.amp_cast(nd.amp_cast(array, dtype=bfloat16), dtype="float32")


def _run(x, w, dy, kwargs, low):
    """Output, data gradient and weight gradient of the convolution (bf16 kernels when ``low``), float64."""
    x, w = x.copy(), w.copy()
    x.attach_grad()
    w.attach_grad()
    with autograd.record():
        xi, wi = (nd.amp_cast(x, dtype=bfloat16), nd.amp_cast(w, dtype=bfloat16)) if low else (x, w)
        y = nd.Convolution(xi, wi, **kwargs)
        y = nd.amp_cast(y, dtype="float32") if low else y
    y.backward(dy)
    return [a.asnumpy().astype(np.float64) for a in (y, x.grad, w.grad)]


def compare(config, seed=0, before_bf16=None):
    """The largest ``error / bound`` (see the module docstring) of the bf16 run of ``config`` per direction of
    :data:`DIRECTIONS`; ``before_bf16`` is called just before the bf16 run."""
    c_in, c_out, kernel, stride, pad, dilate, groups, height, width = config
    kwargs = dict(kernel=kernel, stride=stride, pad=pad, dilate=dilate, num_filter=c_out, num_group=groups,
                  no_bias=True)
    rng = np.random.RandomState(seed)
    x = _bf16_exact(nd.array(rng.uniform(-1, 1, (BATCH, c_in, height, width))))
    w = _bf16_exact(nd.array(rng.uniform(-1, 1, (c_out, c_in // groups) + tuple(kernel))))
    out_shape = nd.Convolution(x, w, **kwargs).shape
    dy = _bf16_exact(nd.array(rng.uniform(-1, 1, out_shape)))
    reference = _run(x, w, dy, kwargs, low=False)
    absolute = _run(x.abs(), w.abs(), dy.abs(), kwargs, low=False)
    if before_bf16:
        before_bf16()
    low = _run(x, w, dy, kwargs, low=True)
    taps = kernel[0] * kernel[1]
    lengths = (c_in // groups * taps, c_out // groups * taps, BATCH * out_shape[2] * out_shape[3])
    ratios = []
    for ref, got, total, length in zip(reference, low, absolute, lengths):
        bound = BF16_UNIT_ROUNDOFF * np.abs(ref) + 2 * length * FP32_UNIT_ROUNDOFF * total
        ratios.append(float(np.max(np.abs(got - ref) / np.maximum(bound, np.finfo(np.float64).tiny))))
    return ratios


def main():
    configs = network_convolutions()
    results = []
    for index, config in enumerate(configs):
        results.append({"config": config, "ratios": compare(
            config, seed=index, before_bf16=lambda: print("CONFIG %d" % index, flush=True))})
    print("END", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
