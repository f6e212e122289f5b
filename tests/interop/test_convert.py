"""scripts/convert.py and the conversions behind it. to-torch (our weights -> timm's or the official package's folder)
runs without torch: its files, names and refusals are checked here in either environment (their PyTorch outputs in
test_torch_export.py, in .venv-ref). from-torch (PyTorch checkpoints, .pth and .safetensors, to Gluon .params) is
checked end to end against the PyTorch reference where torch is installed."""
import json
import os
import sys

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.interop.torch_export import CONFIG_FILE, WEIGHTS_FILE, convert_to_torch
from gluon_resnest.interop.torch_names import gluon_to_torch_names, torch_to_gluon_names
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.models.params import ParamsMismatchError
from tests.helpers.model_server import publish, random_weights, sha1_of
from tests.helpers.scripts import ROOT, run_script, script_path


def _run(*args):
    return run_script("convert.py", *args, timeout=600)


def test_name_mapping_both_ways():
    keys = ["conv1.1.weight", "conv1.1.running_mean", "layer1.0.conv2.bn0.weight", "layer1.0.conv2.bn0.running_var",
            "layer1.0.conv2.fc1.bias", "layer1.0.conv2.bn1.bias", "layer1.0.conv2.bn1.running_mean",
            "layer1.0.bn1.num_batches_tracked", "fc.weight"]
    mapping = torch_to_gluon_names(keys)
    assert mapping["conv1.1.weight"] == "conv1.1.gamma"
    assert mapping["layer1.0.conv2.bn0.weight"] == "layer1.0.conv2.bn.gamma"
    assert mapping["layer1.0.conv2.bn1.bias"] == "layer1.0.conv2.bn1.beta"
    assert mapping["layer1.0.conv2.fc1.bias"] == "layer1.0.conv2.fc1.bias"
    assert mapping["layer1.0.bn1.num_batches_tracked"] is None
    assert mapping["fc.weight"] == "fc.weight"
    back = gluon_to_torch_names(v for v in mapping.values() if v)
    assert back == {gluon: torch for torch, gluon in mapping.items() if gluon}


def _nets_weights(name, folder, classes=1000):
    """A randomly initialized ``name`` with ``classes`` outputs and its structural .params file."""
    net = get_model(name, classes=classes)
    net.initialize(mx.init.Xavier())
    path = os.path.join(str(folder), "%s-%d.params" % (name, classes))
    net.save_parameters(path)
    return net, path


@pytest.fixture(scope="module")
def resnest14_10(tmp_path_factory):
    return _nets_weights("resnest14", tmp_path_factory.mktemp("weights"), classes=10)


def _read_folder(folder):
    from safetensors.numpy import load_file

    with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as handle:
        return load_file(os.path.join(folder, WEIGHTS_FILE)), json.load(handle)


def test_timm_folder_holds_renamed_arrays_class_names_and_data_config(resnest14_10, tmp_path):
    net, path = resnest14_10
    names = ["class%d" % i for i in range(10)]
    report = convert_to_torch(path, str(tmp_path / "out"), "resnest14", "timm", class_names=names)
    state, config = _read_folder(str(tmp_path / "out"))
    assert report["architecture"] == "resnest14d" and report["num_classes"] == 10
    assert sorted(os.listdir(str(tmp_path / "out"))) == [CONFIG_FILE, WEIGHTS_FILE]
    ours = {k: p.data().asnumpy() for k, p in net._collect_params_with_prefix().items()}
    renamed = gluon_to_torch_names(ours)
    for key, value in ours.items():
        assert state[renamed[key]].dtype == value.dtype and state[renamed[key]].tobytes() == value.tobytes(), key
    counters = sorted(k for k in state if k.endswith("num_batches_tracked"))
    assert counters and len(counters) == len([k for k in ours if k.endswith("running_mean")])
    assert all(state[k].dtype == np.int64 and state[k].shape == () and state[k] == 0 for k in counters)
    assert state["layer1.0.conv2.bn0.weight"].shape == (128,) and "layer1.0.conv2.bn.gamma" not in state
    assert config["architecture"] == "resnest14d" and config["num_classes"] == 10
    assert config["label_names"] == names and config["num_features"] == 2048
    assert config["pretrained_cfg"] == {"input_size": [3, 224, 224], "crop_pct": 0.875, "crop_mode": "center",
                                        "interpolation": "bilinear", "mean": [0.485, 0.456, 0.406],
                                        "std": [0.229, 0.224, 0.225], "num_classes": 10, "first_conv": "conv1.0",
                                        "classifier": "fc"}


def test_official_folder_records_how_to_build_every_variant(tmp_path):
    _, path = _nets_weights("resnest50_fast_1s4x24d", tmp_path)
    convert_to_torch(path, str(tmp_path / "out"), "resnest50_fast_1s4x24d", "official")
    _, config = _read_folder(str(tmp_path / "out"))
    assert config["factory"] == CATALOGUE["resnest50_fast_1s4x24d"].official
    assert config["model_args"] == {"layers": [3, 4, 6, 3], "radix": 1, "groups": 4, "bottleneck_width": 24,
                                    "deep_stem": True, "stem_width": 32, "avg_down": True, "avd": True,
                                    "avd_first": True, "num_classes": 1000}
    assert "label_names" not in config and config["pretrained_cfg"]["input_size"] == [3, 224, 224]


