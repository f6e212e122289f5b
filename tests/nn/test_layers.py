"""SplitAttentionConv against GluonCV's and a naive per-cardinal reference; DropBlock under hybridize."""
import json
from collections import Counter

import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

from gluon_resnest import get_model
from gluon_resnest.interop.gluoncv import import_gluoncv
from gluon_resnest.deploy.inference_graph import prepare_for_inference
from gluon_resnest.nn import DropBlock, SplitAttentionConv, iter_dropblocks, set_drop_prob, use_pooled_descriptor
from gluon_resnest.nn.block_tree import copy_parameters, iter_blocks

gcv = import_gluoncv()
import gluoncv.nn.splat  # noqa: E402,F401  (not re-exported by gluoncv.nn)


@pytest.mark.parametrize("radix,groups", [(1, 1), (2, 1), (4, 2), (1, 4), (2, 2)])
def test_split_attention_matches_gluoncv(radix, groups):
    channels = 32 * groups
    ours = SplitAttentionConv(channels, 3, 1, 1, groups=groups, radix=radix, in_channels=channels)
    ref = gcv.nn.splat.SplitAttentionConv(channels=channels, kernel_size=3, strides=1, padding=1, groups=groups,
                                    radix=radix, in_channels=channels, norm_layer=mx.gluon.nn.BatchNorm,
                                          use_bias=False)
    ours.initialize(mx.init.Normal(0.2))
    ref.initialize()
    for (_, a), (_, b) in zip(sorted(ours._collect_params_with_prefix().items()),
                              sorted(ref._collect_params_with_prefix().items())):
        b.set_data(a.data())
    x = mx.nd.random.normal(shape=(2, channels, 8, 8))
    assert np.allclose(ours(x).asnumpy(), ref(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_split_attention_without_norm():
    layer = SplitAttentionConv(64, 3, 1, 1, groups=2, radix=2, in_channels=64, norm_layer=None)
    layer.initialize()
    layer.hybridize()
    assert layer(mx.nd.ones((1, 64, 5, 5))).shape == (1, 64, 5, 5)
    assert layer.bn is None and layer.bn1 is None


def _block(p=0.3, hybrid=True):
    block = DropBlock(p, 3)
    if hybrid:
        block.hybridize(static_alloc=True)
    return block


@pytest.mark.parametrize("first", ["train", "eval"])
def test_dropblock_respects_mode_whatever_was_traced_first(first):
    block = _block()
    x = mx.nd.ones((2, 8, 14, 14))

    def train():
        with autograd.record():
            return block(x)

    def infer():
        return block(x)

    (train if first == "train" else infer)()
    for _ in range(2):
        assert np.array_equal(infer().asnumpy(), x.asnumpy())
        out = train().asnumpy()
        assert (out == 0).any() and out.max() > 1.0


@pytest.mark.parametrize("size", [3, 7, 14, 28, 60, 1, 2])
def test_dropblock_any_resolution_and_tiny_maps(size):
    block = _block(0.2)
    x = mx.nd.ones((4, 16, size, size))
    with autograd.record():
        out = block(x).asnumpy()
    assert out.shape == x.shape and np.isfinite(out).all()


def test_dropblock_rate_and_blocks():
    block = _block(0.2)
    x = mx.nd.ones((8, 64, 28, 28))
    with autograd.record():
        out = block(x).asnumpy()
    dropped = (out == 0).mean()
    assert 0.14 < dropped < 0.26
    assert abs(out.mean() - 1.0) < 1e-4
    seeds_alone = ((out == 0)[:, :, 1:-1, 1:-1])
    isolated = seeds_alone & (out[:, :, :-2, 1:-1] != 0) & (out[:, :, 2:, 1:-1] != 0)
    assert isolated.sum() == 0


def test_set_drop_prob_without_rebuild():
    net = get_model("resnest14", dropblock_prob=0.0)
    net.initialize()
    net.hybridize(static_alloc=True)
    x = mx.nd.random.uniform(shape=(2, 3, 64, 64))
    with autograd.record():
        a = net(x).asnumpy()
    with autograd.record():
        assert np.array_equal(net(x).asnumpy(), a)
    assert set_drop_prob(net, 0.5) == 6
    with autograd.record():
        b = net(x).asnumpy()
    assert not np.allclose(a, b)
    assert np.array_equal(net(x).asnumpy(), net(x).asnumpy())
    with pytest.raises(ValueError, match="drop_prob"):
        set_drop_prob(net, 1.5)


def test_one_graph_per_mode_and_export_after_training_calls_only(tmp_path):
    """Training graphs hold the backward-friendly operators, inference graphs the exportable ones; export() after
    training calls only traces the inference graph, which matches the one an inference call builds."""
    net = get_model("resnest14", dropblock_prob=0.0)
    net.initialize()
    net.hybridize()
    x = mx.nd.random.uniform(shape=(2, 3, 64, 64))
    with autograd.record():
        net(x)
    training_ops = Counter(node["op"] for node in json.loads(net._mode_graphs[True][0][1].tojson())["nodes"])
    assert training_ops["broadcast_like"] and training_ops["SliceChannel"] and not training_ops["broadcast_mul"]
    net.export(str(tmp_path / "traced"))
    expected = net(x).asnumpy()
    net.export(str(tmp_path / "called"))
    with open(str(tmp_path / "traced-symbol.json")) as traced, open(str(tmp_path / "called-symbol.json")) as called:
        traced_ops, called_ops = ([node["op"] for node in json.load(f)["nodes"]] for f in (traced, called))
    assert traced_ops == called_ops and "broadcast_mul" in called_ops and "broadcast_like" not in called_ops
    reloaded = mx.gluon.SymbolBlock.imports(str(tmp_path / "traced-symbol.json"), ["data"],
                                            str(tmp_path / "traced-0000.params"))
    assert np.allclose(reloaded(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)
    set_drop_prob(net, 0.2)
    assert not net._mode_graphs
    with autograd.record():
        net(x)
    net(x)
    assert net._mode_graphs[True][0] is not net._mode_graphs[False][0]
    net.export(str(tmp_path / "net"))
    with open(str(tmp_path / "net-symbol.json")) as f:
        assert "random" not in f.read()
    assert repr(net.layer3[0].dropblock1) == "DropBlock(drop_prob=0.2, block_size=3)"


def test_dropblock_gradients_and_float64():
    block = DropBlock(0.3)
    block.cast("float64")
    x = mx.nd.ones((2, 4, 9, 9), dtype="float64")
    x.attach_grad()
    with autograd.record():
        y = block(x)
    y.backward()
    assert y.dtype == np.float64
    assert np.array_equal((x.grad.asnumpy() == 0), (y.asnumpy() == 0))


@pytest.mark.parametrize("drop_prob", [0.0, 0.2])
def test_downsampling_block_pools_radix_maps_only_without_active_dropblock(drop_prob):
    """The split-attention layer of a downsampling block pools its radix maps before the weighted sum, which
    equals pooling the sum (an unpooled twin of the layer with the same weights, then the pool); DropBlock, which
    applies in training only, drops on the full-resolution sum first."""
    net = get_model("resnest14", dropblock_prob=drop_prob)
    net.initialize(mx.init.Xavier())
    block = net.layer3[0]
    assert block.use_avd and not block.avd_first and block.avd_layer is None
    seen = []
    block.conv2.dropblock.register_forward_hook(lambda b, inputs, out: seen.append(inputs[0].shape))
    x = mx.nd.random.uniform(shape=(2, 512, 16, 16), dtype="float64")
    block.cast("float64")
    out = block(x)
    assert out.shape == (2, 1024, 8, 8)
    assert seen == []
    conv2 = block.conv2
    unpooled = SplitAttentionConv(256, 3, 1, 1, 1, radix=conv2.radix, in_channels=256)
    unpooled.initialize()
    unpooled.cast("float64")
    copy_parameters(conv2, unpooled, mx.cpu())
    h = block.relu1(block.bn1(block.conv1(x)))
    main = block.bn3(block.conv3(conv2.pool(unpooled(h))))
    expected = mx.nd.relu(main + block.downsample(x))
    assert np.allclose(out.asnumpy(), expected.asnumpy(), rtol=1e-12, atol=1e-12)
    with autograd.train_mode():
        assert block(x).shape == (2, 1024, 8, 8)
    assert seen == ([] if drop_prob == 0 else [(2, 256, 16, 16)])


@pytest.mark.parametrize("name", ["resnest14", "resnest50_fast_1s1x64d", "resnest50_fast_1s4x24d"])
def test_pooled_descriptor_is_the_same_function(name):
    """The inference graph's descriptor (pool, then sum over the radix) equals the default (sum, then pool)."""
    net = get_model(name, dropblock_prob=0.1)
    net.initialize(mx.init.Xavier())
    net.cast("float64")
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64), dtype="float64")
    net.hybridize()
    expected = net(x).asnumpy()
    assert prepare_for_inference(net) is net
    layers = list(iter_blocks(net, SplitAttentionConv))
    assert layers and all(layer.pooled_descriptor for layer in layers)
    assert all(db.drop_prob == 0 for db in iter_dropblocks(net))
    assert np.allclose(net(x).asnumpy(), expected, rtol=1e-12, atol=1e-12)
    assert use_pooled_descriptor(net, False) == len(layers)
    assert not any(layer.pooled_descriptor for layer in layers)

