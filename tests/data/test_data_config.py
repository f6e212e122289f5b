"""One data config: a variant's catalogue record decides what every consumer's eval transform does.

The observer records each :class:`EvalTransform` built (size, crop fraction, crop mode, interpolation), so the tests
see what training validation, ``verify``, INT8 calibration and ``predict`` actually use, not what they claim.
"""
import dataclasses
import json
import os

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest.data import config as data_config_module
from gluon_resnest.data.config import DataConfig, resolve_data_config
from gluon_resnest.data.toy import ensure_toy_dataset
from gluon_resnest.data.transforms import EvalTransform
from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.deployment import ExportOptions, export_deployment
from gluon_resnest.deploy.export import export_model
from gluon_resnest.models import get_model, model_record
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.train.evaluation import EvalOptions, evaluate_model
from gluon_resnest.train.loop import TrainingRun

from tests.helpers.training import tiny_cfg

#: An unpublished evaluation setting for resnest14, so that nothing but the catalogue record can produce it.
EDITED = DataConfig(40, 0.6, "crop_resize", "bicubic", mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))


@pytest.fixture
def built(monkeypatch):
    """The ``(size, crop_pct, crop_mode, interpolation)`` of every EvalTransform built while the test runs."""
    seen = []

    class Observed(EvalTransform):
        def __init__(self, size, crop_pct, crop_mode, interpolation, mean, std):
            seen.append((size, round(crop_pct, 3), crop_mode, interpolation))
            super().__init__(size, crop_pct, crop_mode, interpolation, mean, std)

    monkeypatch.setattr(data_config_module, "EvalTransform", Observed)
    return seen


@pytest.fixture
def edited_resnest14(monkeypatch):
    """resnest14's catalogue record with :data:`EDITED` as its pretrained data config, for one test."""
    record = CATALOGUE["resnest14"]
    monkeypatch.setitem(CATALOGUE, "resnest14", dataclasses.replace(
        record, pretrained=dataclasses.replace(record.pretrained, data_config=EDITED)))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    return ensure_toy_dataset(str(root), train_count=40, val_count=24, size=48)


def _random_params(name, path):
    net = get_model(name, classes=10)
    net.initialize(mx.init.Xavier())
    net.save_parameters(path)
    return path


def test_resolver_overrides_only_the_fields_given():
    record = model_record("resnest200").pretrained
    assert resolve_data_config(record) == DataConfig(320, 320 / 352, "crop_resize", "bicubic")
    at_224 = resolve_data_config(record, input_size=224, crop_pct=None)
    assert (at_224.input_size, at_224.crop_pct, at_224.crop_mode, at_224.interpolation) == (
        224, 320 / 352, "crop_resize", "bicubic")
    meta = {"data_config": EDITED.as_dict()}
    assert resolve_data_config(meta) == EDITED
    assert resolve_data_config(json.loads(json.dumps(meta)), crop_pct=0.9).crop_pct == 0.9
    with pytest.raises(ValueError, match="export the model again"):
        resolve_data_config({"input_shape": [1, 3, 224, 224]})
    with pytest.raises(ValueError, match="crop_mode"):
        DataConfig(224, crop_mode="squash")
    with pytest.raises(ValueError, match="missing crop_pct"):
        DataConfig.from_dict({k: v for k, v in EDITED.as_dict().items() if k != "crop_pct"})
    with pytest.raises(TypeError, match="unknown data config field"):
        resolve_data_config(EDITED, crop=0.9)


def test_eval_transform_is_built_in_one_module_of_the_package():
    root = os.path.dirname(os.path.dirname(data_config_module.__file__))
    builders = []
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py") and "EvalTransform(" in open(os.path.join(folder, name)).read().replace(
                    "class EvalTransform(", ""):
                builders.append(os.path.relpath(os.path.join(folder, name), root))
    assert builders == [os.path.join("data", "config.py")]


def test_a_catalogue_edit_reaches_validation_verify_calibration_predict_and_the_meta(
        edited_resnest14, built, toy, tmp_path):
    train_rec, val_rec = toy
    expected = (40, 0.6, "crop_resize", "bicubic")
    run = TrainingRun(tiny_cfg(str(tmp_path / "run"), 1, input_size=0, toy_dir=os.path.dirname(train_rec)))
    assert run.data_config.input_size == 64 and run.data_config.crop_pct == 0.6
    assert built == [(64, 0.6, "crop_resize", "bicubic")]

    built.clear()
    params = _random_params("resnest14", str(tmp_path / "r14.params"))
    report = evaluate_model("resnest14", params, EvalOptions(val_rec, batch_size=8, workers=0, classes=10))
    assert built == [expected] and report["data_config"] == EDITED.as_dict()

    built.clear()
    out = str(tmp_path / "export" / "r14")
    os.makedirs(os.path.dirname(out))
    export_deployment("resnest14", params, out, ExportOptions(int8="naive", calib_data=train_rec, calib_batches=1,
                                                               val_data=val_rec))
    assert built and set(built) == {expected}
    meta = json.load(open(out + "-meta.json"))
    assert meta["data_config"] == EDITED.as_dict() and set(meta["members"]) == {"symbol", "int8"}
    assert not os.path.exists(out + "-int8-meta.json")

    built.clear()
    classifier = ExportedClassifier(out)
    assert classifier.data_config == EDITED and built == [expected]
    image = np.random.RandomState(0).randint(0, 256, (60, 80, 3)).astype("uint8")
    assert np.allclose(classifier.input(image), EDITED.eval_transform()(image))


def test_an_export_without_a_data_config_is_refused(tmp_path):
    net = get_model("resnest14")
    net.initialize()
    prefix = str(tmp_path / "old")
    export_model(net, prefix, 32)
    meta = json.load(open(prefix + "-meta.json"))
    del meta["data_config"]
    with open(prefix + "-meta.json", "w") as handle:
        json.dump(meta, handle)
    with pytest.raises(ValueError, match="old-meta.json: field 'data_config' is missing; export again"):
        ExportedClassifier(prefix)


def test_resnest200_export_at_320_is_calibrated_and_predicted_with_its_crop_and_bicubic(built, toy, tmp_path):
    train_rec, val_rec = toy
    out = str(tmp_path / "r200")
    report = export_deployment("resnest200", None, out, ExportOptions(size=320, int8="naive", calib_data=val_rec,
                                                                       calib_batches=1))
    expected = (320, 0.909, "crop_resize", "bicubic")
    assert report.members["int8"].batch_size == 8 and built and set(built) == {expected}
    built.clear()
    classifier = ExportedClassifier(out + "-int8")
    assert built == [expected] and classifier.shape == (8, 3, 320, 320)
