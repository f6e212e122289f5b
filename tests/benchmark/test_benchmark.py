"""scripts/benchmark.py run and input-pipeline in smoke mode: every candidate runs and writes its outputs (no timing
assertions); the measuring helpers the other subcommands call."""
import json
import os
import re

from tests.helpers.scripts import run_script


def test_benchmark_smoke(tmp_path):
    import gluon_resnest
    from tools.benchmark.settings import SMOKE, Comparison

    out, png = str(tmp_path / "b.json"), str(tmp_path / "b.png")
    result = run_script("benchmark.py", "run", "--smoke", "--json", out, "--plot", png, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.load(open(out))
    rows = record["rows"]
    assert record["cpu_runtime"] == str(gluon_resnest.cpu_runtime())
    assert record["cpu_runtime"] in result.stdout.splitlines()
    assert {(r["precision"], r["op"]) for r in record["ceiling"]} == {
        (precision, op) for precision in ("fp32", "bf16", "int8") for op in ("gemm", "conv")}
    impls = {r["impl"] for r in rows}
    assert {"ours", "ours-fused", "ours-int8", "gluoncv", "gluoncv-default-threads"} <= impls
    torch_rows = [r for r in rows if r.get("framework") == "pytorch"]
    assert {(r["config"], r["mode"]) for r in torch_rows} == {
        (config, mode) for config in SMOKE[Comparison]["torch_configs"] for mode in ("inference", "train")}
    assert all(r["impl"] == "timm-" + r["config"] and r["threads"] == gluon_resnest.cpu_runtime().omp_threads
               for r in torch_rows)
    from tools.benchmark.measure import runtime_kinds

    assert set(runtime_kinds()) <= impls and "onnxruntime" in impls
    assert {r["batch"] for r in rows if r["impl"] == "ours-int8"} == {1, 2}
    assert {r["mode"] for r in rows} == {"inference", "train"}
    assert all(r["img_per_s"] > 0 and r["peak_rss_mb"] > 0 and r["limit_img_per_s"] > 0 for r in rows)
    assert {r["precision"] for r in rows if r["impl"].startswith("ours-int8")} == {"int8"}
    assert "| resnest14 | 64 | inference | 1 | ours | fp32 on " in result.stdout
    assert os.path.getsize(png) > 1000
    noise = re.findall(r"forward_scoring|Removing initializer|pre-processing before quantization|Cannot decide type",
                       result.stdout + result.stderr)
    assert not noise, result.stderr[-3000:]


def test_fused_graph_matches_plain_graph():
    import mxnet as mx
    import numpy as np

    from gluon_resnest import get_model
    from gluon_resnest.deploy.inference_graph import fuse_for_cpu
    from gluon_resnest.nn import copy_parameters

    net = get_model("resnest50_fast_4s2x40d")
    net.initialize(mx.init.Xavier())
    x = mx.nd.random.uniform(-1, 1, shape=(2, 3, 64, 64))
    ref = net(x).asnumpy()
    fused = get_model("resnest50_fast_4s2x40d")
    fused.initialize()
    copy_parameters(net, fused)
    got = fuse_for_cpu(fused, x.shape)(x).asnumpy()
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-5


def test_operator_profile_helpers():
    import glob
    import tempfile

    from tools.benchmark.measure import operator_profile, training_profile

    text = operator_profile("resnest14", batch=1, size=64, runs=1)
    assert "_sg_mkldnn_conv" in text and "broadcast_mul" in text
    text = training_profile("resnest14", batch=2, size=64, runs=1)
    assert "_backward_Convolution" in text and "broadcast_like" in text and "nag_mom_update" in text
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "resnest-profile-*"))


def test_input_pipeline_smoke(tmp_path):
    out = str(tmp_path / "input.json")
    result = run_script("benchmark.py", "input-pipeline", "--smoke", "--data-dir", tmp_path / "jpegs", "--json",
                        out, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.load(open(out))
    assert {(r["pipeline"], r["auto_augment"]) for r in rows} == {
        ("mx.io.ImageRecordIter", False), ("ours", False), ("ours", True)}
    assert all(r["img_per_s"] > 0 for r in rows)
    assert "| ours | yes | 1 |" in result.stdout


def test_int8_profiles_time_every_int8_form(monkeypatch):
    import glob
    import importlib.util
    import tempfile

    import pytest

    from tools.benchmark import measure

    if importlib.util.find_spec("openvino") is None:
        pytest.skip("OpenVINO is not installed")
    monkeypatch.setattr(measure, "nncf_python", lambda: None)
    profiles = dict(measure.int8_profiles("resnest14", batch=1, size=32, runs=1))
    assert sorted(profiles) == ["ours-int8", "ours-int8-openvino"]
    lines = profiles["ours-int8-openvino"].splitlines()
    assert "Convolution / " in profiles["ours-int8-openvino"] and lines[-1].endswith("total")
    total = float(lines[-1].split()[0])
    assert 0 < sum(float(line.split()[0]) for line in lines[1:-1]) <= total + 1e-6
    assert "_sg_mkldnn_conv" in profiles["ours-int8"] and "_contrib_quantize_v2" in profiles["ours-int8"]
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "resnest-profile-*"))


def test_gluoncv_named_rows_compare_the_same_graph():
    from tools.benchmark.gluoncv_named import gluoncv_named_rows

    rows = gluoncv_named_rows("resnest26", batch=1, size=64, rounds=1, warmup=0)
    assert [(r["form"], r["network"], r["drop_prob"]) for r in rows] == [
        ("hybridized", "gluoncv-named", 0.1), ("export_block", "gluoncv-named", 0.1),
        ("hybridized", "rate 0", 0.0), ("export_block", "rate 0", 0.0)]
    exported = [r for r in rows if r["form"] == "export_block"]
    assert exported[0]["ops"] == exported[1]["ops"] and not exported[0]["random_ops"]
    assert all(r["seconds"] > 0 for r in rows) and {r["ratio"] for r in rows[2:]} == {1.0}
