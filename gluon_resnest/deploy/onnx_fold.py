"""Exact simplifications of an exported ONNX graph, applied before it is written.

MXNet's exporter writes each ``BatchNorm`` as an inference ``BatchNormalization`` node after its convolution and
each ``softmax`` as a division by its temperature (1) before ``Softmax``. :func:`fold_graph` folds such a
``BatchNormalization`` into the convolution's weights and bias (``W * s``, ``(b - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)``, per output channel) and drops divisions by a constant 1. The graph computes the
same function up to float32 rounding; every consumer (onnxruntime, OpenVINO, NNCF, our INT8 quantizer) then sees
one convolution where there were two nodes, and INT8 quantizers can quantize the folded weights.
"""
import numpy as np

__all__ = ["fold_graph", "fold_batch_norms", "drop_unit_divisions"]


def fold_graph(model):
    """Apply :func:`fold_batch_norms` and :func:`drop_unit_divisions` to ``model`` (an ``onnx.ModelProto``, changed
    in place); returns the number of nodes removed."""
    return fold_batch_norms(model) + drop_unit_divisions(model)


def _consumers(graph):
    uses = {}
    for node in graph.node:
        for name in node.input:
            uses.setdefault(name, []).append(node)
    return uses


def _rename_input(graph, old, new):
    """Make every node that reads ``old`` read ``new``."""
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new


def fold_batch_norms(model):
    """Fold every ``BatchNormalization`` whose input is a ``Conv`` output read by nothing else, with the weight,
    bias and statistics as initializers used only there, into that ``Conv``; returns the number folded."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    uses = _consumers(graph)
    output_names = {out.name for out in graph.output}
    folded = []
    for bn in [node for node in graph.node if node.op_type == "BatchNormalization"]:
        conv = producers.get(bn.input[0])
        if conv is None or conv.op_type != "Conv" or len(uses[bn.input[0]]) != 1 or bn.input[0] in output_names:
            continue
        if len(bn.output) != 1 or not all(name in inits for name in bn.input[1:5]):
            continue
        own = list(conv.input[1:]) + list(bn.input[1:5])
        if not all(name in inits and len(uses[name]) == 1 for name in own):
            continue
        eps = next((attr.f for attr in bn.attribute if attr.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (numpy_helper.to_array(inits[name]).astype(np.float64) for name in bn.input[1:5])
        weight = numpy_helper.to_array(inits[conv.input[1]])
        scale = gamma / np.sqrt(var + eps)
        bias = numpy_helper.to_array(inits[conv.input[2]]).astype(np.float64) if len(conv.input) > 2 else 0.0
        new_weight = (weight.astype(np.float64) * scale.reshape((-1,) + (1,) * (weight.ndim - 1))).astype(weight.dtype)
        new_bias = ((bias - mean) * scale + beta).astype(weight.dtype)
        inits[conv.input[1]].CopyFrom(numpy_helper.from_array(new_weight, conv.input[1]))
        bias_name = conv.input[2] if len(conv.input) > 2 else conv.input[1] + "_folded_bias"
        if len(conv.input) > 2:
            inits[bias_name].CopyFrom(numpy_helper.from_array(new_bias, bias_name))
        else:
            graph.initializer.append(numpy_helper.from_array(new_bias, bias_name))
            conv.input.append(bias_name)
        conv.output[0] = bn.output[0]
        folded.append(bn)
    _remove(graph, folded, [name for bn in folded for name in bn.input[1:5]])
    return len(folded)


def drop_unit_divisions(model):
    """Remove ``Div`` nodes whose divisor is an initializer equal to 1 everywhere that cannot broadcast the
    dividend; returns the number removed."""
    from onnx import numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    output_names = {out.name for out in graph.output}
    dropped = []
    for node in [node for node in graph.node if node.op_type == "Div"]:
        divisor = inits.get(node.input[1])
        if divisor is None or node.output[0] in output_names:
            continue
        value = numpy_helper.to_array(divisor)
        if value.size != 1 or value.ndim > 1 or float(value.reshape(-1)[0]) != 1.0:
            continue
        _rename_input(graph, node.output[0], node.input[0])
        dropped.append(node)
    uses = _consumers(graph)
    _remove(graph, dropped, [node.input[1] for node in dropped
                             if all(user in dropped for user in uses.get(node.input[1], []))])
    return len(dropped)


def _remove(graph, nodes, initializer_names):
    """Delete ``nodes`` and the initializers named ``initializer_names`` (and their value_info) from ``graph``."""
    gone = {id(node) for node in nodes}
    kept = [node for node in graph.node if id(node) not in gone]
    del graph.node[:]
    graph.node.extend(kept)
    names = set(initializer_names)
    kept_inits = [init for init in graph.initializer if init.name not in names]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    dead = names | {out for node in nodes for out in node.output}
    live = {name for node in graph.node for name in list(node.input) + list(node.output)}
    kept_info = [info for info in graph.value_info if info.name not in dead or info.name in live]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
