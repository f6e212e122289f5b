"""The catalogue of hostile and clumsy uses that must stay handled: two runs in one save dir, non-finite training,
read-only and bounded weight caches, interrupted writes, inexact resumes, and errors that name cause and file.

Loopback HTTP servers stand in for the stores; tmpfs and read-only bind mounts are used where this machine allows
them (the tests needing one are skipped elsewhere); processes are killed with SIGKILL in bounded loops.
"""
import contextlib
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.data.datasets import RecordImageDataset, write_recordio
from gluon_resnest.data.toy import ensure_toy_dataset
from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.export import export_model
from gluon_resnest.deploy.export_files import meta_path
from gluon_resnest.models.params import NonFiniteWeightsWarning
from gluon_resnest.models.store import DownloadPolicy, ModelFileError, get_model_file, max_file_bytes
from gluon_resnest.train import train
from gluon_resnest.train.finite import NonFiniteError
from gluon_resnest.utils.errors import OptionError, mxnet_reason
from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.runlock import LOCK_NAME, FolderBusyError, RunLock
from tests.helpers.model_server import publish
from tests.helpers.scripts import ROOT, load_script, run_script
from tests.helpers.training import as_version_1, tiny_cfg

FAST_STORE = dict(policy=DownloadPolicy(retries=0, backoff=0.01, timeout=5))
FAST_TRAIN = dict(auto_augment=False, mixup_alpha=0.0, dropblock_prob=0.0, eval_every=0, warmup_epochs=0)


# ---------------------------------------------------------------------------------------------------- helpers

def _mount(args, target):
    """Run ``mount args... target``; True when it worked (root in a sandbox that allows mounts)."""
    return subprocess.run(["mount"] + args + [str(target)], capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only_view(folder, view):
    """``view``: a read-only bind mount of ``folder`` (skips the test where mounts are not allowed)."""
    os.makedirs(view, exist_ok=True)
    if not _mount(["--bind", str(folder)], view):
        pytest.skip("bind mounts are not allowed here")
    try:
        if not _mount(["-o", "remount,bind,ro"], view):
            pytest.skip("read-only remounts are not allowed here")
        yield str(view)
    finally:
        subprocess.run(["umount", str(view)], capture_output=True)


@contextlib.contextmanager
def small_tmpfs(folder, size="2m"):
    """A tmpfs of ``size`` at ``folder`` (skips the test where mounts are not allowed)."""
    os.makedirs(folder, exist_ok=True)
    if not _mount(["-t", "tmpfs", "-o", "size=%s" % size, "tmpfs"], folder):
        pytest.skip("tmpfs mounts are not allowed here")
    try:
        yield str(folder)
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def _kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _temps(folder):
    """Names of the staging folders (of :class:`~gluon_resnest.utils.fileio.Staging`) under ``folder``."""
    return sorted(name for _, folders, _ in os.walk(folder) for name in folders if ".staging-" in name)


def _snapshot(folder):
    return {name: os.stat(os.path.join(folder, name)).st_mtime_ns for name in sorted(os.listdir(folder))}


@pytest.fixture(scope="module")
def toy96(tmp_path_factory):
    """A 96-image toy training set (6 steps per epoch of 16)."""
    root = tmp_path_factory.mktemp("rel")
    ensure_toy_dataset(str(root / "toy"), train_count=96, val_count=40, size=48)
    return str(root / "toy")


def _cfg(toy, save, epochs, **kw):
    return tiny_cfg(str(save), epochs, **dict(dict(FAST_TRAIN, toy_dir=toy), **kw))


@pytest.fixture(scope="module")
def one_epoch(toy96):
    """A finished 1-epoch toy run that tests copy."""
    save = os.path.join(os.path.dirname(toy96), "base")
    train(_cfg(toy96, save, 1))
    return save


def _copy(src, dst):
    shutil.copytree(src, str(dst))
    return str(dst)


# ---------------------------------------------------------------------------------------- a run owns its save dir

HOLD = ("import sys, time\nfrom gluon_resnest.utils.runlock import RunLock\n"
        "with RunLock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n")


def test_second_run_into_a_held_save_dir_exits_2_naming_dir_and_holder(tmp_path):
    save = tmp_path / "save"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(save)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = run_script("train.py", "--toy", "--model", "resnest14", "--epochs", "1", "--save-dir", save,
                            "--workers", "0", timeout=300)
        assert result.returncode == 2, result.stderr[-2000:]
        assert str(save) in result.stderr and "process %d" % holder.pid in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert not os.path.exists(save / "train.log")
        with pytest.raises(FolderBusyError, match=LOCK_NAME):
            train(tiny_cfg(str(save), 1))
    finally:
        _kill(holder)


def test_lock_of_a_killed_run_is_taken_over_with_a_log_line(tmp_path, caplog):
    save = tmp_path / "save"
    for _ in range(2):
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(save)], cwd=ROOT, stdout=subprocess.PIPE,
                                  text=True)
        assert holder.stdout.readline().strip() == "held"
        _kill(holder)
        with caplog.at_level("INFO"), RunLock(str(save)):
            with RunLock(str(save)):
                pass
        assert "process %d" % holder.pid in caplog.text and "which has released it" in caplog.text
        caplog.clear()


