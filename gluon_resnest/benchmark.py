"""Throughput, latency and memory of ResNeSt implementations, measured the same way in one run.

Candidates: ours (hybridized with static memory), ours oneDNN-fused, ours INT8, GluonCV's implementation with the
same weights (in this process, so with the same MXNet runtime settings), and in child processes the PyTorch
reference (timm, else the official package) and GluonCV as a user gets it (MXNet's default thread count).
Each figure is the median of ``repeat`` timed runs after ``warmup`` untimed ones.
"""
import json
import os
import resource
import subprocess
import sys
import time

import mxnet as mx
import numpy as np

from .model_zoo import get_model
from .params_check import copy_parameters

__all__ = ["median_seconds", "inference_row", "training_row", "measure_in_child", "benchmark"]


def median_seconds(fn, warmup=2, repeat=5):
    """Median wall time of ``fn()`` over ``repeat`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def _peak_rss_mb():
    """Peak resident memory of this process (VmHWM, which, unlike ru_maxrss, restarts at exec)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _row(impl, mode, batch, size, seconds):
    return {"impl": impl, "mode": mode, "batch": batch, "size": size, "img_per_s": batch / seconds,
            "latency_ms": 1000 * seconds, "peak_rss_mb": _peak_rss_mb()}


def inference_row(impl, block, batch, size, warmup, repeat):
    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    return _row(impl, "inference", batch, size, median_seconds(lambda: block(x).wait_to_read(), warmup, repeat))


def training_row(impl, net, batch, size, warmup, repeat):
    """Forward + backward + SGD update of a hybridized network on a random batch."""
    from mxnet import autograd

    x = mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size))
    y = mx.nd.array(np.arange(batch) % 1000)
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = mx.gluon.Trainer(net.collect_params(), "nag", {"learning_rate": 1e-4, "momentum": 0.9})

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
        loss.backward()
        trainer.step(batch)
        mx.nd.waitall()

    return _row(impl, "train", batch, size, median_seconds(step, warmup, repeat))


def _gluoncv_twin(name, source):
    from .compat import import_gluoncv

    gcv = import_gluoncv()
    model = getattr(gcv.model_zoo, name)()
    model.initialize()
    return copy_parameters(source, model)


def _random_net(name):
    net = get_model(name)
    net.initialize(mx.init.Xavier())
    return net


def _int8(name, net, batch, size):
    from .quantize import quantize_model

    calib = [(mx.nd.random.uniform(-1, 1, shape=(batch, 3, size, size)), None) for _ in range(2)]
    return quantize_model(net, calib, (batch, 3, size, size), "naive", 2)


def _child_worker(kind, name, batches, size, warmup, repeat, train_batch=0):
    """Runs in a child process: measure ``kind`` ('torch' or 'gluoncv-default') and print JSON rows."""
    rows = []
    if kind == "torch":
        import torch

        from .torch_reference import available_references, reference_model

        torch.set_num_threads(len(os.sched_getaffinity(0)))
        source = "timm" if "timm" in available_references(name) else "official"
        model = reference_model(name, source)
        for batch in batches:
            x = torch.randn(batch, 3, size, size)
            with torch.inference_mode():
                seconds = median_seconds(lambda: model(x), warmup, repeat)
            rows.append(_row("pytorch-" + source, "inference", batch, size, seconds))
    else:
        net = _hybrid(_gluoncv_twin(name, _random_net(name)))
        for batch in batches:
            rows.append(inference_row("gluoncv-default-threads", net, batch, size, warmup, repeat))
        if train_batch:
            rows.append(training_row("gluoncv-default-threads", _hybrid(_gluoncv_twin(name, _random_net(name))),
                                     train_batch, size, warmup, repeat))
    print("ROWS " + json.dumps(rows))


def measure_in_child(kind, name, batches, size, warmup, repeat, env=None, train_batch=0):
    """Run :func:`_child_worker` in a fresh interpreter; returns its rows (empty with a note on failure)."""
    code = "from gluon_resnest.benchmark import _child_worker; _child_worker(%r, %r, %r, %d, %d, %d, %d)" % (
        kind, name, list(batches), size, warmup, repeat, train_batch)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env or dict(os.environ))
    for line in result.stdout.splitlines():
        if line.startswith("ROWS "):
            return json.loads(line[5:])
    sys.stderr.write("benchmark child %s failed:\n%s\n" % (kind, result.stderr[-2000:]))
    return []


def benchmark(name, size=224, batches=(1, 8), train_batch=8, warmup=2, repeat=5, gluoncv=True, torch=True,
              int8=True, train=True):
    """All measurements for one variant; returns a list of row dicts (see the module docstring)."""
    rows = []
    net = _random_net(name)
    twin = _gluoncv_twin(name, net) if gluoncv and hasattr(_import_gcv_zoo(), name) else None
    _hybrid(net)
    for batch in batches:
        rows.append(inference_row("ours", net, batch, size, warmup, repeat))
    if twin is not None:
        _hybrid(twin)
        for batch in batches:
            rows.append(inference_row("gluoncv", twin, batch, size, warmup, repeat))
    from .inference import fuse_for_cpu

    for batch in batches:
        fused = _random_net(name)
        rows.append(inference_row("ours-fused", fuse_for_cpu(fused, (batch, 3, size, size)), batch, size, warmup,
                                  repeat))
        if int8:
            rows.append(inference_row("ours-int8", _int8(name, _random_net(name), batch, size), batch, size, warmup,
                                      repeat))
    if train:
        rows.append(training_row("ours", _hybrid(_random_net(name)), train_batch, size, warmup, repeat))
        if twin is not None:
            rows.append(training_row("gluoncv", _hybrid(_gluoncv_twin(name, _random_net(name))), train_batch, size,
                                     warmup, repeat))
    if torch:
        rows += measure_in_child("torch", name, batches, size, warmup, repeat)
    if gluoncv and twin is not None:
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        env["GLUON_RESNEST_KEEP_THREADS"] = "1"
        rows += measure_in_child("gluoncv-default", name, batches, size, warmup, repeat, env,
                                 train_batch if train else 0)
    for row in rows:
        row["model"] = name
    return rows


def _hybrid(net):
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def _import_gcv_zoo():
    from .compat import import_gluoncv

    return import_gluoncv().model_zoo
