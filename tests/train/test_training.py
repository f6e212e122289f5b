"""Training recipe units, resume == uninterrupted, a 2-process horovodrun toy training that learns, and rank 0's
parameters and objects reaching the other rank."""
import json
import os
import shutil
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.data.datasets import open_image_dataset
from gluon_resnest.data.targets import mixup, smooth_one_hot
from gluon_resnest.deploy.export import load_exported
from gluon_resnest.train import TrainConfig, train
from gluon_resnest.train.distributed import Distributed
from gluon_resnest.train.optimizer import apply_no_wd
from gluon_resnest.train.schedule import cosine_schedule, dropblock_rate

from tests.helpers.model_server import random_weights, sha1_of
from tests.helpers.scripts import ROOT, script_path
from tests.helpers.training import as_version_1, tiny_cfg
VENV_BIN = os.path.dirname(sys.executable)


def test_cosine_schedule_with_linear_warmup():
    sched = cosine_schedule(0.4, steps_per_epoch=10, epochs=5, warmup_epochs=1, warmup_lr=0.0)
    lrs = [sched(i) for i in range(50)]
    assert lrs[0] == 0.0 and abs(lrs[5] - 0.2) < 1e-9 and abs(lrs[10] - 0.4) < 1e-9
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert abs(lrs[30] - 0.2) < 1e-9 and lrs[49] < 0.001 and sched(50) == 0.0


def test_no_wd_selects_bn_and_bias_only():
    net = get_model("resnest14")
    names = apply_no_wd(net)
    params = net.collect_params()
    assert names and all(n.endswith(("gamma", "beta", "bias")) for n in names)
    assert all(params[n].wd_mult == 0 for n in names)
    weights = [n for n in params if n.endswith("weight")]
    assert all(params[n].wd_mult == 1 for n in weights)
    assert "resnest_layers1_conv2_bias" in names and "resnest_dense0_bias" in names


def test_label_smoothing_and_mixup_targets():
    t = smooth_one_hot([0, 2], 4, eta=0.1)
    assert np.allclose(t, [[0.925, 0.025, 0.025, 0.025], [0.025, 0.025, 0.925, 0.025]])
    assert np.allclose(t.sum(1), 1)
    assert np.array_equal(smooth_one_hot([1], 3), [[0, 1, 0]])
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    mixed, targets = mixup(x, np.eye(3, dtype=np.float32), 0.75)
    assert np.allclose(mixed[0], 0.75 * x[0] + 0.25 * x[2])
    assert np.allclose(targets[0], [0.75, 0, 0.25]) and np.allclose(targets.sum(1), 1)
    nd_mixed, _ = mixup(mx.nd.array(x), mx.nd.array(np.eye(3)), 0.75)
    assert np.allclose(nd_mixed.asnumpy(), mixed)
    with pytest.raises(ValueError):
        smooth_one_hot([5], 3)


def test_dropblock_ramp():
    assert [round(dropblock_rate(e, 4, 0.1), 3) for e in range(4)] == [0.025, 0.05, 0.075, 0.1]


def _same_arrays(path_a, path_b):
    a, b = mx.nd.load(path_a), mx.nd.load(path_b)
    return a.keys() == b.keys() and all(np.array_equal(a[k].asnumpy(), b[k].asnumpy()) for k in a)


def test_resume_ends_with_the_same_parameters(small_toy):
    """Also from a checkpoint in the format without a version field or manifest (version 1)."""
    full = str(small_toy / "full")
    train(tiny_cfg(full, 3))
    part = str(small_toy / "part")
    train(tiny_cfg(part, 3, save_every=0, stop_after_epochs=2, workers=2))
    stopped = os.listdir(part)
    assert "ckpt-0001.states" in stopped and "ckpt-0000.params" not in stopped and "ckpt-0002.params" not in stopped
    old = str(small_toy / "part_v1")
    shutil.copytree(part, old)
    as_version_1(old)
    resumed = train(tiny_cfg(part, 3, resume=True, workers=2))
    assert _same_arrays(os.path.join(full, "ckpt-0002.params"), os.path.join(part, "ckpt-0002.params"))
    assert [r.epoch for r in resumed.history] == [0, 1, 2]
    resumed_old = train(tiny_cfg(old, 3, resume=True, workers=0))
    assert _same_arrays(os.path.join(full, "ckpt-0002.params"), os.path.join(old, "ckpt-0002.params"))
    assert resumed_old.history[:2] == resumed.history[:2]
    assert [(r.train_loss, r.train_top1, r.lr) for r in (resumed_old.history[2], resumed.history[2])] == \
        [(resumed.history[2].train_loss, resumed.history[2].train_top1, resumed.history[2].lr)] * 2
    assert json.load(open(os.path.join(old, "ckpt-0002.json")))["version"] == 2
    lines = open(os.path.join(part, "metrics.jsonl")).read().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]
    assert os.path.getsize(os.path.join(part, "training_curve.png")) > 1000


def test_bad_training_options_are_clear(small_toy):
    with pytest.raises(ValueError, match="rec_train"):
        train(TrainConfig.from_flat(save_dir=str(small_toy / "x")))
    with pytest.raises(ValueError, match="float16 training needs a GPU"):
        train(tiny_cfg(str(small_toy / "fp16"), 1, dtype="float16"))
    with pytest.raises(ValueError, match="fewer than one batch"):
        train(tiny_cfg(str(small_toy / "big"), 1, batch_size=4096))


def _native_bf16():
    from gluon_resnest.utils.cpu_runtime import cpu_runtime

    return cpu_runtime().native_bf16


