"""The main job's scripts print the project's lines: no MXNet pooling notices or matplotlib font-cache line in
training, no type-inference warning when predict.py loads an export, no onnxruntime warning about unused
initializers when an ONNX export is loaded, no quantizer advice when it is quantized to INT8 (scripts/run_main.sh
runs train.py and predict.py; export.py and benchmark.py make the ONNX and INT8 ONNX files)."""
import os
import re
import subprocess
import sys

import pytest

from tests.helpers.scripts import ROOT, run_script
from tests.helpers.training import write_small_toy

NOISE = re.compile(r"mkldnn_pooling|forward_scoring|fontManager|Cannot decide type|Removing initializer")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A one-epoch resnest14 run at 32 px on a small toy set, with a fresh matplotlib cache (which makes matplotlib
    log that it builds its font list); returns ``(save dir, output)``."""
    root = write_small_toy(tmp_path_factory.mktemp("console"))
    save = root / "run"
    result = run_script("train.py", "--toy", "--toy-dir", root / "toy", "--model", "resnest14", "--input-size", "32",
                        "--epochs", "1", "--batch-size", "16", "--workers", "0", "--log-interval", "0",
                        "--save-dir", save, timeout=900, env_update={"MPLCONFIGDIR": str(root / "mpl")})
    assert result.returncode == 0, result.stderr[-3000:]
    return save, result.stdout + result.stderr


def test_training_prints_the_projects_lines_only(trained):
    save, output = trained
    assert not NOISE.findall(output), output[-3000:]
    assert re.search(r"epoch 1: train loss \S+ top-1", output) and "exported %s" % (save / "resnest14") in output
    assert os.path.isfile(save / "training_curve.png")
    log = (save / "train.log").read_text()
    assert "epoch 1:" in log and not NOISE.findall(log)


def test_predict_loads_the_export_without_type_warnings(trained):
    save, _ = trained
    result = run_script("predict.py", save / "resnest14", "--rec", save.parent / "toy" / "toy_val.rec", "--count",
                        "2", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == "" and result.stdout.startswith("runtime: mxnet f32"), result.stderr


ORT_DEFAULT_SESSION = """
import sys, onnxruntime
onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
print("loaded")
"""


def test_onnx_export_loads_without_onnxruntime_warnings(trained, tmp_path):
    """Our ONNX file holds no initializer that no node reads, so a session at onnxruntime's default log level (as a
    user or onnxruntime's own quantizer opens one) prints nothing."""
    pytest.importorskip("onnxruntime")
    import onnx

    from gluon_resnest.deploy.export import symbol_paths
    from gluon_resnest.deploy.onnx_export import export_onnx

    save, _ = trained
    sym, params = symbol_paths(str(save / "resnest14"))
    path = export_onnx(sym, params, str(tmp_path / "m.onnx"), (1, 3, 32, 32))
    graph = onnx.load(path).graph
    read = {name for node in graph.node for name in node.input}
    assert graph.initializer and all(init.name in read for init in graph.initializer)
    result = subprocess.run([sys.executable, "-c", ORT_DEFAULT_SESSION, path], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0 and result.stdout == "loaded\n", result.stderr[-3000:]
    assert result.stderr == "", result.stderr[-3000:]


QUANTIZE_WITH_A_REAL_WARNING = """
import logging, sys
import numpy as np
from gluon_resnest.deploy.int8_onnx import quantize_onnx
quantize_onnx(sys.argv[1], sys.argv[2], [np.zeros((1, 3, 32, 32), "float32")])
logging.warning("a real warning after the quantizer")
print("quantized")
"""


def test_int8_onnx_quantization_prints_no_quantizer_advice(trained, tmp_path):
    """onnxruntime's quantizer advises pre-processing on the root logger for every model; quantize_onnx drops that
    advice only, while it runs: a warning logged afterwards still reaches stderr."""
    pytest.importorskip("onnxruntime")
    from gluon_resnest.deploy.export import symbol_paths
    from gluon_resnest.deploy.onnx_export import export_onnx

    save, _ = trained
    path = export_onnx(*symbol_paths(str(save / "resnest14")), str(tmp_path / "m.onnx"), (1, 3, 32, 32))
    result = subprocess.run([sys.executable, "-c", QUANTIZE_WITH_A_REAL_WARNING, path, str(tmp_path / "q.onnx")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and result.stdout == "quantized\n", result.stderr[-3000:]
    assert result.stderr == "WARNING:root:a real warning after the quantizer\n", result.stderr[-3000:]
