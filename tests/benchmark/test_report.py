"""The benchmark's reports on made-up rows (no measurement): the summary's columns and ratios, each row's precision
and share of the machine's limit, failed rows, and the JSON a run writes."""
import json

import pytest

from tools.benchmark.precisions import attach_limits, impl_precision, limit_share, limits
from tools.benchmark.report import (SUMMARY_IMPLS, SUMMARY_RATIOS, read_runs, row_groups, run_header, run_record,
                                    summary, table)


def _rows(rates, model="resnest14", mode="inference", batch=1):
    return [{"model": model, "mode": mode, "batch": batch, "size": 64, "impl": impl, "img_per_s": rate,
             "latency_ms": 1000.0 / rate, "peak_rss_mb": 100.0} for impl, rate in rates.items()]


def _cells(text):
    """``{header: cell}`` of the summary's first data line."""
    lines = text.splitlines()
    headers = [c.strip() for c in lines[0].strip("|").split("|")]
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert len(headers) == len(cells) == len(lines[1].strip("|").split("|"))
    return dict(zip(headers, cells))


def test_summary_columns_name_every_int8_row():
    headers = dict(SUMMARY_IMPLS)
    assert headers["ours-int8"] == "ours INT8 (MXNet)"
    assert headers["ours-int8-openvino"] == "ours INT8 ONNX (OpenVINO)"
    assert headers["openvino-int8"] == "OpenVINO INT8 (NNCF)"
    assert [impl for impl, _ in SUMMARY_IMPLS].index("ours-int8-openvino") == \
        [impl for impl, _ in SUMMARY_IMPLS].index("ours-int8") + 1


def test_int8_ratios_use_our_best_int8():
    cells = _cells(summary(_rows({"ours": 10.0, "ours-fused": 20.0, "ours-int8": 40.0, "ours-int8-openvino": 50.0,
                                  "openvino-bf16": 25.0, "openvino-int8": 100.0, "gluoncv": 10.0,
                                  "pytorch-timm": 5.0})))
    assert cells["ours INT8 ONNX (OpenVINO)"] == "50.00" and cells["OpenVINO INT8 (NNCF)"] == "100.00"
    assert cells["PyTorch fp32 (best)"] == "5.00"
    assert cells["best fp32 / GluonCV"] == "2.00x"
    assert "/ GluonCV default" not in cells
    assert cells["best fp32 / PyTorch fp32"] == "4.00x"
    assert cells["INT8 / fused fp32"] == "2.00x"
    assert cells["best INT8 / OpenVINO bf16"] == "2.00x"
    assert cells["best INT8 / OpenVINO INT8 (NNCF)"] == "0.50x"
    assert cells["MXNet INT8 / OpenVINO INT8 (NNCF)"] == "0.40x"


def test_int8_ratios_with_one_of_our_int8_rows():
    mxnet_only = _cells(summary(_rows({"ours-fused": 20.0, "ours-int8": 60.0, "openvino-int8": 40.0})))
    assert "ours INT8 ONNX (OpenVINO)" not in mxnet_only
    assert mxnet_only["best INT8 / OpenVINO INT8 (NNCF)"] == "1.50x"
    assert mxnet_only["INT8 / fused fp32"] == "3.00x"
    openvino_only = _cells(summary(_rows({"ours-fused": 20.0, "ours-int8-openvino": 30.0, "openvino-bf16": 15.0})))
    assert openvino_only["best INT8 / OpenVINO bf16"] == "2.00x"
    assert "INT8 / fused fp32" not in openvino_only
    assert "best INT8 / OpenVINO INT8 (NNCF)" not in openvino_only


def test_summary_keeps_a_column_that_ran_for_some_lines():
    rows = _rows({"ours": 1.0, "ours-int8": 4.0}) + _rows({"ours": 2.0}, batch=8)
    lines = summary(rows).splitlines()
    assert lines[0] == "| model | mode | batch | ours | ours INT8 (MXNet) |"
    assert lines[3] == "| resnest14 | inference | 8 | 2.00 | - |"


