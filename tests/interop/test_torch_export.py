"""Gluon -> PyTorch conversion measured against the PyTorch models (runs in .venv-ref): for every variant and both
targets (timm's 8, the official package's 13), the model loaded from the converted folder gives our network's
outputs in float64 (1e-9) and float32 (1e-4), with batch-norm running statistics (eval) and batch statistics
(train), fine-tuned heads included; converting back gives the same bits; a network fine-tuned with scripts/train.py
loads into timm with the same predictions."""
import os
import shutil

import cv2
import mxnet as mx
import numpy as np
import pytest
from mxnet import autograd

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

import gluon_resnest  # noqa: E402
from gluon_resnest.data.datasets import open_image_dataset  # noqa: E402
from gluon_resnest.interop.torch_convert import (available_references, convert_state_dict, import_timm,  # noqa: E402
                                                 read_checkpoint, reference_model, save_params_atomic)
from gluon_resnest.interop.torch_export import WEIGHTS_FILE, convert_to_torch  # noqa: E402
from gluon_resnest.models import model_data_config  # noqa: E402
from gluon_resnest.train.checkpoint import run_weights  # noqa: E402
from tests.helpers.scripts import run_script  # noqa: E402
from tests.helpers.torch_parity import official_model, randomize, read_config  # noqa: E402

#: Fine-tuned classifier widths (the other variants keep ImageNet's 1000).
CLASSES = {"resnest14": 10, "resnest50": 37, "resnest50_fast_1s4x24d": 5}
#: Batch 4 keeps batch statistics well conditioned; 32x40 makes odd feature maps at stages 2-3 (the average-pool
#: downsample's ceil mode) while keeping the deep variants quick.
SHAPE = (4, 3, 32, 40)
DTYPES = (("float64", 1e-9), ("float32", 1e-4))


