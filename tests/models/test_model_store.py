"""Model store and pretrained loading against a loopback server; no test touches the internet."""
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

import gluon_resnest
from gluon_resnest import get_model, model_store
from gluon_resnest.model_store import DownloadPolicy, ModelFileError, get_model_file
from tests.helpers.model_server import publish, random_weights, sha1_of

FAST = dict(policy=DownloadPolicy(retries=1, backoff=0.01, timeout=5))


@pytest.fixture
def env(store_env):
    return store_env


@pytest.fixture(scope="module")
def resnest14_file(tmp_path_factory):
    """A resnest14 params file with random weights, its bytes, sha1, and the network's output on a fixed input."""
    net, data = random_weights("resnest14", tmp_path_factory.mktemp("w"))
    x = mx.nd.random.uniform(shape=(1, 3, 64, 64), ctx=mx.cpu())
    return data, sha1_of(data), x, net(x).asnumpy()


@pytest.fixture
def published(resnest14_file, server, monkeypatch):
    """Pretend the random file is the published resnest14 and serve it."""
    data, sha1, _, _ = resnest14_file
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], data)
    return sha1


def test_first_download_then_cached_hit(env, server, published, resnest14_file):
    path = get_model_file("resnest14", **FAST)
    assert path == str(env / ("resnest14-%s.params" % published[:8]))
    assert len(server.requests) == 1
    assert get_model_file("resnest14", **FAST) == path
    assert len(server.requests) == 1
    assert sorted(os.listdir(env)) == sorted([os.path.basename(path), "resnest14-%s.lock" % published[:8]])
    net = get_model("resnest14", pretrained=True)
    x, expected = resnest14_file[2], resnest14_file[3]
    assert np.array_equal(net(x).asnumpy(), expected)


def test_corrupt_cache_is_downloaded_again(env, server, published):
    path = get_model_file("resnest14", **FAST)
    with open(path, "r+b") as handle:
        handle.write(b"garbage")
    assert get_model_file("resnest14", **FAST) == path
    assert len(server.requests) == 2 and model_store.check_sha1(path, published)


def test_wrong_sha1_on_server_fails_after_one_retry(env, server, monkeypatch, resnest14_file):
    data = resnest14_file[0]
    publish(monkeypatch, "resnest14", "0" * 40)
    server.add("resnest14-00000000", data)
    with pytest.raises(ModelFileError, match="failed its sha1 check twice"):
        get_model_file("resnest14", **FAST)
    assert len(server.requests) == 2
    assert not any(f.endswith(".params") for f in os.listdir(env))


def test_server_down_names_url_and_manual_path(env, server, published):
    url = server.url
    server.close()
    with pytest.raises(ModelFileError) as err:
        get_model_file("resnest14", **FAST)
    text = str(err.value)
    assert url + "gluon/models/resnest14-%s.zip" % published[:8] in text
    assert str(env / ("resnest14-%s.params" % published[:8])) in text
    assert os.listdir(env) == ["resnest14-%s.lock" % published[:8]]


def test_missing_file_on_server(env, server, monkeypatch):
    publish(monkeypatch, "resnest14", "1" * 40)
    with pytest.raises(ModelFileError, match="404"):
        get_model_file("resnest14", **FAST)
    assert len(server.requests) == 1


def test_truncated_transfer_is_retried_then_fails_cleanly(env, server, published):
    server.mode = "truncate"
    with pytest.raises(ModelFileError, match="truncated transfer"):
        get_model_file("resnest14", **FAST)
    assert len(server.requests) == 2
    assert [f for f in os.listdir(env) if not f.endswith(".lock")] == []
    server.mode = "ok"
    assert model_store.check_sha1(get_model_file("resnest14", **FAST), published)


def test_zip_path_traversal_is_refused(env, server, monkeypatch, resnest14_file):
    data = resnest14_file[0]
    sha1 = sha1_of(data)
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], data, member="../../evil.params")
    with pytest.raises(ModelFileError, match="unsafe member path"):
        get_model_file("resnest14", **FAST)
    assert not (env.parent.parent / "evil.params").exists()


