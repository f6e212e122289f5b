"""Batch norms folded into the convolutions that feed them, in float64 arithmetic, for an inference graph.

In inference a ``BatchNorm`` (axis 1) after a ``Convolution`` is an affine map per output channel,
``y = (conv(x) + b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``, so the convolution with weights
``W * s`` and bias ``(b - mean) * s + beta`` computes it alone. Folding in float32 before a bf16 conversion keeps the
batch norm's scale out of bf16's rounding of the weights (oneDNN's own fusion of a bf16 graph folds the already
rounded weights) and leaves convolution + ReLU (+ sum) chains that oneDNN fuses in bf16.
"""
import json

import mxnet as mx
import numpy as np

__all__ = ["fold_batch_norms", "folded_block"]


def _flag(attrs, key, default):
    return str(attrs.get(key, default)).lower() in ("true", "1")


def _has_bias(conv):
    return len(conv["inputs"]) > 2 and not _flag(conv.get("attrs", {}), "no_bias", False)


def _foldable(nodes, users):
    """``{batch norm index: convolution index}`` of the batch norms over axis 1 whose input is a convolution that
    nothing else reads, whose weight and bias nothing else reads, and of which only the first output is read."""
    pairs = {}
    for i, node in enumerate(nodes):
        if node["op"] != "BatchNorm" or int(node.get("attrs", {}).get("axis", 1)) != 1:
            continue
        conv, out, _ = node["inputs"][0]
        if nodes[conv]["op"] != "Convolution" or out != 0 or len(users[conv]) != 1:
            continue
        if any(o != 0 for _, o in users[i]) or any(len(users[src]) != 1 for src, _, _ in nodes[conv]["inputs"][1:]):
            continue
        pairs[i] = conv
    return pairs


def _folded_values(bn, conv, nodes, params):
    """``(weight, bias)`` of ``conv`` with batch norm ``bn`` folded in, computed in float64 and returned in the
    weight's dtype."""
    attrs = bn.get("attrs", {})
    gamma, beta, mean, var = (params[nodes[src]["name"]].astype(np.float64) for src, _, _ in bn["inputs"][1:5])
    if _flag(attrs, "fix_gamma", True):
        gamma = np.ones_like(gamma)
    scale = gamma / np.sqrt(var + float(attrs.get("eps", 1e-3)))
    weight = params[nodes[conv["inputs"][1][0]]["name"]]
    bias = params[nodes[conv["inputs"][2][0]]["name"]].astype(np.float64) if _has_bias(conv) else np.zeros_like(mean)
    folded = weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
    return folded.astype(weight.dtype), ((bias - mean) * scale + beta).astype(weight.dtype)


def fold_batch_norms(symbol, params):
    """``(symbol, params)`` with every foldable batch norm of ``symbol`` (see the module docstring) folded into its
    convolution: the batch norm leaves the graph, the convolution gets the folded weight and a bias (named
    ``CONV_bias`` where it had none). ``params`` is ``{name: numpy array}`` holding the symbol's arguments and
    auxiliary states; the returned params hold exactly the returned symbol's. Other nodes are kept as they are."""
    graph = json.loads(symbol.tojson())
    nodes, params = graph["nodes"], dict(params)
    users = {i: [] for i in range(len(nodes))}
    for i, node in enumerate(nodes):
        for src, out, _ in node["inputs"]:
            users[src].append((i, out))
    for src, out, _ in graph["heads"]:
        users[src].append((-1, out))
    pairs = _foldable(nodes, users)
    norm_of = {conv: bn for bn, conv in pairs.items()}
    taken = {node["name"] for node in nodes}
    rebuilt, index = [], {}

    def entry(src, out, version):
        return [index[src], out, version]

    for i, node in enumerate(nodes):
        if i in pairs:
            index[i] = index[pairs[i]]
            continue
        node = dict(node, inputs=[entry(*e) for e in node["inputs"]])
        if i in norm_of:
            weight, bias = _folded_values(nodes[norm_of[i]], nodes[i], nodes, params)
            params[nodes[nodes[i]["inputs"][1][0]]["name"]] = weight
            if _has_bias(node):
                params[nodes[nodes[i]["inputs"][2][0]]["name"]] = bias
            else:
                name = node["name"] + "_bias"
                while name in taken:
                    name += "_"
                taken.add(name)
                params[name] = bias
                rebuilt.append({"op": "null", "name": name, "inputs": []})
                node["inputs"] = node["inputs"][:2] + [[len(rebuilt) - 1, 0, 0]]
                node["attrs"] = dict(node.get("attrs", {}), no_bias="False")
        index[i] = len(rebuilt)
        rebuilt.append(node)
    graph["nodes"] = rebuilt
    graph["heads"] = [entry(*e) for e in graph["heads"]]
    graph["arg_nodes"] = [i for i, node in enumerate(rebuilt) if node["op"] == "null"]
    graph.pop("node_row_ptr", None)
    folded = mx.sym.load_json(json.dumps(graph))
    kept = set(folded.list_arguments()) | set(folded.list_auxiliary_states())
    return folded, {name: value for name, value in params.items() if name in kept}


def folded_block(block, input_name="data"):
    """A ``SymbolBlock`` computing ``block`` (a single-input ``HybridBlock`` with initialized parameters, in its
    inference graph) with its batch norms folded by :func:`fold_batch_norms`, its parameters on the CPU; outputs
    equal ``block``'s up to float32 rounding."""
    data = mx.sym.var(input_name, dtype="float32")
    params = {param.name: param.data().asnumpy() for param in block.collect_params().values()}
    symbol, params = fold_batch_norms(block(data), params)
    folded = mx.gluon.SymbolBlock(symbol, [data])
    folded.collect_params().load_dict({name: mx.nd.array(value, dtype=value.dtype) for name, value in params.items()},
                                      ctx=mx.cpu())
    return folded
