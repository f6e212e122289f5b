"""Numerical parity with the PyTorch references (official resnest package and timm) on identical weights."""
import mxnet as mx
import numpy as np
import pytest

pytest.importorskip("torch")
from tests.helpers.torch_parity import reference_and_ours  # noqa: E402

CASES = [
    ("resnest14", "timm"),
    ("resnest50", "official"),
    ("resnest50", "timm"),
    ("resnest101", "official"),
    ("resnest50_fast_4s2x40d", "official"),
    ("resnest50_fast_4s2x40d", "timm"),
    ("resnest50_fast_1s4x24d", "official"),
    ("resnest50_fast_1s4x24d", "timm"),
    ("resnest50_fast_1s1x64d", "official"),
]


def _rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("name,source", CASES)
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-9), ("float32", 1e-4)])
def test_logits_match_reference(name, source, dtype, tol, tmp_path):
    expected, net, x = reference_and_ours(name, source, dtype=dtype, tmp_path=tmp_path)
    data = mx.nd.array(x, dtype=dtype)
    imperative = net(data).asnumpy()
    assert _rel(imperative, expected) < tol
    net.hybridize(static_alloc=True, static_shape=True)
    hybrid = net(data).asnumpy()
    assert _rel(hybrid, expected) < tol


def test_odd_input_size_matches(tmp_path):
    expected, net, x = reference_and_ours("resnest50", "timm", shape=(1, 3, 67, 83), tmp_path=tmp_path)
    assert _rel(net(mx.nd.array(x, dtype="float64")).asnumpy(), expected) < 1e-9


@pytest.mark.parametrize("name", ["resnest14", "resnest50_fast_1s4x24d", "resnest50_fast_4s2x40d"])
def test_training_step_gradients_match_reference(name, tmp_path):
    """A hybridized training step (training graph: split, broadcast_like, add_n, mean; BatchNorm on batch
    statistics) gives timm's logits and every parameter gradient in float64 (radix 1 and 4, cardinality 1 and 2)."""
    import torch

    from gluon_resnest.interop.torch_convert import convert_state_dict, reference_model
    from tests.helpers.torch_parity import randomize

    x = np.random.RandomState(0).standard_normal((2, 3, 64, 64))
    head = np.random.RandomState(1).standard_normal((2, 1000))
    model = reference_model(name, "timm").double()
    randomize(model, torch.from_numpy(x))
    path = str(tmp_path / "weights.params")
    mx.nd.save(path, convert_state_dict({k: v.detach().numpy() for k, v in model.state_dict().items()}, "float64"))
    model.train()
    expected = model(torch.from_numpy(x))
    (expected * torch.from_numpy(head)).sum().backward()
    # the state dict with each parameter replaced by its gradient converts to our names (buffers name BN layers)
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    state.update((k, p.grad.numpy()) for k, p in model.named_parameters())
    ref_grads = {k: v.asnumpy() for k, v in convert_state_dict(state, "float64").items()
                 if not k.endswith(("running_mean", "running_var"))}

    import gluon_resnest
    from mxnet import autograd

    net = gluon_resnest.get_model(name)
    net.cast("float64")
    net.load_parameters(path)
    net.hybridize(static_alloc=True)
    with autograd.record():
        out = net(mx.nd.array(x, dtype="float64"))
        loss = (out * mx.nd.array(head, dtype="float64")).sum()
    loss.backward()
    assert net._mode_graphs[True][0] is not net._mode_graphs.get(False, ((),))[0]
    assert _rel(out.asnumpy(), expected.detach().numpy()) < 1e-9
    grads = {k: p.grad().asnumpy() for k, p in net._collect_params_with_prefix().items() if p.grad_req != "null"}
    assert set(ref_grads) <= set(grads), sorted(set(ref_grads) ^ set(grads))[:6]
    floor = 1e-9 * max(np.abs(g).max() for g in ref_grads.values())
    for key, ref_grad in ref_grads.items():
        assert np.abs(grads[key] - ref_grad).max() <= 1e-7 * np.abs(ref_grad).max() + floor, key