@pytest.mark.skipif(shutil.which("horovodrun", path=VENV_BIN) is None, reason="horovod not installed")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_horovodrun_two_processes_learn_the_toy_set(tmp_path, dtype):
    """Both ranks train together (float32 gradients reduced across them; in bfloat16 the weights and so the
    gradients stay float32 under MXNet's AMP) and the toy set is learned in either precision."""
    if dtype == "bfloat16" and not _native_bf16():
        pytest.skip("this CPU has no bf16 units: oneDNN emulates bf16 and the run would take minutes")
    save = str(tmp_path / "hvd")
    cmd = [os.path.join(VENV_BIN, "horovodrun"), "--gloo", "-np", "2", "-H", "localhost:2", sys.executable,
           script_path("train.py"), "--toy", "--model", "resnest14", "--epochs", "3",
           "--batch-size", "32", "--lr", "0.02", "--warmup-epochs", "1", "--min-random-area", "0.3",
           "--input-size", "48", "--last-gamma", "--no-wd", "--log-interval", "0", "--workers", "1",
           "--save-dir", save, "--dtype", dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(os.path.join(save, "train.log")) as handle:
        assert "training in %s" % dtype in handle.readline()
    history = [json.loads(line) for line in open(os.path.join(save, "metrics.jsonl"))]
    assert len(history) == 3 and history[-1]["images"] == 2 * (1000 // 32) * 32
    best = max(r["val_top1"] for r in history)
    assert best > 20.0, history
    net = load_exported(os.path.join(save, "resnest14"))
    assert net(mx.nd.zeros((1, 3, 48, 48))).shape == (1, 10)
    assert sorted(f for f in os.listdir(save) if f.startswith("ckpt-")) == \
        ["ckpt-%04d.%s" % (e, s) for e in range(3) for s in ("json", "params", "states")]


@pytest.mark.skipif(shutil.which("horovodrun", path=VENV_BIN) is None, reason="horovod not installed")
def test_horovodrun_broadcasts_rank0_parameters_and_objects_without_horovod_broadcast(tmp_path):
    cmd = [os.path.join(VENV_BIN, "horovodrun"), "--gloo", "-np", "2", "-H", "localhost:2", sys.executable, "-m",
           "tests.helpers.horovod_collectives", str(tmp_path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    root, other = (json.load(open(tmp_path / ("rank%d.json" % r))) for r in (0, 1))
    assert other["before"] != root["before"]  # different initial weights per rank
    assert root["after"] == root["before"] == other["after"]  # bit-exact copies of rank 0's
    assert root["object"] == other["object"] == 0 and other["nested"] == [1.5, None, ""]
    assert other["blob"] == root["blob"]
    assert other["states"] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and other["states_dtype"] == "float32"


@pytest.mark.skipif(shutil.which("horovodrun", path=VENV_BIN) is None, reason="horovod not installed")
def test_two_simulated_hosts_prepare_the_toy_set_and_fetch_weights_into_shared_folders(tmp_path, server):
    _, payload = random_weights("resnest14", tmp_path)
    sha1 = sha1_of(payload)
    server.add("resnest14-" + sha1[:8], payload)
    server.delay = 1.0  # the first download lasts long enough for the second host to ask meanwhile
    save, toy, home, trace = tmp_path / "run", tmp_path / "toy", tmp_path / "mxhome", tmp_path / "trace"
    trace.mkdir()
    cmd = [os.path.join(VENV_BIN, "horovodrun"), "--gloo", "-np", "2", "-H", "localhost:1,127.0.0.1:1",
           sys.executable, "-m", "tests.helpers.two_host_training", str(save), str(toy), sha1, str(trace)]
    env = dict(os.environ, MXNET_HOME=str(home), MXNET_GLUON_REPO=server.url)
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spans = [json.load(open(trace / ("rank%d.json" % r))) for r in (0, 1)]
    for key in ("toy", "weights"):  # both hosts were at it at the same time
        assert max(s[key][0] for s in spans) < min(s[key][1] for s in spans), spans
    assert len(server.requests) == 1, server.requests  # the lock held across the two hosts: one download
    assert sorted(os.listdir(home / "models")) == ["resnest14-%s.%s" % (sha1[:8], ext) for ext in ("lock", "params")]
    assert sha1_of((home / "models" / ("resnest14-%s.params" % sha1[:8])).read_bytes()) == sha1
    assert sorted(os.listdir(toy)) == ["toy_%s.%s" % (split, ext) for split in ("train", "val")
                                       for ext in ("idx", "rec")]
    assert [len(open_image_dataset(str(toy / ("toy_%s.rec" % split)))) for split in ("train", "val")] == [2000, 500]
    history = [json.loads(line) for line in open(save / "metrics.jsonl")]
    assert len(history) == 1 and history[0]["images"] == 2 * (2000 // 2 // 32) * 32


def test_broadcast_parameters_names_a_deferred_parameter():
    dist = Distributed(use_horovod=False)
    dist.hvd, dist.size, dist.rank = object(), 2, 1  # as on rank 1 of 2; no collective is reached
    net = mx.gluon.nn.Dense(3, prefix="head_")
    net.initialize()
    with pytest.raises(ValueError, match="head_weight is not initialized yet"):
        dist.broadcast_parameters(net.collect_params())


def test_sgd_and_mixup_off_epoch_run(small_toy):
    state = train(tiny_cfg(str(small_toy / "sgd"), 2, optimizer="sgd", mixup_off_epoch=1, eval_every=0,
                            auto_augment=False))
    history = state.history
    assert [r.val_top1 is None for r in history] == [True, False]
    assert all(np.isfinite(r.train_loss) for r in history)
