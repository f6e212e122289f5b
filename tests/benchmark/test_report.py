"""The benchmark summary's columns and ratios, on made-up rows (no measurement)."""
from tools.benchmark.report import SUMMARY_IMPLS, SUMMARY_RATIOS, summary


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
    assert cells["PyTorch"] == "5.00"
    assert cells["best fp32 / GluonCV"] == "2.00x"
    assert "/ GluonCV default" not in cells
    assert cells["/ PyTorch"] == "4.00x"
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
    from tools.benchmark.report import table

    rows = _rows({"predict-default": 10.0, "onnxruntime": 9.0})
    rows[0]["runtime"] = "openvino f32, resnest14.onnx"
    assert "| predict-default (openvino f32, resnest14.onnx) | 10.00 |" in table(rows)
    assert _cells(summary(rows))["predict.py default"] == "10.00"