def _rel(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def _source_weights(name, classes, x, folder):
    """Our ``.params`` files (float64 and float32) of calibrated random weights for ``name`` with ``classes``
    outputs, made on a PyTorch reference; returns them and that float64 reference (a timm model where timm has
    the variant, else the official package's)."""
    ref = reference_model(name, available_references(name)[-1])
    if classes != ref.fc.out_features:
        ref.fc = torch.nn.Linear(ref.fc.in_features, classes)
    randomize(ref.double(), torch.from_numpy(x))
    state = {k: v.detach().numpy() for k, v in ref.state_dict().items()}
    paths = {dtype: os.path.join(folder, "ours-%s.params" % dtype) for dtype, _ in DTYPES}
    for dtype, path in paths.items():
        save_params_atomic(convert_state_dict(state, dtype=dtype), path)
    return paths, ref


def _our_outputs(name, path, dtype, x):
    """(eval, train) outputs of our network: running statistics, then batch statistics (no dropout: the final
    dropout of resnest200/269 is a training setting, absent from the PyTorch models)."""
    net = gluon_resnest.get_model(name, classes=CLASSES.get(name, 1000), final_drop=0.0)
    net.cast(dtype)
    net.load_parameters(path)
    data = mx.nd.array(x, dtype=dtype)
    evaluated = net(data).asnumpy()
    with autograd.train_mode():
        trained = net(data).asnumpy()
    return evaluated, trained


def _torch_outputs(model, x, dtype):
    data = torch.from_numpy(x).to(getattr(torch, dtype))
    with torch.no_grad():
        return model.eval()(data).numpy(), model.train()(data).numpy()


def _loaded_model(folder, target, dtype, reference):
    """The PyTorch model of a converted folder, its weights loaded from the folder's file. float32: timm's folder
    form (as docs/migration.md loads it), the official package's ``ResNet(Bottleneck, **model_args)``. float64:
    built and cast first (timm's own loader would cast the values to float32), the official package's factory
    where it has one; the float64 ``reference`` of the same target (its weights replaced) saves a build."""
    config = read_config(folder)
    if target == "timm" and dtype == "float32":
        return import_timm().create_model("local-dir:" + folder, pretrained=True)
    if dtype == "float32":
        model = official_model(dict(config, factory=None))
    elif type(reference).__module__.split(".")[0] == {"timm": "timm", "official": "resnest"}[target]:
        model = reference
    elif target == "timm":
        model = import_timm().create_model(config["architecture"], num_classes=config["num_classes"])
    else:
        model = official_model(config)
    model = model.to(getattr(torch, dtype))
    model.load_state_dict(load_file(os.path.join(folder, WEIGHTS_FILE)))
    return model


def _same_bits(back, source):
    assert back.keys() == source.keys()
    for key, value in source.items():
        assert back[key].dtype == value.dtype and back[key].tobytes() == value.tobytes(), key


@pytest.mark.parametrize("name", gluon_resnest.list_models())
def test_converted_folder_gives_our_outputs(name, tmp_path):
    rec = gluon_resnest.model_record(name)
    classes = CLASSES.get(name, 1000)
    names = ["class %d" % i for i in range(classes)] if name in CLASSES else None
    x = np.random.RandomState(0).standard_normal(SHAPE)
    paths, reference = _source_weights(name, classes, x, str(tmp_path))
    expected_data = model_data_config(name)
    for dtype, tol in DTYPES:
        ours = _our_outputs(name, paths[dtype], dtype, x)
        for target in ("official", "timm") if rec.timm else ("official",):
            folder = str(tmp_path / ("%s-%s" % (target, dtype)))
            report = convert_to_torch(paths[dtype], folder, name, target, class_names=names)
            assert report["num_classes"] == classes
            model = _loaded_model(folder, target, dtype, reference)
            for mode, got, expected in zip(("eval", "train"), _torch_outputs(model, x, dtype), ours):
                assert _rel(got, expected) < tol, (target, dtype, mode, _rel(got, expected))
            if dtype == "float32":
                _same_bits({k: v.asnumpy() for k, v in convert_state_dict(read_checkpoint(folder)).items()},
                           {k: v.asnumpy() for k, v in mx.nd.load(paths[dtype]).items()})
                if target == "timm":
                    data = import_timm().data.resolve_data_config({}, model=model)
                    data = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
                    assert data == {"input_size": (3, expected_data.input_size, expected_data.input_size),
                                    "crop_pct": expected_data.crop_pct, "crop_mode": "center",
                                    "interpolation": expected_data.interpolation, "mean": expected_data.mean,
                                    "std": expected_data.std}
                    assert model.pretrained_cfg.get("label_names") == names
            shutil.rmtree(folder)  # the deep variants' folders are gigabytes: one at a time


def test_timm_file_form_needs_the_class_count_twice(tmp_path):
    """``pretrained_cfg_overlay=dict(file=...)`` loads the classifier only when the overlay repeats num_classes
    (docs/migration.md); without it timm silently keeps a random classifier."""
    x = np.random.RandomState(0).standard_normal(SHAPE).astype("float32")
    paths = _source_weights("resnest14", 10, x.astype("float64"), str(tmp_path))[0]
    folder = str(tmp_path / "timm")
    convert_to_torch(paths["float32"], folder, "resnest14", "timm")
    expected = _our_outputs("resnest14", paths["float32"], "float32", x)[0]
    timm = import_timm()
    weights = os.path.join(folder, WEIGHTS_FILE)
    documented = timm.create_model("resnest14d", num_classes=10, pretrained=True,
                                   pretrained_cfg_overlay=dict(file=weights, num_classes=10))
    assert _rel(_torch_outputs(documented, x, "float32")[0], expected) < 1e-4
    short = timm.create_model("resnest14d", num_classes=10, pretrained=True, pretrained_cfg_overlay=dict(file=weights))
    assert _rel(_torch_outputs(short, x, "float32")[0], expected) > 1e-2


def _write_class_folders(root, classes, per_class, rng):
    for c in range(classes):
        folder = os.path.join(root, "class%02d" % c)
        os.makedirs(folder)
        color = rng.integers(0, 256, 3)
        for i in range(per_class):
            img = np.clip(rng.normal(color, 30, (40, 40, 3)), 0, 255).astype(np.uint8)
            cv2.imwrite(os.path.join(folder, "%d.png" % i), img)


def test_finetuned_training_run_loads_into_timm_with_its_predictions(tmp_path):
    rng = np.random.default_rng(0)
    data, save, out = tmp_path / "photos", str(tmp_path / "run"), str(tmp_path / "timm")
    _write_class_folders(str(data / "train"), 10, 3, rng)
    _write_class_folders(str(data / "val"), 10, 1, rng)
    trained = run_script("train.py", "--data-dir", data, "--model", "resnest50", "--epochs", 1, "--batch-size", 10,
                         "--lr", 0.01, "--input-size", 32, "--log-interval", 0, "-j", 0, "--no-export",
                         "--save-dir", save)
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]
    converted = run_script("convert.py", "to-torch", save, out)
    assert converted.returncode == 0, converted.stderr[-2000:]
    assert "timm resnest50d (10 classes, 32 px)" in converted.stdout
    other = run_script("convert.py", "to-torch", save, str(tmp_path / "other"), "--model", "resnest26")
    assert other.returncode == 2 and "--model resnest26 differs from the variant the training run" in other.stderr
    assert "resnest50" in other.stderr and not os.path.exists(str(tmp_path / "other"))

    val = open_image_dataset(str(data / "val"))
    transform = model_data_config("resnest50", input_size=32).eval_transform()
    batch = np.stack([transform(val[i][0]) for i in range(len(val))])
    net = gluon_resnest.get_model("resnest50", pretrained=run_weights(save))
    ours = net(mx.nd.array(batch)).asnumpy()
    timm = import_timm()
    by_file = timm.create_model("resnest50d", num_classes=10, pretrained=True,
                                pretrained_cfg_overlay=dict(file=os.path.join(out, WEIGHTS_FILE), num_classes=10))
    by_folder = timm.create_model("local-dir:" + out, pretrained=True)
    for model in (by_file, by_folder):
        with torch.no_grad():
            theirs = model.eval()(torch.from_numpy(batch)).numpy()
        assert (theirs.argmax(1) == ours.argmax(1)).all() and _rel(theirs, ours) < 1e-4
    assert by_folder.pretrained_cfg["label_names"] == ["class%02d" % c for c in range(10)]
    data_config = timm.data.resolve_data_config({}, model=by_folder)
    assert tuple(data_config["input_size"]) == (3, 32, 32) and data_config["crop_pct"] == 0.875
