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