def test_two_processes_download_once(env, server, published, tmp_path):
    server.delay = 1.0
    code = ("import sys; from gluon_resnest.model_store import get_model_file; "
            "print(get_model_file('resnest14', tag=sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, published], stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ)) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and outs[0].endswith("resnest14-%s.params" % published[:8])
    assert len(server.requests) == 1


def test_explicit_root_and_env_overrides(tmp_path, server, published, monkeypatch):
    monkeypatch.setenv("MXNET_GLUON_REPO", server.url.rstrip("/"))
    monkeypatch.delenv("MXNET_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert model_store.default_root() == str(tmp_path / "home" / ".mxnet" / "models")
    path = get_model_file("resnest14", root=str(tmp_path / "custom"), **FAST)
    assert path.startswith(str(tmp_path / "custom"))
    assert server.requests == ["/gluon/models/resnest14-%s.zip" % published[:8]]


def test_pretrained_by_path_and_by_sha1_prefix(env, server, resnest14_file, tmp_path):
    data, sha1, x, expected = resnest14_file
    local = tmp_path / "mine.params"
    local.write_bytes(data)
    assert np.array_equal(get_model("resnest14", pretrained=str(local))(x).asnumpy(), expected)
    server.add("resnest14-" + sha1[:8], data)
    net = get_model("resnest14", pretrained=sha1[:10])
    assert np.array_equal(net(x).asnumpy(), expected)
    with pytest.raises(FileNotFoundError, match="not-a-file-or-hash does not exist"):
        get_model("resnest14", pretrained="not-a-file-or-hash")


def test_fine_tuning_replaces_only_the_classifier(env, server, published, resnest14_file):
    net = get_model("resnest14", pretrained=True, classes=7)
    ref = get_model("resnest14", pretrained=True)
    assert net.fc.weight.shape == (7, 2048)
    assert np.array_equal(net.layer4[0].conv1.weight.data().asnumpy(), ref.layer4[0].conv1.weight.data().asnumpy())
    x = resnest14_file[2]
    assert net(x).shape == (1, 7)
    ref.reset_classifier(3)
    assert ref(x).shape == (1, 3)


def test_purge_removes_only_resnest_files(env, server, published):
    path = get_model_file("resnest14", **FAST)
    other = env / "resnet50_v1-cc729d95.params"
    other.write_bytes(b"x")
    removed = model_store.purge()
    assert path in removed and not os.path.exists(path)
    assert other.exists()


def test_gluoncv_get_model_returns_ours(env, server, published, resnest14_file):
    from gluon_resnest.interop.gluoncv import import_gluoncv

    gcv = import_gluoncv()
    for name in gluon_resnest.list_models():
        assert isinstance(gcv.model_zoo.get_model(name), gluon_resnest.ResNeSt)
    net = gcv.model_zoo.get_model("resnest14", pretrained=True)
    assert np.array_equal(net(resnest14_file[2]).asnumpy(), resnest14_file[3])


@pytest.mark.parametrize("order", ["gluoncv_first", "ours_first"])
def test_registry_whichever_import_order(order):
    first, second = ("import gluoncv", "import gluon_resnest")
    if order == "ours_first":
        first, second = second, first
    code = "; ".join([first, second, "import gluoncv, gluon_resnest",
                      "n = gluoncv.model_zoo.get_model('resnest50_fast_1s4x24d')",
                      "import gluoncv.model_zoo.segbase as segbase",
                      "assert segbase.get_backbone('resnest50').__class__ is gluon_resnest.ResNeSt",
                      "assert isinstance(n, gluon_resnest.ResNeSt), type(n)", "print('ok')"])
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


@pytest.fixture
def params_reads(monkeypatch):
    """Paths of ``.params`` files read from now on, through Python's ``open`` or ``mx.nd.load``."""
    import builtins

    reads = []
    real_open, real_load = builtins.open, mx.nd.load

    def counting_open(file, mode="r", *args, **kwargs):
        if str(file).endswith(".params") and "r" in mode and "+" not in mode:
            reads.append(str(file))
        return real_open(file, mode, *args, **kwargs)

    def counting_load(fname):
        reads.append(str(fname))
        return real_load(fname)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(mx.nd, "load", counting_load)
    return reads


def test_get_model_reads_the_parameter_file_once(env, server, published, resnest14_file, tmp_path, params_reads):
    x, expected = resnest14_file[2], resnest14_file[3]
    path = get_model_file("resnest14", **FAST)
    del params_reads[:]
    assert np.array_equal(get_model("resnest14", pretrained=True)(x).asnumpy(), expected)
    assert params_reads == [path]
    del params_reads[:]
    assert get_model("resnest14", pretrained=True, classes=5)(x).shape == (1, 5)
    assert params_reads == [path]
    local = str(tmp_path / "mine.params")
    with open(local, "wb") as handle:
        handle.write(resnest14_file[0])
    del params_reads[:]
    assert np.array_equal(get_model("resnest14", pretrained=local)(x).asnumpy(), expected)
    assert params_reads == [local]


def test_downloaded_file_is_readable_by_others(env, server, published):
    from tests.helpers.files import umask, wrong_modes

    with umask(0o022):
        path = get_model_file("resnest14", **FAST)
    assert wrong_modes(path) == {}
    assert sorted(os.listdir(os.path.dirname(path))) == sorted([os.path.basename(path),
                                                                "resnest14-%s.lock" % published[:8]])
