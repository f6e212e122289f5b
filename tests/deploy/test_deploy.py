"""Deployment: export script with standalone reload, baked preprocessing, ONNX parity, INT8, predict, errors."""
import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.deploy.export import export_model, load_exported
from gluon_resnest.deploy.onnx_export import OnnxExportError, export_onnx, run_onnx
from gluon_resnest.deploy.classifier import ExportedClassifier

from tests.helpers.scripts import run_script


def _script(name, *args):
    return run_script(name, *args)


def _net(name, **kw):
    net = get_model(name, **kw)
    net.initialize(mx.init.Xavier())
    for p in net.collect_params().values():
        if p.name.endswith("running_var"):
            p.set_data(mx.nd.random.uniform(0.5, 1.5, shape=p.shape))
    return net


@pytest.mark.parametrize("extra", [[], ["--preprocess", "--batch-size", "2"]])
def test_export_script_reloads_without_package(tmp_path, extra):
    prefix = str(tmp_path / "r14")
    result = _script("export.py", "--model", "resnest14", "--out", prefix, "--size", "64", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["max_abs_diff_symbolblock"] < 1e-5 and report["max_abs_diff_module"] < 1e-5
    meta = json.load(open(prefix + "-meta.json"))
    assert meta["layout"] == ("NHWC" if extra else "NCHW")
    assert tuple(meta["input_shape"]) == ((2, 64, 64, 3) if extra else (1, 3, 64, 64))


def test_baked_preprocessing_equals_manual_normalization(tmp_path):
    net = _net("resnest14")
    prefix = str(tmp_path / "pp")
    export_model(net, prefix, 64, preprocess=True)
    img = np.random.RandomState(0).randint(0, 256, (1, 64, 64, 3)).astype("uint8")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    manual = ((img / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype("float32")
    expected = net(mx.nd.array(manual)).asnumpy()
    got = load_exported(prefix)(mx.nd.array(img, dtype="uint8")).asnumpy()
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["resnest14", "resnest50", "resnest50_fast_4s2x40d", "resnest50_fast_1s4x24d"])
def test_onnx_matches_mxnet_with_dynamic_batch(name, tmp_path):
    net = _net(name)
    sym, params, shape = export_model(net, str(tmp_path / name), 64)
    onnx_path = export_onnx(sym, params, str(tmp_path / (name + ".onnx")), shape)
    for batch in (1, 3):
        x = np.random.RandomState(batch).uniform(-1, 1, (batch, 3, 64, 64)).astype("float32")
        ref = net(mx.nd.array(x)).asnumpy()
        assert np.abs(run_onnx(onnx_path, x) - ref).max() / np.abs(ref).max() < 1e-4


def test_onnx_unsupported_operator_is_named(tmp_path):
    data = mx.sym.var("data")
    sym = mx.sym.khatri_rao(mx.sym.FullyConnected(data, num_hidden=2, name="fc"), data)
    sym.save(str(tmp_path / "odd-symbol.json"))
    mx.nd.save(str(tmp_path / "odd-0000.params"), {"arg:fc_weight": mx.nd.ones((2, 2)), "arg:fc_bias": mx.nd.zeros(2)})
    with pytest.raises(OnnxExportError, match="khatri_rao"):
        export_onnx(str(tmp_path / "odd-symbol.json"), str(tmp_path / "odd-0000.params"),
                    str(tmp_path / "odd.onnx"), (2, 2))
    assert not os.path.exists(tmp_path / "odd.onnx")


def test_mismatched_or_missing_pair_and_wrong_input_size(tmp_path):
    a, b = _net("resnest14"), _net("resnest26")
    export_model(a, str(tmp_path / "a"), 64)
    export_model(b, str(tmp_path / "b"), 64)
    os.replace(tmp_path / "b-0000.params", tmp_path / "a-0000.params")
    with pytest.raises(ValueError, match="not a matching symbol/params pair"):
        load_exported(str(tmp_path / "a"))
    with pytest.raises(FileNotFoundError, match="b-0000.params is missing"):
        load_exported(str(tmp_path / "b"))
    export_model(a, str(tmp_path / "c"), 64)
    clf = ExportedClassifier(str(tmp_path / "c"))
    with pytest.raises(ValueError, match=r"takes input \(N, 3, 64, 64\)"):
        clf.run(np.zeros((1, 3, 96, 96), "float32"))


@pytest.fixture(scope="module")
def trained_toy(tmp_path_factory):
    """A resnest14 trained briefly on the toy set at 48 px (so INT8 agreement is meaningful)."""
    from gluon_resnest.train import TrainConfig, train
    root = tmp_path_factory.mktemp("int8")
    cfg = TrainConfig.from_flat(model="resnest14", toy=True, save_dir=str(root / "run"), epochs=2, batch_size=32, lr=0.02,
                      input_size=48, min_random_area=0.3, log_interval=0, workers=0, warmup_epochs=1,
                      last_gamma=True, export=True)
    train(cfg)
    return root / "run"


def test_int8_quantization_agrees_and_predict_reads_all_forms(trained_toy, tmp_path):
    out = str(tmp_path / "toy")
    val = str(trained_toy / "toy_data" / "toy_val.rec")
    result = _script("export.py", "--model", "resnest14", "--checkpoint", str(trained_toy), "--out", out,
                     "--size", "48", "--onnx", "--int8", "naive", "--calib-data", val, "--calib-batches", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["onnx_max_rel_diff"] < 1e-4
    assert report["int8_vs_fp32"]["images"] == 500 and report["int8_vs_fp32"]["top1_agreement"] >= 0.9
    for model in (out, out + ".onnx", out + "-int8", str(trained_toy / "resnest14")):
        pred = _script("predict.py", model, "--rec", val, "--count", "4")
        assert pred.returncode == 0, pred.stderr[-2000:]
        assert "top-1 on these 4 images" in pred.stdout
    missing = _script("predict.py", str(tmp_path / "nothing"), "--rec", val)
    assert missing.returncode == 2 and "meta.json is missing" in missing.stderr


def test_entropy_calibration_quantizes(trained_toy):
    from gluon_resnest.data import make_loader, open_image_dataset
    from gluon_resnest.deploy.int8 import compare_outputs, quantize_model
    from gluon_resnest.data.transforms import EvalTransform

    loader = make_loader(open_image_dataset(str(trained_toy / "toy_data" / "toy_val.rec")), EvalTransform(48), 16)
    params = str(trained_toy / "best.params")
    qnet = quantize_model(get_model("resnest14", pretrained=params), loader, (16, 3, 48, 48), "entropy", 2)
    ref = get_model("resnest14", pretrained=params)
    report = compare_outputs(ref, qnet, loader, batches=8)
    assert report["images"] == 128 and report["top1_agreement"] >= 0.9
    with pytest.raises(ValueError, match="calib_mode"):
        quantize_model(ref, loader, (16, 3, 48, 48), "minmax")