def test_summary_has_one_line_per_model_mode_batch():
    rows = _rows({"ours": 1.0}) + _rows({"ours": 2.0}, batch=8) + _rows({"ours": 3.0}, mode="train", batch=8)
    lines = summary(rows).splitlines()
    assert len(lines) == 2 + 3
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert len(SUMMARY_RATIOS) == len({header for header, _, _ in SUMMARY_RATIOS})


def test_table_names_the_runtime_predict_chose():
    rows = _rows({"predict-default": 10.0, "onnxruntime": 9.0})
    rows[0]["runtime"] = "openvino f32, resnest14.onnx"
    assert "| predict-default (openvino f32, resnest14.onnx) | fp32 | 10.00 |" in table(rows)
    assert _cells(summary(rows))["predict.py default"] == "10.00"


def _torch(config, rate, precision, mode="inference", batch=1, **fields):
    row = _rows({"timm-" + config: rate}, mode=mode, batch=batch)[0]
    row.update(fields, framework="pytorch", config=config, precision=precision)
    return row


def test_precision_of_each_row():
    assert [impl_precision(impl) for impl in ("ours", "ours-fused", "ours-int8", "ours-int8-openvino", "openvino-f32",
                                              "openvino-bf16", "openvino-int8", "pytorch-timm", "timm-compile-cl-bf16",
                                              "timm-cl", "gluoncv-default-threads")] == [
        "fp32", "fp32", "int8", "int8", "fp32", "bf16", "int8", "fp32", "bf16", "fp32", "fp32"]
    rows = _rows({"ours-int8": 40.0, "openvino-bf16": 30.0, "predict-default": 20.0})
    rows[0]["units"] = "AVX512_VNNI"
    rows[2].update(precision="bf16", runtime="openvino bf16, resnest14.onnx")
    rows.append(_torch("compile-cl-bf16", 50.0, "bf16", units="AMX"))
    text = table(rows)
    assert "| ours-int8 | int8 on AVX512_VNNI | 40.00 |" in text
    assert "| openvino-bf16 | bf16 | 30.00 |" in text
    assert "| predict-default (openvino bf16, resnest14.onnx) | bf16 | 20.00 |" in text
    assert "| timm-compile-cl-bf16 | bf16 on AMX | 50.00 |" in text


def test_precision_of_the_default_runtime_is_the_one_it_chose():
    from types import SimpleNamespace

    from tools.benchmark.child import _precision

    def chosen(member, precision):
        return _precision(SimpleNamespace(choice=SimpleNamespace(member=member), precision=precision))

    assert [chosen("symbol", "f32"), chosen("onnx", "f32"), chosen("onnx", "bf16"), chosen("int8", "f32"),
            chosen("int8_onnx", "f32")] == ["fp32", "fp32", "bf16", "int8", "int8"]


def test_share_of_the_limit_against_a_hand_computed_row():
    """resnest50 is 5.371 GMACs at 224 px: the fp32 limit of 300 GFLOP/s (the faster of two fp32 kernels) allows
    300 / 10.742 = 27.93 img/s inference and a third of that per training step; bf16 at 112 px a quarter of the
    operations."""
    ceiling = [{"precision": "fp32", "kernel": "gemm", "limit_gflops": 100.0},
               {"precision": "fp32", "kernel": "conv", "limit_gflops": 300.0},
               {"precision": "bf16", "kernel": "conv", "limit_gflops": 1000.0},
               {"precision": "int8", "kernel": "conv", "error": "could not create a primitive descriptor iterator"}]
    assert {p: r["kernel"] for p, r in limits(ceiling).items()} == {"fp32": "conv", "bf16": "conv"}
    rows = (_rows({"ours": 10.0}, model="resnest50") + _rows({"ours": 3.0}, model="resnest50", mode="train", batch=8)
            + _rows({"ours-int8": 50.0}, model="resnest50") + [dict(_torch("cl-bf16", 93.1, "bf16"), model="resnest50")])
    for row, size in zip(rows, (224, 224, 224, 112)):
        row["size"] = size
    assert attach_limits(rows, ceiling) is rows
    assert [r.get("limit_img_per_s") for r in rows] == [pytest.approx(27.928, rel=1e-4), pytest.approx(9.3093, rel=1e-4),
                                                       None, pytest.approx(372.37, rel=1e-4)]
    assert [limit_share(r) for r in rows] == [pytest.approx(0.35806, rel=1e-4), pytest.approx(0.32226, rel=1e-4), None,
                                              pytest.approx(0.25002, rel=1e-4)]
    lines = table(rows).splitlines()
    assert lines[2].split(" | ")[-2:] == ["35.8%", "- |"]
    assert lines[3].split(" | ")[-2] == "32.2%" and lines[4].split(" | ")[-2] == "-"
    assert lines[5].split(" | ")[-2] == "25.0%"