# ------------------------------------------------------------------------------------------ non-finite training

def test_non_finite_options_are_refused_naming_the_flag(tmp_path):
    for option in ("lr", "momentum", "wd", "warmup_lr"):
        with pytest.raises(OptionError, match="%s must be a finite number" % option):
            tiny_cfg(str(tmp_path / "s"), 1, **{option: float("nan")}).resolved()
    result = run_script("train.py", "--toy", "--model", "resnest14", "--lr", "inf", "--save-dir", tmp_path / "s",
                        timeout=300)
    assert result.returncode == 2 and "error: --lr must be a finite number, got inf" in result.stderr
    assert "Traceback" not in result.stderr
    result = run_script("train.py", "--toy", "--model", "resnest14", "--input-size", "-5",
                        "--save-dir", tmp_path / "s", timeout=300)
    assert result.returncode == 2 and "--input-size must be 0 or in [32, 1024]" in result.stderr
    assert not os.path.exists(tmp_path / "s")


def test_diverging_run_stops_naming_epoch_and_step_and_keeps_the_last_good_checkpoint(one_epoch, toy96, tmp_path):
    save = _copy(one_epoch, tmp_path / "div")
    with open(os.path.join(save, "latest.json")) as handle:
        before = json.load(handle)
    best = open(os.path.join(save, "best.params"), "rb").read() if os.path.exists(
        os.path.join(save, "best.params")) else None
    with pytest.raises(NonFiniteError, match=r"epoch 2, step \d+ of 6; nothing of this epoch was saved; the newest "
                                             r"checkpoint, .*ckpt-0000, is the last good one"):
        train(_cfg(toy96, save, 3, resume=True, lr=1e30))
    with open(os.path.join(save, "latest.json")) as handle:
        assert json.load(handle) == before
    assert not any(name.startswith("ckpt-0001") for name in os.listdir(save))
    if best is not None:
        assert open(os.path.join(save, "best.params"), "rb").read() == best
    assert _temps(save) == []


def test_loading_nan_weights_warns(tmp_path):
    net = get_model("resnest14", classes=10)
    net.initialize()
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.fc.weight.data()[0, 0] = float("nan")
    path = str(tmp_path / "nan.params")
    net.save_parameters(path)
    with pytest.warns(NonFiniteWeightsWarning, match=r"nan\.params holds NaN or inf in 1 arrays \(e\.g\. fc\.weight"):
        get_model("resnest14", pretrained=path)


# ------------------------------------------------------------------------------------ read-only, bounded cache

def test_verified_cache_hit_takes_no_lock_and_writes_nothing(store_env, server, published):
    path = get_model_file("resnest14", **FAST_STORE)
    os.remove(os.path.join(str(store_env), "resnest14-%s.lock" % published[:8]))
    before = _snapshot(str(store_env))
    net = get_model("resnest14", pretrained=True)
    assert net.num_classes == 1000 and get_model_file("resnest14", **FAST_STORE) == path
    assert _snapshot(str(store_env)) == before and len(server.requests) == 1


