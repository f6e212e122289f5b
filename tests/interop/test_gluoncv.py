"""GluonCV's own call patterns against our package: its model zoo, keywords, DropBlock tools, class names, export,
detection and segmentation builders, the publishers' stores, and GluonCV's import next to torch >= 2."""
import os
import subprocess
import sys
from collections import Counter
from functools import partial

import mxnet as mx
import numpy as np
import portalocker
import pytest
from mxnet import autograd

import gluon_resnest
from gluon_resnest import get_model
from gluon_resnest.interop.gluoncv import gluoncv_original, import_gluoncv
from gluon_resnest.models import store
from gluon_resnest.nn import copy_parameters, iter_dropblocks
from tests.helpers.model_server import publish, random_weights, sha1_of
from tests.helpers.scripts import ROOT, script_path

gcv = import_gluoncv()
FAST = dict(policy=store.DownloadPolicy(retries=0, backoff=0.01, timeout=5))


def _python(code, env=None):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=env or dict(os.environ), cwd=ROOT)


def test_readme_environment_imports_gluoncv_and_builds_ours():
    result = _python("import gluoncv; print(gluoncv.__version__)")
    assert result.returncode == 0, result.stderr[-2000:]
    result = _python("import gluoncv, gluon_resnest; "
                     "n = gluoncv.model_zoo.get_model('resnest50', input_size=224, use_global_stats=True); "
                     "assert type(n) is gluon_resnest.ResNeSt; print('ok')")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_gluoncv_imports_after_us_next_to_torch_2(tmp_path):
    fake = tmp_path / "site" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("__version__ = '2.13.0'\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "site"), ROOT]))
    alone = _python("import gluoncv", env)
    assert alone.returncode != 0 and "Legacy torch==2.13.0" in alone.stderr
    after = _python("import gluon_resnest, gluoncv, torch; print(torch.__version__, gluoncv.model_zoo.resnest50)",
                    env)
    assert after.returncode == 0, after.stderr[-2000:]
    assert after.stdout.startswith("2.13.0")


# GluonCV's scripts/classification/imagenet: train_horovod.py passes ctx, pretrained, classes, input_size and, with
# flags, last_gamma and dropblock_prob; train_imagenet.py passes ctx, pretrained, classes, last_gamma, and with
# --use-gn norm_layer=gcv.nn.GroupNorm.
@pytest.mark.parametrize("kwargs", [
    dict(ctx=mx.cpu(), pretrained=False, classes=1000, input_size=224),
    dict(ctx=mx.cpu(), pretrained=False, classes=100, input_size=224, last_gamma=True, dropblock_prob=0.1),
    dict(ctx=mx.cpu(), pretrained=False, classes=10, last_gamma=True),
    dict(ctx=mx.cpu(), pretrained=False, classes=10, norm_layer="GroupNorm"),
])
@pytest.mark.parametrize("name", ["resnest50", "resnest50_fast_1s4x24d"])
def test_training_script_keywords(name, kwargs):
    if kwargs.get("norm_layer") == "GroupNorm":
        if "fast_1s4x24d" in name:
            pytest.skip("GluonCV's GroupNorm needs channels divisible by 32; 1s4x24d has 48-channel groups")
        kwargs = dict(kwargs, norm_layer=gcv.nn.GroupNorm)
    net = gcv.model_zoo.get_model(name, **kwargs)
    assert isinstance(net, gluon_resnest.ResNeSt) and net.num_classes == kwargs["classes"]
    net.initialize(mx.init.Xavier())
    net.cast("float32")
    with autograd.record():
        out = net(mx.nd.random.uniform(shape=(2, 3, 64, 64)))
    out.backward()
    assert out.shape == (2, kwargs["classes"])


def test_gluoncv_keywords_have_gluoncv_meaning():
    rates = {db.drop_prob for db in iter_dropblocks(gcv.model_zoo.get_model("resnest50"))}
    assert rates == {0.1} and {db.drop_prob for db in iter_dropblocks(gcv.model_zoo.resnest14())} == {0.0}
    assert {db.drop_prob for db in iter_dropblocks(get_model("resnest50"))} == {0.0}
    net = gcv.model_zoo.get_model("resnest14", use_global_stats=True)
    net.initialize(mx.init.Xavier())
    for p in net.collect_params(".*running_var").values():
        p.set_data(mx.nd.random.uniform(0.5, 1.5, shape=p.shape))
    x = mx.nd.random.uniform(shape=(2, 3, 64, 64))
    with autograd.record():
        trained = net(x).asnumpy()
    assert np.allclose(trained, net(x).asnumpy(), rtol=1e-5, atol=1e-6)
    drop = gcv.model_zoo.get_model("resnest14", split_drop_ratio=0.25)
    assert drop.layer1[0].conv2.drop is not None and drop.layer1[0].conv2.drop._rate == 0.25
    assert gcv.model_zoo.get_model("resnest14", input_size=320).input_size == 320
    with pytest.raises(TypeError, match="use_sk"):
        gcv.model_zoo.get_model("resnest50", use_sk=True)


def test_shallow_stem_matches_gluoncv_constructor(tmp_path):
    from gluoncv.model_zoo.resnest import Bottleneck as GluonCVBottleneck
    from gluoncv.model_zoo.resnest import ResNeSt as GluonCVResNeSt

    ref = GluonCVResNeSt(GluonCVBottleneck, [1, 1, 1, 1], radix=2, deep_stem=False, avg_down=True, avd=True,
                         use_splat=True, name_prefix="resnest_")
    ref.initialize(mx.init.Xavier())
    path = str(tmp_path / "shallow.params")
    ref.save_parameters(path)
    net = get_model("resnest14", deep_stem=False, pretrained=path)
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64))
    assert np.allclose(net(x).asnumpy(), ref(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_dropblock_scheduler_and_set_drop_prob_ramp_ours():
    from gluoncv.nn.dropblock import DropBlockScheduler, set_drop_prob

    net = gcv.model_zoo.get_model("resnest26")
    net.initialize(mx.init.Xavier())
    net.hybridize()
    scheduler = DropBlockScheduler(net, 0, 0.1, 4)
    scheduler(0)
    assert {round(db.drop_prob, 6) for db in iter_dropblocks(net)} == {0.025}
    x = mx.nd.ones((2, 3, 64, 64))
    with autograd.record():
        a = net(x).asnumpy()
    with autograd.record():
        b = net(x).asnumpy()
    assert not np.allclose(a, b)
    net.apply(partial(set_drop_prob, 0.0))
    assert {db.drop_prob for db in iter_dropblocks(net)} == {0.0}


@pytest.fixture
def resnest14_bytes(tmp_path_factory):
    return random_weights("resnest14", tmp_path_factory.mktemp("w"))[1]


@pytest.fixture
def gluoncv_store(tmp_path, server, monkeypatch, resnest14_bytes):
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    monkeypatch.setenv("MXNET_GLUON_REPO", server.url)
    sha1 = sha1_of(resnest14_bytes)
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], resnest14_bytes)
    return tmp_path / "mxhome" / "models"


