"""The ResNeSt network: variant table, GluonCV parameter compatibility, overrides, backbones, errors, export."""
import os

import mxnet as mx
import numpy as np
import pytest

import gluon_resnest
from gluon_resnest import CATALOGUE, get_model, list_models
from gluon_resnest.interop.gluoncv import gluoncv_original
from gluon_resnest.models.complexity import count_macs, count_parameters
from gluon_resnest.models.params import ParamsMismatchError


def _random_bn_stats(net):
    for param in net.collect_params().values():
        if param.name.endswith(("running_mean", "running_var")):
            low = 0.5 if param.name.endswith("var") else -0.2
            param.set_data(mx.nd.random.uniform(low, low + 1.0, shape=param.shape))


def test_model_record_holds_architecture_recipe_and_pretrained_parts():
    rec = gluon_resnest.model_record("resnest200")
    data = rec.pretrained.data_config
    assert (data.input_size, round(data.crop_pct, 3), data.crop_mode, data.interpolation) == (
        320, 0.909, "crop_resize", "bicubic")
    assert (rec.pretrained.top1, rec.params, rec.arch.layers) == (83.86, 70201544, (3, 24, 36, 3))
    assert (rec.recipe.dropblock_prob, rec.recipe.final_drop) == (0.1, 0.2)
    assert rec.pretrained.sha1.startswith("0c5d117d") and data.mean == (0.485, 0.456, 0.406) and len(data.std) == 3
    with pytest.raises(ValueError, match="valid names"):
        gluon_resnest.model_record("resnet50")


def test_all_thirteen_variants_listed():
    assert len(list_models()) == 13
    assert list_models(pretrained=True) == list_models()
    assert list_models("fast") == [n for n in CATALOGUE if "fast" in n]


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_parameter_count_and_macs_match_published(name):
    net = get_model(name)
    row = CATALOGUE[name]
    assert count_parameters(net) == row.params
    assert round(count_macs(net, 224) / 1e9, 3) == row.gmacs_224
    assert round(count_macs(net, row.pretrained.data_config.input_size) / 1e9, 3) == row.gmacs_eval


@pytest.mark.parametrize("name", ["resnest14", "resnest26", "resnest50", "resnest101"])
@pytest.mark.parametrize("scheme", ["structural", "legacy"])
def test_gluoncv_file_loads_strictly_with_identical_outputs(name, scheme, tmp_path):
    ref = gluoncv_original(name)()
    ref.initialize(mx.init.Xavier())
    _random_bn_stats(ref)
    path = str(tmp_path / "gcv.params")
    if scheme == "structural":
        ref.save_parameters(path)
    else:
        ref.collect_params().save(path, strip_prefix=ref.prefix)
        assert not any("." in k for k in mx.nd.load(path))
    net = get_model(name)
    net.load_parameters(path)
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64))
    expected = ref(x).asnumpy()
    assert np.allclose(net(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)
    net.hybridize(static_alloc=True)
    assert np.allclose(net(x).asnumpy(), expected, rtol=1e-5, atol=1e-6)


def test_legacy_names_match_gluoncv_for_fast_variant_prefix():
    net = get_model("resnest50_fast_4s2x40d")
    names = list(net.collect_params())
    assert all(n.startswith("resnetv1f_") for n in names)
    assert "resnetv1f_layers1_conv5_weight" in names and "resnetv1f_down1_conv0_weight" in names


def test_gluoncv_fpn_relu_names_exist():
    net = get_model("resnest50")
    internals = net(mx.sym.var("data")).get_internals().list_outputs()
    for name in ("layers1_relu11_fwd", "layers2_relu15_fwd", "layers3_relu23_fwd", "layers4_relu11_fwd"):
        assert "resnest_" + name + "_output" in internals


def test_overrides_do_not_raise_type_error():
    net = get_model("resnest50", dropblock_prob=0.2, final_drop=0.3, classes=10, last_gamma=True)
    assert net.fc._units == 10 and net.drop is not None
    blocks = list(gluon_resnest.nn.iter_dropblocks(net))
    assert blocks and all(b.drop_prob == 0.2 for b in blocks)
    net.initialize()
    assert net.layer1[0].bn3.gamma.data().sum().asscalar() == 0
    sync = get_model("resnest14", norm_layer=mx.gluon.contrib.nn.SyncBatchNorm, norm_kwargs={"num_devices": 1})
    assert isinstance(sync.bn1, mx.gluon.contrib.nn.SyncBatchNorm)
    with pytest.raises(TypeError, match="unknown argument"):
        get_model("resnest50", dropblok_prob=0.1)


@pytest.mark.parametrize("kwargs,sizes", [
    ({}, (16, 8, 4, 2)),
    ({"dilation": 2}, (16, 8, 4, 4)),
    ({"dilated": True}, (16, 8, 8, 8)),
    ({"dilation": 3}, (16, 8, 8, 4)),
])
def test_stage_outputs_and_dilation(kwargs, sizes):
    net = get_model("resnest14", return_stages=True, **kwargs)
    net.initialize()
    outs = net(mx.nd.random.uniform(shape=(1, 3, 64, 64)))
    assert [o.shape[2] for o in outs] == list(sizes)
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]


def test_dilated_matches_gluoncv(tmp_path):
    ref = gluoncv_original("resnest50")(dilated=True)
    ref.initialize(mx.init.Xavier())
    _random_bn_stats(ref)
    path = str(tmp_path / "d.params")
    ref.save_parameters(path)
    net = get_model("resnest50", dilated=True)
    net.load_parameters(path)
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64))
    assert np.allclose(net(x).asnumpy(), ref(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_bad_inputs_have_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="valid names: resnest14, resnest26"):
        get_model("resnest51")
    net = get_model("resnest14")
    net.initialize()
    with pytest.raises(ValueError, match="expects 3 input channels"):
        net(mx.nd.zeros((1, 1, 64, 64)))
    with pytest.raises(ValueError, match="too small"):
        net(mx.nd.zeros((1, 3, 16, 64)))
    with pytest.raises(ValueError, match="4-D NCHW"):
        net(mx.nd.zeros((3, 64, 64)))
    path = str(tmp_path / "r26.params")
    other = get_model("resnest26")
    other.initialize()
    other.save_parameters(path)
    with pytest.raises(ParamsMismatchError, match=r"does not fit resnest14.*unexpected arrays.*matches resnest26"):
        get_model("resnest14", pretrained=path)
    with pytest.raises(ParamsMismatchError, match="not a readable MXNet"):
        bad = tmp_path / "junk.params"
        bad.write_bytes(b"not a params file")
        get_model("resnest14", pretrained=str(bad))


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_hybridize_export_import_round_trip(name, tmp_path):
    net = get_model(name)
    net.initialize(mx.init.Xavier())
    _random_bn_stats(net)
    net.hybridize(static_alloc=True, static_shape=True)
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64))
    expected = net(x).asnumpy()
    prefix = str(tmp_path / name)
    net.export(prefix)
    imported = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
    assert np.array_equal(imported(x).asnumpy(), expected)
    os.remove(prefix + "-0000.params")


def test_thread_sizing_respects_horovod_local_size():
    import subprocess
    import sys

    code = "import os, gluon_resnest; print(os.environ['OMP_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GLUON_RESNEST_KEEP_THREADS")}
    alone = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    env["HOROVOD_LOCAL_SIZE"] = "64"
    shared = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    assert int(alone) == len(os.sched_getaffinity(0)) and shared == "1"
    env["OMP_NUM_THREADS"] = "3"
    user = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout.strip()
    assert user == "3"