def test_read_only_cache_serves_pretrained(store_env, server, published, tmp_path):
    get_model_file("resnest14", **FAST_STORE)
    with read_only_view(str(store_env), tmp_path / "ro") as view:
        net = get_model("resnest14", pretrained=True, root=view)
        assert net.num_classes == 1000 and len(server.requests) == 1
        os.remove(os.path.join(str(store_env), "resnest14-%s.lock" % published[:8]))
        assert get_model_file("resnest14", root=view, **FAST_STORE).startswith(view)
        with pytest.raises(ModelFileError, match="model cache %s is not writable .* holds no verified .*resnest14-"
                           "0123abcd.params" % view):
            get_model_file("resnest14", tag="0123abcd", root=view, **FAST_STORE)


def test_zip_bomb_is_refused_before_it_is_written(store_env, server, weights, monkeypatch):
    data, sha1 = weights
    publish(monkeypatch, "resnest14", sha1)
    stem = "resnest14-" + sha1[:8]
    limit = max_file_bytes("resnest14")
    assert len(data) <= limit < 1.05 * len(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(stem + ".params", "w") as member:
            block = bytes(1 << 20)
            for _ in range(limit // len(block) + 8):
                member.write(block)
    server.files["/gluon/models/%s.zip" % stem] = buf.getvalue()
    with pytest.raises(ModelFileError, match="expands beyond the %d bytes" % limit):
        get_model_file("resnest14", **FAST_STORE)
    assert os.listdir(str(store_env)) == ["%s.lock" % stem]
    server.files["/gluon/models/%s.zip" % stem] = bytes(limit + 1)
    with pytest.raises(ModelFileError, match="more than the %d bytes" % limit):
        get_model_file("resnest14", **FAST_STORE)
    assert os.listdir(str(store_env)) == ["%s.lock" % stem]


def test_wrong_file_in_the_zip_writes_nothing(store_env, server, weights, monkeypatch):
    data, sha1 = weights
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], data[:-1] + b"x")
    with pytest.raises(ModelFileError, match="failed its sha1 check twice"):
        get_model_file("resnest14", **FAST_STORE)
    assert os.listdir(str(store_env)) == ["resnest14-%s.lock" % sha1[:8]]


def test_slow_download_gives_up_at_its_deadline(store_env, server, published, monkeypatch):
    server.trickle = 0.05
    start = time.monotonic()
    with pytest.raises(ModelFileError, match="deadline of 1 s"):
        get_model_file("resnest14", policy=DownloadPolicy(retries=0, timeout=5, deadline=1))
    assert time.monotonic() - start < 10
    monkeypatch.setenv("GLUON_MODEL_DOWNLOAD_DEADLINE", "0.5")
    with pytest.raises(ModelFileError, match="deadline of 0.5 s"):
        get_model_file("resnest14", policy=DownloadPolicy.from_environment(retries=0, timeout=5))
    assert _temps(str(store_env)) == []


def test_download_killed_midway_leaves_no_temp_after_the_next_run(store_env, server, published):
    server.trickle = 0.02
    code = ("import sys\nfrom gluon_resnest.models.catalogue import CATALOGUE\n"
            "from gluon_resnest.models.store import DownloadPolicy, get_model_file\n"
            "from tests.helpers.model_server import published_record\n"
            "CATALOGUE['resnest14'] = published_record('resnest14', sys.argv[1])\n"
            "get_model_file('resnest14', policy=DownloadPolicy(retries=0))\n")
    for _ in range(2):
        before = set(_temps(str(store_env)))
        child = subprocess.Popen([sys.executable, "-c", code, published], cwd=ROOT, env=dict(os.environ))
        deadline = time.monotonic() + 60
        while not set(_temps(str(store_env))) - before and time.monotonic() < deadline:
            time.sleep(0.02)
        _kill(child)
        assert set(_temps(str(store_env))) - before, "the child was killed before it started writing"
    server.trickle = 0.0
    get_model_file("resnest14", **FAST_STORE)
    assert _temps(str(store_env)) == []


