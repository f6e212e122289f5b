"""Parameter names between our networks and the PyTorch ResNeSt models (timm's and the official ``resnest``
package's), in both directions.

The three implementations share the module hierarchy and the tensor layouts (OIHW convolutions, grouped ones
included; (out, in) dense), so a conversion renames and never reshapes. Three names differ: a batch norm's
``gamma``/``beta`` are PyTorch's ``weight``/``bias``; the split-attention batch norm ``conv2.bn`` is PyTorch's
``conv2.bn0``; PyTorch's batch norms also hold a ``num_batches_tracked`` counter, which Gluon has no use for.
A batch norm is recognised by its running statistics, in either scheme.
"""
import re

__all__ = ["torch_to_gluon_names", "gluon_to_torch_names", "batch_counter_names", "BATCH_COUNTER"]

#: The leaf of PyTorch's batch-norm step counter.
BATCH_COUNTER = "num_batches_tracked"
#: Batch-norm leaves, Gluon -> PyTorch.
_NORM_LEAVES = {"gamma": "weight", "beta": "bias"}
#: The split-attention batch norm: the module path's end in Gluon and in PyTorch.
_SPLAT_NORM = ("conv2.bn", "conv2.bn0")
_RUNNING = (".running_mean", ".running_var")


def _norm_modules(keys):
    return {key.rpartition(".")[0] for key in keys if key.endswith(_RUNNING)}


def _rename_module(module, source, target):
    return re.sub(r"(^|\.)%s$" % re.escape(source), r"\g<1>" + target, module)


def _join(module, leaf):
    return "%s.%s" % (module, leaf) if module else leaf


def torch_to_gluon_names(keys):
    """``{PyTorch key: Gluon structural key}`` of a PyTorch state dict's ``keys``; the batch counters map to
    ``None`` (dropped)."""
    keys = list(keys)
    norms = _norm_modules(keys)
    leaves = {torch: gluon for gluon, torch in _NORM_LEAVES.items()}
    mapping = {}
    for key in keys:
        module, _, leaf = key.rpartition(".")
        if leaf == BATCH_COUNTER:
            mapping[key] = None
            continue
        if module in norms:
            leaf = leaves.get(leaf, leaf)
        mapping[key] = _join(_rename_module(module, _SPLAT_NORM[1], _SPLAT_NORM[0]), leaf)
    return mapping


def gluon_to_torch_names(keys):
    """``{Gluon structural key: PyTorch key}`` of our parameter ``keys`` (``layer1.0.conv2.bn.gamma`` ->
    ``layer1.0.conv2.bn0.weight``)."""
    keys = list(keys)
    norms = _norm_modules(keys)
    mapping = {}
    for key in keys:
        module, _, leaf = key.rpartition(".")
        if module in norms:
            leaf = _NORM_LEAVES.get(leaf, leaf)
        mapping[key] = _join(_rename_module(module, _SPLAT_NORM[0], _SPLAT_NORM[1]), leaf)
    return mapping


def batch_counter_names(torch_keys):
    """The ``num_batches_tracked`` keys of the batch norms among PyTorch state-dict keys ``torch_keys``."""
    return sorted(_join(module, BATCH_COUNTER) for module in _norm_modules(torch_keys))