def test_pretrained_class_names_like_gluoncv_demo(gluoncv_store):
    net = gcv.model_zoo.get_model("resnest14", pretrained=True)
    attrib = gcv.data.ImageNet1kAttr()
    assert net.classes == list(attrib.classes) and net.synset == list(attrib.synset)
    assert net.classes_long == list(attrib.classes_long) and net.num_classes == 1000
    pred = net(mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64)))
    ind = mx.nd.topk(pred, k=5)[0].astype("int")
    assert all(isinstance(net.classes[ind[i].asscalar()], str) for i in range(5))
    tuned = gcv.model_zoo.get_model("resnest14", pretrained=True, classes=7)
    assert tuned.classes is None and tuned.num_classes == 7


def test_export_block_and_symbolblock_imports(tmp_path):
    from gluoncv.utils import export_block

    net = gcv.model_zoo.get_model("resnest14")
    net.initialize(mx.init.Xavier())
    prefix = str(tmp_path / "gcv-export")
    export_block(prefix, net, data_shape=(64, 64, 3), preprocess=True, layout="HWC")
    block = mx.gluon.SymbolBlock.imports(prefix + "-symbol.json", ["data"], prefix + "-0000.params")
    img = mx.nd.random.uniform(0, 255, shape=(1, 64, 64, 3))
    mean, std = mx.nd.array([0.485, 0.456, 0.406]), mx.nd.array([0.229, 0.224, 0.225])
    manual = ((img / 255 - mean.reshape((1, 1, 1, 3))) / std.reshape((1, 1, 1, 3))).transpose((0, 3, 1, 2))
    assert np.allclose(block(img).asnumpy(), net(manual).asnumpy(), rtol=1e-4, atol=1e-5)


