"""Batch-norm folding measured against MXNet's own BatchNorm on the unfolded graph: hand-made graphs covering each
rule (bias or not, fix_gamma, shared outputs left alone) and the inference graphs of real variants; the bf16
conversion built on it keeps float32 agreement and fuses in bf16."""
import json

import mxnet as mx
import numpy as np
import pytest

import gluon_resnest
from gluon_resnest.deploy.bn_fold import fold_batch_norms, folded_block
from gluon_resnest.deploy.inference_graph import prepare_for_inference


def _ops(symbol):
    counts = {}
    for node in json.loads(symbol.tojson())["nodes"]:
        counts[node["op"]] = counts.get(node["op"], 0) + 1
    return counts


def _random_params(symbol, shape, rng):
    """Random float32 values for every argument and auxiliary state of ``symbol`` (variances and gammas in
    0.5..1.5, the rest in -1..1.5)."""
    arg_shapes, _, aux_shapes = symbol.infer_shape(data=shape)
    names = symbol.list_arguments() + symbol.list_auxiliary_states()
    params = {}
    for name, shp in zip(names, arg_shapes + aux_shapes):
        if name == "data":
            continue
        low = 0.5 if name.endswith(("var", "gamma")) else -1.0
        params[name] = rng.uniform(low, 1.5, shp).astype("float32")
    return params


def _run(symbol, params, x):
    args = {k: mx.nd.array(v) for k, v in params.items() if k in symbol.list_arguments()}
    aux = {k: mx.nd.array(v) for k, v in params.items() if k in symbol.list_auxiliary_states()}
    args["data"] = mx.nd.array(x)
    return symbol.bind(mx.cpu(), args, aux_states=aux).forward(is_train=False)[0].asnumpy()


def _check_against_unfolded(symbol, shape, folded_count):
    rng = np.random.default_rng(0)
    params = _random_params(symbol, shape, rng)
    x = rng.standard_normal(shape).astype("float32")
    folded, folded_params = fold_batch_norms(symbol, params)
    assert _ops(symbol).get("BatchNorm", 0) - _ops(folded).get("BatchNorm", 0) == folded_count
    assert set(folded_params) == set(folded.list_arguments() + folded.list_auxiliary_states()) - {"data"}
    expected = _run(symbol, params, x)
    np.testing.assert_allclose(_run(folded, folded_params, x), expected, rtol=1e-5, atol=1e-5 * abs(expected).max())
    return folded, folded_params


@pytest.mark.parametrize("no_bias", [True, False])
@pytest.mark.parametrize("fix_gamma", [True, False])
def test_conv_then_batch_norm_folds_to_one_convolution(no_bias, fix_gamma):
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), pad=(1, 1), num_filter=6, no_bias=no_bias, name="conv")
    out = mx.sym.relu(mx.sym.BatchNorm(conv, fix_gamma=fix_gamma, eps=1e-5, name="bn"))
    folded, params = _check_against_unfolded(out, (2, 4, 5, 7), 1)
    assert _ops(folded) == {"null": 3, "Convolution": 1, "relu": 1}
    assert params["conv_bias"].dtype == np.float32


def test_grouped_and_strided_convolutions_fold():
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=8, num_group=2,
                              no_bias=True, name="conv")
    _check_against_unfolded(mx.sym.BatchNorm(conv, fix_gamma=False, eps=1e-5, name="bn"), (2, 4, 9, 9), 1)


def test_a_convolution_read_elsewhere_keeps_its_batch_norm():
    """Folding would change the other reader's input: the batch norm stays."""
    data = mx.sym.var("data")
    conv = mx.sym.Convolution(data, kernel=(1, 1), num_filter=4, no_bias=True, name="conv")
    out = mx.sym.BatchNorm(conv, fix_gamma=False, name="bn") + conv
    _check_against_unfolded(out, (1, 3, 4, 4), 0)


def test_a_shared_weight_keeps_its_batch_norm():
    data = mx.sym.var("data")
    weight = mx.sym.var("shared_weight")
    first = mx.sym.Convolution(data, weight=weight, kernel=(1, 1), num_filter=3, no_bias=True, name="first")
    second = mx.sym.Convolution(first, weight=weight, kernel=(1, 1), num_filter=3, no_bias=True, name="second")
    _check_against_unfolded(mx.sym.BatchNorm(second, fix_gamma=False, name="bn"), (1, 3, 4, 4), 0)


def test_batch_norm_after_other_operators_stays():
    data = mx.sym.var("data")
    fc = mx.sym.FullyConnected(data, num_hidden=5, name="fc")
    out = mx.sym.BatchNorm(mx.sym.relu(mx.sym.Convolution(data, kernel=(1, 1), num_filter=5, name="c")),
                           fix_gamma=False, name="after_relu")
    _check_against_unfolded(mx.sym.BatchNorm(fc, fix_gamma=False, name="bn"), (2, 7), 0)
    _check_against_unfolded(out, (2, 3, 4, 4), 0)


@pytest.mark.parametrize("name", ["resnest14", "resnest50_fast_2s1x64d", "resnest50_fast_1s4x24d"])
def test_every_batch_norm_of_a_variant_folds_and_outputs_hold(name):
    """Every batch norm of the inference graph follows a convolution and folds; outputs equal MXNet's unfolded
    graph (random, calibrated weights) within float32 rounding."""
    net = gluon_resnest.get_model(name, classes=10)
    net.initialize(mx.init.Xavier(magnitude=2))
    rng = np.random.default_rng(1)
    for param in net.collect_params().values():
        if param.name.endswith(("running_var", "gamma")):
            param.set_data(mx.nd.array(rng.uniform(0.5, 1.5, param.shape)))
        elif param.name.endswith(("running_mean", "beta")):
            param.set_data(mx.nd.array(rng.uniform(-0.2, 0.2, param.shape)))
    prepare_for_inference(net)
    x = mx.nd.array(rng.standard_normal((2, 3, 48, 40)))
    expected = net(x).asnumpy()
    folded = folded_block(net)
    assert "BatchNorm" not in _ops(folded(mx.sym.var("data")))
    got = folded(x).asnumpy()
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


def test_bf16_conversion_folds_in_float32_and_fuses(tmp_path):
    """``to_bfloat16`` exports a graph of oneDNN-fused convolutions without batch norms whose logits stay within
    bf16's rounding of the float32 network's (random resnest14)."""
    from gluon_resnest.deploy.export import to_bfloat16

    if gluon_resnest.cpu_runtime().bf16 == "none":
        pytest.skip("oneDNN has no bf16 convolutions on this CPU (%s)" % gluon_resnest.cpu_runtime())
    net = gluon_resnest.get_model("resnest14", classes=10)
    net.initialize(mx.init.Xavier(magnitude=2))
    prepare_for_inference(net)
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.array(np.random.default_rng(2).uniform(-1, 1, (2, 3, 32, 32)))
    expected = net(x).asnumpy()
    converted = to_bfloat16(net, x)
    got = converted(x).asnumpy()
    assert np.abs(got - expected).max() <= 3e-2 * np.abs(expected).max()
    converted.export(str(tmp_path / "bf16"), remove_amp_cast=False)
    ops = _ops(mx.sym.load(str(tmp_path / "bf16-symbol.json")))
    assert "BatchNorm" not in ops and "Convolution" not in ops and ops["_sg_mkldnn_conv"] > 0 and ops["amp_cast"]
