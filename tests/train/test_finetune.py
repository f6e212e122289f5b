"""Fine-tuning from the command line on class folders: start from given weights with a new classifier, freeze the
body first, carry the folder names into checkpoints, the export and predict.py; verify.py scores the export."""
import json
import os

import cv2
import mxnet as mx
from mxnet import autograd
import numpy as np
import pytest

from gluon_resnest import get_model

from tests.helpers.scripts import run_script

COLORS = {"blue": (30, 60, 220), "green": (40, 200, 60), "red": (220, 40, 40), "yellow": (230, 220, 40)}


def _write_split(root, count, rng):
    for name, rgb in COLORS.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(count):
            img = np.clip(rng.normal(rgb, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(os.path.join(folder, "%02d.png" % i), img[:, :, ::-1])


@pytest.fixture(scope="module")
def color_folders(tmp_path_factory):
    """4 color classes as train/ (32 each) and val/ (8 each) folders, and a 10-class resnest14 whose batch-norm
    statistics have seen data (a stand-in for pretrained weights)."""
    root = tmp_path_factory.mktemp("finetune")
    rng = np.random.default_rng(0)
    _write_split(str(root / "data" / "train"), 32, rng)
    _write_split(str(root / "data" / "val"), 8, rng)
    base = get_model("resnest14", classes=10)
    base.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    for _ in range(20):
        with autograd.record():
            base(mx.nd.array(rng.normal(0, 1, (16, 3, 32, 32))))
    base.save_parameters(str(root / "base.params"))
    return root


def test_finetune_from_params_on_class_folders(color_folders):
    save = str(color_folders / "run")
    result = run_script("train.py", "--data-dir", color_folders / "data", "--model", "resnest14", "--params",
                        color_folders / "base.params", "--freeze-epochs", 1, "--num-epochs", 4, "--batch-size", 16,
                        "--lr", 0.01, "--input-size", 32, "--log-interval", 0, "-j", 2, "--save-dir", save)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    history = [json.loads(line) for line in open(os.path.join(save, "metrics.jsonl"))]
    best = max(r["val_top1"] for r in history)
    assert best >= 75.0, history
    names = sorted(COLORS)
    assert json.load(open(os.path.join(save, "ckpt-0003.json")))["class_names"] == names
    meta = json.load(open(os.path.join(save, "resnest14-meta.json")))
    assert meta["class_names"] == names and meta["num_classes"] == 4
    predicted = run_script("predict.py", os.path.join(save, "resnest14"),
                           color_folders / "data" / "val" / "red" / "00.png")
    assert predicted.returncode == 0 and any(n in predicted.stdout for n in names), predicted.stdout
    assert "class 0" not in predicted.stdout
    out = str(color_folders / "verify.json")
    verified = run_script("verify.py", "--export", os.path.join(save, "resnest14"), "--data",
                          color_folders / "data" / "val", "--workers", 0, "--json", out)
    assert verified.returncode == 0, verified.stderr[-2000:]
    report = json.load(open(out))
    assert report["images"] == 32 and abs(report["top1"] - best) <= 100.0 / 32 + 1e-9


def test_empty_class_folder_stops_training_naming_it(color_folders):
    data = color_folders / "data-empty"
    _write_split(str(data / "train"), 2, np.random.default_rng(1))
    os.makedirs(str(data / "train" / "purple"))
    result = run_script("train.py", "--data-dir", data, "--model", "resnest14", "--epochs", 1,
                        "--save-dir", color_folders / "empty-run")
    assert result.returncode == 2 and "purple" in result.stderr, result.stderr[-2000:]