def _ops(symbol):
    """Operator name -> count in a symbol (or its JSON text), variables left out."""
    import json

    text = symbol if isinstance(symbol, str) else symbol.tojson()
    return Counter(node["op"] for node in json.loads(text)["nodes"] if node["op"] != "null")


def _exported_ops(prefix):
    with open(prefix + "-symbol.json") as f:
        return _ops(f.read())


MODE_OPS = ("Dropout", "_random_uniform_like")


def test_export_block_of_gluoncv_default_network_has_no_dropblock(tmp_path):
    """GluonCV's first call path: ``export_block`` of ``get_model('resnest50')`` (rate 0.1) writes the graph of
    the same network at rate 0, without random or Dropout ops."""
    from gluoncv.utils import export_block

    net = gcv.model_zoo.get_model("resnest50")
    assert {db.drop_prob for db in iter_dropblocks(net)} == {0.1}
    plain = get_model("resnest50")
    for block, name in ((net, "gcv"), (plain, "rate0")):
        block.initialize()
        export_block(str(tmp_path / name), block, preprocess=True, layout="HWC")
    ops = _exported_ops(str(tmp_path / "gcv"))
    assert ops == _exported_ops(str(tmp_path / "rate0"))
    assert not [op for op in ops if op in MODE_OPS or "random" in op], sorted(ops)
    assert "DropBlock(drop_prob=0.1, block_size=3)" in repr(net)


def _with_gluoncv_reference(name, **kwargs):
    """GluonCV-named network ``name`` (ours) and GluonCV's own implementation holding the same weights."""
    net = gcv.model_zoo.get_model(name, **kwargs)
    net.initialize(mx.init.Xavier())
    ref = gluoncv_original(name)()
    ref.initialize()
    copy_parameters(net, ref)
    return net, ref


@pytest.mark.parametrize("name", ["resnest14", "resnest26"])
def test_training_step_matches_gluoncv_outputs_and_gradients(name):
    """Training graphs use other operators than inference graphs (split, broadcast_like, add_n): one hybridized
    training step gives the outputs and every parameter gradient of GluonCV's implementation with the same
    weights (DropBlock off, BatchNorm on batch statistics)."""
    net = gcv.model_zoo.get_model(name, dropblock_prob=0.0)
    net.initialize(mx.init.Xavier())
    ref = gluoncv_original(name)()
    ref.initialize()
    ref.apply(partial(gcv.nn.dropblock.set_drop_prob, 0.0))
    copy_parameters(net, ref)
    x = mx.nd.random.uniform(-1, 1, shape=(4, 3, 64, 64))
    head = mx.nd.random.uniform(-1, 1, shape=(4, 1000))
    results = []
    for block in (net, ref):
        block.hybridize(static_alloc=True)
        with autograd.record():
            out = block(x)
            loss = (out * head).sum()
        loss.backward()
        grads = {key: param.grad().asnumpy() for key, param in block._collect_params_with_prefix().items()
                 if param.grad_req != "null"}
        results.append((out.asnumpy(), grads))
    (out, grads), (ref_out, ref_grads) = results
    assert np.abs(out - ref_out).max() <= 1e-4 * np.abs(ref_out).max()
    assert grads.keys() == ref_grads.keys() and len(grads) > 80
    # biases in front of a BatchNorm have a gradient of zero up to rounding: an absolute floor covers them
    floor = 1e-5 * max(np.abs(grad).max() for grad in ref_grads.values())
    for key, ref_grad in ref_grads.items():
        assert np.abs(grads[key] - ref_grad).max() <= 2e-3 * np.abs(ref_grad).max() + floor, key


