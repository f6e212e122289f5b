"""scripts/benchmark.py in smoke mode: runs every candidate and writes its outputs (no timing assertions)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_benchmark_smoke(tmp_path):
    out, png = str(tmp_path / "b.json"), str(tmp_path / "b.png")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "benchmark.py"), "--smoke", "--json", out,
                             "--plot", png], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.load(open(out))
    impls = {r["impl"] for r in rows}
    assert {"ours", "ours-fused", "ours-int8", "gluoncv", "gluoncv-default-threads"} <= impls
    assert any(i.startswith("pytorch") for i in impls)
    assert {r["mode"] for r in rows} == {"inference", "train"}
    assert all(r["img_per_s"] > 0 and r["peak_rss_mb"] > 0 for r in rows)
    assert "| resnest14 | 64 | inference | 1 | ours |" in result.stdout
    assert os.path.getsize(png) > 1000


def test_fused_graph_matches_plain_graph():
    import mxnet as mx
    import numpy as np

    from gluon_resnest import get_model
    from gluon_resnest.inference import fuse_for_cpu
    from gluon_resnest.params_check import copy_parameters

    net = get_model("resnest50_fast_4s2x40d")
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64))
    ref = net(x).asnumpy()
    fused = get_model("resnest50_fast_4s2x40d")
    fused.initialize()
    copy_parameters(net, fused)
    got = fuse_for_cpu(fused, x.shape)(x).asnumpy()
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-5
