"""The OpenVINO INT8 baseline's NNCF interpreter: where it is looked up, the note when it is missing, and the
standalone script it runs (which must not need MXNet or gluon_resnest)."""
import ast
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tools.benchmark import measure, nncf_quantize
from tools import interpreters

STUB_OPENVINO = """
import json, sys
PartialShape = list
class Model:
    def __init__(self, src):
        self.src, self.inputs, self.shapes = src, ["data"], []
    def reshape(self, shapes):
        self.shapes += [list(shape) for shape in shapes.values()]
class Core:
    def read_model(self, src):
        return Model(src)
def save_model(model, out):
    with open(out, "w") as handle:
        json.dump({"src": model.src, "shapes": model.shapes, "calibration": model.calibration,
                   "modules": sorted(sys.modules)}, handle)
"""
STUB_NNCF = """
class QuantizationPreset:
    PERFORMANCE = "performance"
class Dataset(list):
    pass
def quantize(model, dataset, subset_size, preset):
    model.calibration = [[list(item.shape) for item in dataset], subset_size, preset]
    return model
"""


def _executable(path):
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


def test_nncf_python_prefers_the_environment_variable(tmp_path, monkeypatch):
    python = _executable(tmp_path / "python")
    monkeypatch.setenv(measure.NNCF_PYTHON_ENV, python)
    assert measure.nncf_python() == python


def test_nncf_python_falls_back_to_the_checkout_venv(tmp_path, monkeypatch):
    (tmp_path / ".venv-nncf" / "bin").mkdir(parents=True)
    python = _executable(tmp_path / ".venv-nncf" / "bin" / "python")
    monkeypatch.setattr(interpreters, "CHECKOUT", str(tmp_path))
    monkeypatch.setenv(measure.NNCF_PYTHON_ENV, str(tmp_path / "missing"))
    assert measure.nncf_python() == python
    os.remove(python)
    assert measure.nncf_python() is None


def test_runtime_kinds_skip_openvino_int8_without_nncf(tmp_path, monkeypatch, capsys):
    pytest.importorskip("openvino")
    monkeypatch.setattr(interpreters, "CHECKOUT", str(tmp_path))
    monkeypatch.delenv(measure.NNCF_PYTHON_ENV, raising=False)
    kinds = measure.runtime_kinds()
    assert "openvino-int8" not in kinds and {"onnxruntime", "openvino-f32", "ours-int8-openvino"} <= set(kinds)
    assert kinds == [kind for kind in measure.RUNTIME_KINDS if kind in kinds]
    notes = [line for line in capsys.readouterr().err.splitlines() if "openvino-int8" in line]
    assert len(notes) == 1 and measure.NNCF_PYTHON_ENV in notes[0] and "--with-nncf" in notes[0]


def test_nncf_script_imports_only_numpy_openvino_nncf():
    tree = ast.parse(open(nncf_quantize.__file__).read())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                 and node.level == 0}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))
    assert {name for name in imported if name not in sys.stdlib_module_names} == {"numpy", "openvino", "nncf"}


def test_nncf_script_runs_alone_with_stub_quantizer(tmp_path):
    """The script as the NNCF interpreter runs it (``-P``, nothing of ours on the path): it calibrates on every
    batch of the ``.npy`` file at the batches' static shape and saves with a dynamic batch."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "openvino.py").write_text(textwrap.dedent(STUB_OPENVINO))
    (stubs / "nncf.py").write_text(textwrap.dedent(STUB_NNCF))
    calib, out = str(tmp_path / "calib.npy"), str(tmp_path / "m.xml")
    np.save(calib, np.stack(measure.calibration_batches(8, count=3)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(stubs)
    result = subprocess.run([sys.executable, "-P", nncf_quantize.__file__, "m.onnx", calib, out], env=env,
                            cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    saved = json.load(open(out))
    assert saved["src"] == "m.onnx"
    assert saved["shapes"] == [[1, 3, 8, 8], [-1, 3, 8, 8]]
    assert saved["calibration"] == [[[1, 3, 8, 8]] * 3, 3, "performance"]
    assert not [m for m in saved["modules"] if m.split(".")[0] in ("gluon_resnest", "mxnet")]


def test_calibration_batches_are_seeded():
    first, second = measure.calibration_batches(16), measure.calibration_batches(16)
    assert len(first) == 4 and all(b.shape == (1, 3, 16, 16) and b.dtype == np.float32 for b in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