def test_quantize_net_and_cast_none_on_gluoncv_default_network():
    from mxnet.contrib.quantization import quantize_net

    net, ref = _with_gluoncv_reference("resnest26")
    x = mx.nd.random.uniform(-1, 1, shape=(4, 3, 64, 64))
    expected = ref(x).asnumpy()
    calib = mx.io.NDArrayIter(x, batch_size=4)
    qnet = quantize_net(net, calib_mode="naive", calib_data=calib, num_calib_examples=4, ctx=mx.cpu())
    assert np.corrcoef(qnet(x).asnumpy().ravel(), expected.ravel())[0, 1] > 0.95
    ref.cast(None)
    net.cast(None)
    net.hybridize()
    out = net(x)
    assert out.dtype == np.float32 and np.allclose(out.asnumpy(), ref(x).asnumpy(), rtol=1e-4, atol=1e-6)
    with autograd.record():
        trained = net(x)
    assert trained.dtype == np.float32 and np.isfinite(trained.asnumpy()).all()


def test_hybridized_network_alternates_modes_at_gluoncv_rate(tmp_path):
    """One hybridized network at rate 0.1 (BatchNorm on running statistics, so DropBlock is the only difference
    between the modes): inference equals GluonCV's, training drops, and only the training graph holds DropBlock."""
    net, ref = _with_gluoncv_reference("resnest26", use_global_stats=True)
    net.hybridize(static_alloc=True)
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64))
    expected = ref(x).asnumpy()
    for _ in range(2):
        with autograd.record():
            trained = net(x).asnumpy()
        assert not np.allclose(trained, expected, rtol=1e-3, atol=1e-4)
        assert np.allclose(net(x).asnumpy(), expected, rtol=1e-4, atol=1e-6)
    net.export(str(tmp_path / "net"))
    inference_ops = _exported_ops(str(tmp_path / "net"))
    training_ops = _ops(net._mode_graphs[True][0][1])
    assert not any(op in inference_ops for op in MODE_OPS)
    assert training_ops["_random_uniform_like"] == 3 * 4 and "Dropout" not in training_ops


def test_network_inside_a_graph_traced_once_keeps_the_runtime_switch():
    """Traced in training inside another block's graph (GluonCV's detection and segmentation networks), the same
    graph drops in training and equals GluonCV's network in inference."""
    net, ref = _with_gluoncv_reference("resnest26", use_global_stats=True)
    outer = mx.gluon.nn.HybridSequential()
    outer.add(net)
    outer.hybridize()
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64))
    with autograd.record():
        trained = outer(x).asnumpy()
    assert not np.allclose(trained, ref(x).asnumpy(), rtol=1e-3, atol=1e-4)
    assert np.allclose(outer(x).asnumpy(), ref(x).asnumpy(), rtol=1e-4, atol=1e-6)
    assert _ops(outer._cached_graph[1])["Dropout"] == 3 * 4


def test_detection_builder_uses_our_backbone():
    net = gcv.model_zoo.get_model("faster_rcnn_fpn_syncbn_resnest50_coco", pretrained=False, pretrained_base=False)
    ops = _ops(mx.sym.Group(net.features(mx.sym.var("data"))))
    assert "add_n" in ops and "_contrib_AdaptiveAvgPooling2D" not in ops, sorted(ops)
    net.initialize()
    ids, scores, boxes = net(mx.nd.random.uniform(-1, 1, shape=(1, 3, 128, 128)))
    assert ids.shape[0] == 1 and boxes.shape[-1] == 4


def test_segmentation_builder_uses_our_backbone():
    net = gcv.model_zoo.get_model("deeplab_resnest50_ade", pretrained=False, pretrained_base=False,
                                  crop_size=64, base_size=72)
    assert isinstance(net.layer1[0], gluon_resnest.Bottleneck)
    net.initialize(mx.init.Xavier())
    out = net(mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64)))
    assert out[0].shape == (1, 150, 64, 64)