def test_a_failed_row_says_why_and_counts_as_not_run():
    rows = _rows({"ours": 10.0}) + [_torch("eager", 5.0, "fp32"), _torch("compile", 1.0, "fp32")]
    rows[2].update(img_per_s=None, latency_ms=None, peak_rss_mb=None, error="RuntimeError: C++ compile error")
    text = table(rows)
    assert "| timm-compile (failed: RuntimeError: C++ compile error) | fp32 | - | - | - | - |" in text
    assert _cells(summary(rows))["PyTorch fp32 (best)"] == "5.00"


def test_summary_takes_the_fastest_pytorch_configuration_of_each_precision():
    rows = _rows({"ours": 10.0, "ours-fused": 12.0}) + [
        _torch("eager", 8.0, "fp32"), _torch("compile-cl", 16.0, "fp32", compile_s=60.0, compile_cache="bypass"),
        _torch("cl-bf16", 20.0, "bf16"), _torch("compile-cl-bf16", 56.0, "bf16")]
    mxnet_bf16 = dict(_rows({"ours-bf16": 70.0})[0], framework="mxnet", precision="bf16")
    cells = _cells(summary(rows + [mxnet_bf16]))
    assert cells["PyTorch fp32 (best)"] == "16.00" and cells["PyTorch bf16 (best)"] == "56.00"
    assert cells["best fp32 / PyTorch fp32"] == "0.75x" and cells["MXNet bf16 / PyTorch bf16"] == "1.25x"
    assert "| timm-compile-cl (compiled in 60.0 s, cache bypass) | fp32 | 16.00 |" in table(rows)
    assert row_groups(mxnet_bf16) == ["ours-bf16", "mxnet bf16"]
    assert row_groups(dict(mxnet_bf16, framework=None)) == ["ours-bf16"]
    assert row_groups(_rows({"pytorch-timm": 1.0})[0]) == ["pytorch-timm", "pytorch fp32"]


def test_a_run_file_holds_the_runtime_line_and_the_ceiling(tmp_path):
    ceiling = [{"precision": "bf16", "kernel": "conv 3x3", "limit_gflops": 484.0,
                "implementations": ["brgconv:avx512_core_amx_bf16"]}]
    rows = [_torch("compile-cl-bf16", 56.0, "bf16", units="AMX", threads=2, torch_version="2.13.0+cpu"),
            _torch("eager", 11.2, "fp32", units="AVX512", threads=2, torch_version="2.13.0+cpu")]
    run = tmp_path / "run.json"
    run.write_text(json.dumps(run_record("CPU runtime: OpenMP threads 2; AMX on", ceiling, rows)))
    listed = tmp_path / "rows.json"
    listed.write_text(json.dumps(rows))
    (path, record), (_, plain) = read_runs([str(run), str(listed)])
    assert record == {"cpu_runtime": "CPU runtime: OpenMP threads 2; AMX on", "ceiling": ceiling, "rows": rows}
    assert plain == {"cpu_runtime": None, "ceiling": [], "rows": rows}
    assert run_header(record["cpu_runtime"], record["ceiling"], rows) == [
        "CPU runtime: OpenMP threads 2; AMX on",
        "PyTorch: torch 2.13.0+cpu, 2 threads; fp32 on AVX512, bf16 on AMX",
        "Limits (fastest ceiling kernel of each precision): bf16 484 GFLOP/s (conv 3x3, brgconv:avx512_core_amx_bf16)"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": 3}))
    with pytest.raises(ValueError, match="bad.json is not a JSON file of benchmark rows"):
        read_runs([str(bad)])