def test_checkpoint_write_killed_midway_leaves_no_temp_after_the_next_run(one_epoch, toy96, tmp_path):
    save = _copy(one_epoch, tmp_path / "killed")
    code = ("import sys, time\nfrom gluon_resnest.utils.fileio import atomic_write\n"
            "def write(tmp):\n    open(tmp, 'wb').write(b'partial')\n    print('writing', flush=True)\n"
            "    time.sleep(120)\n"
            "atomic_write(sys.argv[1], write)\n")
    for epoch in range(2):
        child = subprocess.Popen([sys.executable, "-c", code, os.path.join(save, "ckpt-%04d.params" % (epoch + 5))],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "writing"
        _kill(child)
        assert [name.split(".staging-")[0] for name in _temps(save)] == [".ckpt-%04d.params" % (epoch + 5)]
    train(_cfg(toy96, save, 2, resume=True))
    assert _temps(save) == []


# ----------------------------------------------------------------------------------------- exact resume or none

def test_resume_on_data_of_another_size_is_refused_naming_both(one_epoch, tmp_path):
    save = _copy(one_epoch, tmp_path / "other")
    other = str(tmp_path / "toy64")
    ensure_toy_dataset(other, train_count=64, val_count=16, size=48)
    with pytest.raises(ValueError, match=r"96 training images \(6 steps per epoch\), this data has 64 \(4 steps"):
        train(_cfg(other, save, 3, resume=True))


def test_resume_with_fewer_epochs_than_done_is_an_error(one_epoch, toy96, tmp_path):
    save = _copy(one_epoch, tmp_path / "fewer")
    train(_cfg(toy96, save, 2, resume=True))
    with pytest.raises(OptionError, match="epochs 1 is below the 2 epochs"):
        train(_cfg(toy96, save, 1, resume=True))


def test_verify_warns_about_labels_outside_the_classifier(tmp_path, capsys):
    net = get_model("resnest14", classes=3)
    net.initialize()
    export_model(net, str(tmp_path / "three"), 32)
    _, val = ensure_toy_dataset(str(tmp_path / "toy"), train_count=8, val_count=20, size=32)
    code = load_script("verify.py").main(["--export", str(tmp_path / "three"), "--data", val, "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 0
    labels = RecordImageDataset(val).labels()
    outside = sum(1 for label in labels if label >= 3)
    assert outside and "warning: %d of %d images have labels outside the classifier's 3 classes" % (
        outside, len(labels)) in err


# --------------------------------------------------------------------------------- errors name cause and file

def test_mxnet_errors_keep_their_reason(tmp_path):
    bad = tmp_path / "bad.params"
    bad.write_bytes(b"not an array file")
    with pytest.raises(ValueError) as info:
        get_model("resnest14", pretrained=str(bad))
    assert str(bad) in str(info.value) and "Invalid NDArray file format" in str(info.value)
    assert "Traceback" not in str(info.value)
    with pytest.raises(mx.base.MXNetError) as raw:
        mx.nd.load(str(tmp_path / "absent.params"))
    assert mxnet_reason(raw.value).endswith("No such file or directory")


def test_pretrained_path_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="/no/such.params does not exist"):
        get_model("resnest14", pretrained="/no/such.params")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        get_model("resnest14", pretrained=str(tmp_path))
    result = run_script("verify.py", "--model", "resnest14", "--params", tmp_path / "missing.params", "--data",
                        tmp_path, timeout=300)
    assert result.returncode == 2 and "missing.params does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_lock_timeout_names_the_lock_file(store_env, server, published):
    import portalocker

    os.makedirs(str(store_env))
    lock = os.path.join(str(store_env), "resnest14-%s.lock" % published[:8])
    with portalocker.Lock(lock, timeout=0):
        with pytest.raises(ModelFileError, match="waiting for the lock %s" % lock):
            get_model_file("resnest14", policy=DownloadPolicy(retries=0, timeout=5, lock_timeout=0.2))


def test_full_and_read_only_filesystems_name_the_path(tmp_path):
    with small_tmpfs(tmp_path / "full", "1m") as full:
        target = os.path.join(full, "big.bin")
        with pytest.raises(OSError, match="cannot write %s: No space left on device" % target) as info:
            atomic_write(target, bytes(4 << 20))
        assert info.value.errno == errno.ENOSPC and os.listdir(full) == []
        net = get_model("resnest14")
        net.initialize()
        with pytest.raises(OSError, match="cannot write %s" % os.path.join(full, "w.params")):
            atomic_write(os.path.join(full, "w.params"), net.save_parameters)
        assert os.listdir(full) == []
        with pytest.raises(OSError, match=r"cannot write .*m-symbol\.json/-0000\.params"):
            export_model(net, os.path.join(full, "m"), 32)
        assert os.listdir(full) == []
    (tmp_path / "src").mkdir()
    with read_only_view(str(tmp_path / "src"), tmp_path / "ro") as view:
        with pytest.raises(OSError, match="cannot write %s: Read-only file system" % os.path.join(view, "a.json")):
            atomic_write(os.path.join(view, "a.json"), {"a": 1})


def test_damaged_checkpoints_are_named(one_epoch, toy96, tmp_path):
    def truncate(path):
        os.truncate(path, 100)

    def wrong_shapes(path):
        mx.nd.save(path, {key: mx.nd.zeros((1,)) for key in mx.nd.load(path)})

    def no_history(path):
        with open(path) as handle:
            state = json.load(handle)
        del state["history"]
        atomic_write(path, state)

    cases = [  # (file, damage, checkpoint format version, message)
        ("ckpt-0000.params", truncate, 2, r"checkpoint file .*ckpt-0000\.params is not the one .*ckpt-0000\.json "),
        ("ckpt-0000.states", wrong_shapes, 2, r"checkpoint file .*ckpt-0000\.states is not the one "),
        ("ckpt-0000.params", truncate, 1, r"cannot load the weights .*ckpt-0000\.params: "),
        ("ckpt-0000.states", wrong_shapes, 1, r"ckpt-0000\.states: optimizer state of .* has shape \(1,\)"),
        ("ckpt-0000.json", no_history, 2, r"ckpt-0000\.json is damaged \(no history\)"),
    ]
    for index, (name, damage, version, message) in enumerate(cases):
        save = _copy(one_epoch, tmp_path / ("d%d" % index))
        if version == 1:
            as_version_1(save)
        damage(os.path.join(save, name))
        with pytest.raises(ValueError, match=message):
            train(_cfg(toy96, save, 2, resume=True))


@pytest.fixture(scope="module")
def corrupt_rec(tmp_path_factory):
    """A 20-record toy .rec (labels 0-9) whose record 3 is garbled."""
    from gluon_resnest.data.toy import generate

    prefix = str(tmp_path_factory.mktemp("corrupt") / "bad")
    write_recordio(prefix, generate(20, 0, 32))
    dataset = RecordImageDataset(prefix + ".rec")
    with open(prefix + ".rec", "r+b") as handle:
        handle.seek(dataset.offsets[3])
        handle.write(b"\0" * 8)
    return prefix + ".rec"


def test_corrupt_record_with_default_classes_is_skipped_in_the_label_scan(corrupt_rec, tmp_path, caplog):
    cfg = tiny_cfg(str(tmp_path / "s"), 1, toy=False, rec_train=corrupt_rec, batch_size=4, **FAST_TRAIN)
    with caplog.at_level("WARNING"):
        state = train(cfg)
    assert "1 of 20 records are unreadable" in caplog.text and state.history[0].skipped == 1
    with pytest.raises(Exception, match="record 3"):
        train(cfg.replace(stop_on_bad_sample=True, save_dir=str(tmp_path / "t")))
    cut = str(tmp_path / "cut")
    shutil.copy(corrupt_rec, cut + ".rec")
    with open(corrupt_rec[:-4] + ".idx") as handle:
        index = handle.read()
    with open(cut + ".idx", "w") as handle:
        handle.write(index[:index.rindex("\t") + 2])
    assert len(RecordImageDataset(cut + ".rec").labels(skip_unreadable=True)) == 18


def test_scripts_end_user_errors_with_one_line_and_exit_2(corrupt_rec, tmp_path, capsys, monkeypatch):
    net = get_model("resnest14", classes=10)
    net.initialize()
    prefix = str(tmp_path / "m")
    export_model(net, prefix, 32)
    monkeypatch.setenv("MXNET_HOME", str(tmp_path / "mxhome"))
    monkeypatch.setenv("MXNET_GLUON_REPO", "http://127.0.0.1:9/")
    cases = [
        ("predict.py", [prefix, "--rec", corrupt_rec, "--count", "5"], "record 3"),
        ("export.py", ["--model", "resnest14", "--checkpoint", str(tmp_path / "nowhere"), "--out", prefix + "x"],
         "nowhere"),
        ("export.py", ["--model", "resnest14", "--pretrained", "--out", prefix + "y"], "127.0.0.1:9"),
        ("verify.py", ["--model", "resnest14", "--pretrained", "--data", corrupt_rec], "127.0.0.1:9"),
    ]
    for script, argv, named in cases:
        module = load_script(script)
        code = module.run_main(module.main, argv)
        err = capsys.readouterr().err
        assert code == 2, (script, err)
        assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and named in err, (script, err)
    meta = json.load(open(meta_path(prefix)))
    symbol = meta["members"]["symbol"]
    for field, value, named in (("members", {"symbol": dict(symbol, batch_size=0)}, "batch_size"),
                                ("data_config", "x", "field 'data_config'"), ("layout", "NCWH", "layout"),
                                ("data_config", dict(meta["data_config"], mean="x"), "field 'data_config'"),
                                ("class_names", ["a", "b"], "class_names has 2 names for"),
                                ("num_classes", "ten", "num_classes"), ("version", 7, "version 7")):
        json.dump(dict(meta, **{field: value}), open(meta_path(prefix), "w"))
        with pytest.raises(ValueError, match="m-meta.json: .*%s" % named):
            ExportedClassifier(prefix)


def test_training_export_replaces_an_earlier_export_in_its_save_dir(one_epoch, toy96, tmp_path):
    save = _copy(one_epoch, tmp_path / "reexport")
    open(os.path.join(save, "resnest14.onnx"), "wb").close()
    train(_cfg(toy96, save, 2, resume=True, export=True))
    assert not os.path.exists(os.path.join(save, "resnest14.onnx"))
    assert ExportedClassifier(os.path.join(save, "resnest14")).meta.model == "resnest14"


# ------------------------------------------------------------------------------------ convert without torch

def _torch_names(arrays):
    """Gluon structural keys renamed as a PyTorch state dict would name them (the inverse of the converter)."""
    out = {}
    for key, value in arrays.items():
        module, _, leaf = key.rpartition(".")
        module = module[:-len("conv2.bn")] + "conv2.bn0" if module.endswith("conv2.bn") else module
        out["%s.%s" % (module, {"gamma": "weight", "beta": "bias"}.get(leaf, leaf))] = value
    return out


def test_convert_safetensors_and_bad_files_in_the_core_environment(tmp_path, capsys):
    from safetensors.numpy import save_file

    net = get_model("resnest14", classes=10)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))
    arrays = {k: v.data().asnumpy() for k, v in net._collect_params_with_prefix().items()}
    source = str(tmp_path / "r14.safetensors")
    save_file(_torch_names(arrays), source)
    convert = load_script("convert.py")
    out = str(tmp_path / "r14.params")
    assert convert.run_main(convert.main, ["from-torch", source, out, "--model", "resnest14", "--no-check"]) == 0
    loaded = mx.nd.load(out)
    assert all(np.array_equal(loaded[k].asnumpy(), arrays[k]) for k in arrays)
    capsys.readouterr()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    pth = tmp_path / "r14.pth"
    pth.write_bytes(b"PK not really")
    expected = [(str(bad), "not a readable safetensors file")]
    try:
        import torch  # noqa: F401
        expected.append((str(pth), "not a readable PyTorch checkpoint"))
    except ImportError:
        expected.append((str(pth), "needs torch, which is not installed"))
    for path, message in expected:
        assert convert.run_main(convert.main, ["from-torch", path, str(tmp_path / "o.params"), "--model",
                                               "resnest14"]) == 2
        err = capsys.readouterr().err
        assert message in err and path in err and len(err.strip().splitlines()) == 1, err
    assert not os.path.exists(tmp_path / "o.params")