def test_gluoncv_syncbn_backbone_parameters_load_into_ours(tmp_path):
    norm = mx.gluon.contrib.nn.SyncBatchNorm
    ref = gluoncv_original("resnest14")(norm_layer=norm, norm_kwargs={"num_devices": 1})
    ref.initialize(mx.init.Xavier())
    path = str(tmp_path / "syncbn.params")
    ref.save_parameters(path)
    net = gcv.model_zoo.resnest14(norm_layer=norm, norm_kwargs={"num_devices": 1})
    net.load_parameters(path)
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3, 64, 64))
    assert np.allclose(net(x).asnumpy(), ref(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_routing_can_be_switched_off():
    result = _python("import os; os.environ['GLUON_RESNEST_GLUONCV'] = '0'; import gluon_resnest, gluoncv; "
                     "print(type(gluoncv.model_zoo.get_model('resnest14')).__module__)")
    assert result.returncode == 0 and result.stdout.strip() == "gluoncv.model_zoo.resnest", result.stderr[-2000:]
    result = _python("import gluon_resnest, gluoncv; from gluon_resnest.interop import uninstall; uninstall(); "
                     "print(type(gluoncv.model_zoo.resnest50()).__module__)")
    assert result.returncode == 0 and result.stdout.strip() == "gluoncv.model_zoo.resnest", result.stderr[-2000:]


def test_each_variant_downloads_from_its_publisher():
    gluoncv_urls = store.store_of("resnest50").urls("resnest50-bcfefe1d")
    assert gluoncv_urls[0] == "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/gluon/models/" \
                              "resnest50-bcfefe1d.zip"
    fast = store.store_of("resnest50_fast_1s4x24d").urls("resnest50_fast_1s4x24d-7318153d")
    assert fast[0] == "https://github.com/zhanghang1989/ResNeSt/releases/download/weights_step2/" \
                      "resnest50_fast_1s4x24d-7318153d.zip"
    assert len(fast) == 3 and all(u.endswith("resnest50_fast_1s4x24d-7318153d.zip") for u in fast)


def test_pretrained_list_names_every_variant():
    """GluonCV's tests ask ``pretrained_model_list()`` before ``get_model(name, pretrained=True)``."""
    from gluon_resnest.models.catalogue import CATALOGUE

    assert set(gluon_resnest.list_models()) <= set(gcv.model_zoo.pretrained_model_list())
    for name, rec in CATALOGUE.items():
        assert gcv.model_zoo.model_store.short_hash(name) == rec.pretrained.sha1[:8]


#: GluonCV names that act on ResNeSt networks or their weights, taken from GluonCV.
_GLUONCV_IMPORTS = ("from gluoncv.nn.dropblock import set_drop_prob, DropBlockScheduler; "
                    "from gluoncv.model_zoo import resnest50, pretrained_model_list; "
                    "from gluoncv.model_zoo.model_store import get_model_file")
_ROUTED_CHECK = """
from functools import partial
from gluon_resnest.nn import iter_dropblocks
net = resnest50()
assert type(net) is gluon_resnest.ResNeSt
net.apply(partial(set_drop_prob, 0.05))
assert {db.drop_prob for db in iter_dropblocks(net)} == {0.05}
DropBlockScheduler(net, 0, 0.08, 4)(0)
assert {round(db.drop_prob, 6) for db in iter_dropblocks(net)} == {0.02}
assert set(gluon_resnest.list_models()) <= set(pretrained_model_list())
try:
    get_model_file("resnest50_fast_1s4x24d")
except OSError as err:
    assert "127.0.0.1:9/resnest50_fast_1s4x24d-" in str(err), err
print("routed")
"""


@pytest.mark.parametrize("first", ["gluoncv", "gluon_resnest"])
def test_gluoncv_names_are_routed_in_either_import_order(first, tmp_path):
    """Names bound from GluonCV before ``import gluon_resnest`` act on our layers and store as well."""
    imports = [_GLUONCV_IMPORTS, "import gluon_resnest"]
    env = dict(os.environ, MXNET_HOME=str(tmp_path), ENCODING_REPO="http://127.0.0.1:9/",
               GLUON_MODEL_DOWNLOAD_DEADLINE="1")
    result = _python("\n".join(imports if first == "gluoncv" else imports[::-1]) + _ROUTED_CHECK, env)
    assert result.returncode == 0 and result.stdout.strip() == "routed", result.stderr[-2000:]


def test_fast_variant_from_encoding_repo(tmp_path, server, monkeypatch, resnest14_bytes):
    net = get_model("resnest50_fast_1s4x24d")
    net.initialize(mx.init.Xavier())
    path = str(tmp_path / "fast.params")
    net.save_parameters(path)
    with open(path, "rb") as handle:
        data = handle.read()
    sha1 = sha1_of(data)
    publish(monkeypatch, "resnest50_fast_1s4x24d", sha1)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    monkeypatch.setenv("ENCODING_REPO", server.url + "weights")
    monkeypatch.setenv("MXNET_GLUON_REPO", server.url + "wrong/")
    server.add("resnest50_fast_1s4x24d-" + sha1[:8], data, folder="/weights/")
    got = store.get_model_file("resnest50_fast_1s4x24d", **FAST)
    assert server.requests == ["/weights/resnest50_fast_1s4x24d-%s.zip" % sha1[:8]]
    assert store.check_sha1(got, sha1)
    # GluonCV's own store function and its tests' pretrained path find the same verified file
    assert gcv.model_zoo.model_store.get_model_file("resnest50_fast_1s4x24d", tag=sha1) == got
    loaded = gcv.model_zoo.get_model("resnest50_fast_1s4x24d", pretrained=True)
    assert loaded.num_classes == 1000 and len(server.requests) == 1


def test_known_hosts_are_tried_in_turn_and_all_named(tmp_path, server, monkeypatch, resnest14_bytes):
    sha1 = sha1_of(resnest14_bytes)
    publish(monkeypatch, "resnest14", sha1)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    monkeypatch.delenv("MXNET_GLUON_REPO", raising=False)
    dead = "http://127.0.0.1:9/"
    hosts = (dead, server.url + "second/")
    monkeypatch.setitem(store.STORES, "gluoncv", store.Store("gluoncv", "MXNET_GLUON_REPO",
                                                             "{base}gluon/models/{stem}.zip", hosts))
    with pytest.raises(store.ModelFileError) as err:
        store.get_model_file("resnest14", **FAST)
    for host in hosts:
        assert host + "gluon/models/resnest14-%s.zip" % sha1[:8] in str(err.value)
    server.add("resnest14-" + sha1[:8], resnest14_bytes, folder="/second/gluon/models/")
    assert store.check_sha1(store.get_model_file("resnest14", **FAST), sha1)


def test_lock_file_is_gluoncvs(gluoncv_store, resnest14_bytes):
    sha1 = sha1_of(resnest14_bytes)
    gluoncv_store.mkdir(parents=True)
    lock = str(gluoncv_store / ("resnest14-%s.lock" % sha1[:8]))
    with portalocker.Lock(lock, timeout=1):
        with pytest.raises(store.ModelFileError, match="waiting for the lock %s" % lock):
            store.get_model_file("resnest14", policy=store.DownloadPolicy(retries=0, timeout=5, lock_timeout=0.5))
    assert store.get_model_file("resnest14", **FAST).endswith("resnest14-%s.params" % sha1[:8])


def test_thread_warning_when_mxnet_is_loaded_first():
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GLUON_RESNEST_KEEP_THREADS")}
    late = _python("import mxnet, gluon_resnest", env)
    early = _python("import gluon_resnest, mxnet", env)
    assert early.returncode == late.returncode == 0
    assert "RuntimeWarning" not in early.stderr
    if len(os.sched_getaffinity(0)) > 1:
        assert "import gluon_resnest before mxnet" in late.stderr and "OMP_NUM_THREADS=" in late.stderr
    for script in sorted(os.listdir(os.path.join(ROOT, "scripts"))):
        if script.endswith(".py"):
            result = subprocess.run([sys.executable, script_path(script), "--help"], capture_output=True, text=True,
                                    timeout=300, env=env)
            assert result.returncode == 0 and "RuntimeWarning" not in result.stderr, (script, result.stderr)