def test_legacy_key_file_converts_to_the_same_arrays(resnest14_10, tmp_path):
    net, path = resnest14_10
    legacy = str(tmp_path / "legacy.params")
    net.collect_params().save(legacy, strip_prefix=net.prefix)
    assert not any("." in k for k in mx.nd.load(legacy))
    for source, out in ((path, "a"), (legacy, "b")):
        convert_to_torch(source, str(tmp_path / out), "resnest14", "official")
    a, b = _read_folder(str(tmp_path / "a"))[0], _read_folder(str(tmp_path / "b"))[0]
    assert a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def test_published_weights_carry_imagenet_names(tmp_path, store_env, server, monkeypatch):
    _, data = random_weights("resnest14", tmp_path)
    sha1 = sha1_of(data)
    publish(monkeypatch, "resnest14", sha1)
    server.add("resnest14-" + sha1[:8], data)
    convert_to_torch(True, str(tmp_path / "out"), "resnest14", "timm")
    _, config = _read_folder(str(tmp_path / "out"))
    assert len(config["label_names"]) == 1000 and config["label_names"][0] == "n01440764"
    assert config["label_descriptions"]["n01440764"] == "tench, Tinca tinca"


def test_to_torch_script_runs_without_torch(resnest14_10, tmp_path):
    """The README's environment has no torch: to-torch never imports it."""
    _, path = resnest14_10
    out = str(tmp_path / "out")
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    import subprocess

    result = subprocess.run([sys.executable, "-c", code, script_path("convert.py"), "to-torch", path, out, "--model",
                             "resnest14", "--target", "official", "--input-size", "64"], capture_output=True,
                            text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "official ResNet (10 classes, 64 px)" in result.stdout
    assert _read_folder(out)[1]["pretrained_cfg"]["input_size"] == [3, 64, 64]


@pytest.mark.parametrize("case", ["timm lacks the variant", "not our file", "another variant", "no variant given",
                                  "class names do not fit", "output is a file"])
def test_to_torch_refusals_are_one_line_and_write_nothing(case, resnest14_10, tmp_path):
    _, path = resnest14_10
    out = str(tmp_path / "out")
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    torch_file = tmp_path / "model.safetensors"
    torch_file.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    args, expected = {
        "timm lacks the variant": ((path, out, "--model", "resnest50_fast_1s1x64d"),
                                   "timm has no model of resnest50_fast_1s1x64d"),
        "not our file": ((torch_file, out, "--model", "resnest14"), "is a PyTorch checkpoint, not our parameter file"),
        "another variant": ((path, out, "--model", "resnest26"), "does not fit resnest26"),
        "no variant given": ((path, out), "give --model"),
        "class names do not fit": ((path, out, "--model", "resnest14", "--class-names", names),
                                   "2 class names for a classifier of 10 classes"),
        "output is a file": ((path, names, "--model", "resnest14"), "is a file; give a folder"),
    }[case]
    result = _run("to-torch", *args)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ") and expected in result.stderr, result.stderr
    if case == "timm lacks the variant":
        assert "--target official" in result.stderr
    assert not os.path.exists(out)
    assert not [f for f in os.listdir(str(tmp_path)) if "staging" in f]


def test_to_torch_refuses_nonfinite_weights_naming_them(tmp_path):
    net, _ = _nets_weights("resnest14", tmp_path)
    net.fc.bias.set_data(mx.nd.array([np.nan] + [0.0] * 999))
    path = str(tmp_path / "nan.params")
    net.save_parameters(path)
    with pytest.raises(ValueError, match="NaN or inf in 1 arrays.*fc.bias"):
        convert_to_torch(path, str(tmp_path / "out"), "resnest14", "official")
    assert not os.path.exists(str(tmp_path / "out"))


# from-torch: PyTorch checkpoints to our .params, checked against the reference (needs torch)

@pytest.fixture(scope="module")
def timm_resnest14(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from gluon_resnest.interop.torch_convert import reference_model
    from tests.helpers.torch_parity import randomize

    model = reference_model("resnest14", "timm")
    randomize(model, torch.zeros(1, 3, 64, 64))
    folder = tmp_path_factory.mktemp("ckpt")
    pth = str(folder / "resnest14d.pth")
    torch.save({"state_dict": model.state_dict()}, pth)
    from safetensors.torch import save_file
    st = str(folder / "resnest14d.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, st)
    return model, pth, st


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_from_torch_checks_against_reference(timm_resnest14, kind, tmp_path):
    import torch

    model, pth, st = timm_resnest14
    out = str(tmp_path / "resnest14.params")
    result = _run("from-torch", pth if kind == "pth" else st, out, "--model", "resnest14")
    assert result.returncode == 0, result.stderr
    assert "strict load ok" in result.stdout and "relative logit difference vs timm" in result.stdout
    net = get_model("resnest14")
    net.load_parameters(out)
    x = np.random.RandomState(1).standard_normal((1, 3, 64, 64)).astype("float32")
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(net(mx.nd.array(x)).asnumpy() - expected).max() / np.abs(expected).max() < 1e-4


def test_from_torch_wrong_variant_is_a_clear_error(timm_resnest14, tmp_path):
    _, pth, _ = timm_resnest14
    out = str(tmp_path / "wrong.params")
    result = _run("from-torch", pth, out, "--model", "resnest50")
    assert result.returncode != 0
    assert "does not fit resnest50" in result.stderr and "resnest14" in result.stderr
    assert not os.path.exists(out)
    with pytest.raises(ParamsMismatchError):
        from gluon_resnest.interop.torch_convert import convert_checkpoint
        convert_checkpoint(pth, out, "resnest26")


def test_migration_page_lists_timms_names_from_the_catalogue():
    import re

    with open(os.path.join(ROOT, "docs", "migration.md"), encoding="utf-8") as handle:
        rows = dict(re.findall(r"^\| `(\w+)` \| `(\w+)` \|$", handle.read(), re.M))
    assert rows == {name: rec.timm for name, rec in CATALOGUE.items() if rec.timm}
