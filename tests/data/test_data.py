"""Transforms, AutoAugment, sharding, toy data and scripts/verify.py on generated images."""
import json

import cv2
import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.models import model_record
from gluon_resnest.data.autoaugment import AutoAugment, OPERATIONS
from gluon_resnest.interop.gluoncv import import_gluoncv
from gluon_resnest.data import ShardedSampler, make_loader, open_image_dataset, write_recordio
from gluon_resnest.data.toy import CLASSES, ensure_toy_dataset, generate
from gluon_resnest.data.config import DataConfig, resolve_data_config
from gluon_resnest.data.transforms import TrainTransform

from tests.helpers.scripts import run_script


def _image(h, w, seed=0):
    return mx.nd.array(np.random.RandomState(seed).randint(0, 256, (h, w, 3)), dtype="uint8")


def test_eval_transform_below_320_matches_gluoncv_preset():
    gcv = import_gluoncv()
    from gluoncv.data.transforms.presets.imagenet import transform_eval

    img = _image(300, 400)
    ours = DataConfig(224).eval_transform()(img)
    ref = transform_eval(img, resize_short=256, crop_size=224).asnumpy()[0]
    assert ours.shape == (3, 224, 224) and np.allclose(ours, ref, atol=1e-5)
    assert gcv is not None


def test_eval_transform_from_320_crops_then_resizes():
    img = _image(352, 500)
    out = DataConfig(320, 320 / 352, "crop_resize", "bicubic", mean=(0, 0, 0), std=(1, 1, 1)).eval_transform()(img)
    crop = img.asnumpy()[16:336, 90:410].transpose(2, 0, 1) / 255.0
    assert out.shape == (3, 320, 320) and np.allclose(out, crop, atol=1e-6)
    tf = resolve_data_config(model_record("resnest269").pretrained).eval_transform()
    assert (tf.size, round(tf.crop_pct, 3), tf.crop_mode, tf.interp) == (416, 0.929, "crop_resize", 2)
    assert resolve_data_config(model_record("resnest101").pretrained).eval_transform().size == 256


def test_train_transform_and_autoaugment_are_deterministic_under_seed():
    img = _image(80, 96)
    tf = TrainTransform(64, auto_augment=AutoAugment())
    a = tf(img, np.random.default_rng([1, 2, 3]))
    b = tf(img, np.random.default_rng([1, 2, 3]))
    c = tf(img, np.random.default_rng([1, 2, 4]))
    assert a.shape == (3, 64, 64) and np.array_equal(a, b) and not np.array_equal(a, c)
    aug = AutoAugment()
    outs = [aug(img, np.random.default_rng(s)).asnumpy() for s in range(8)]
    again = [aug(img, np.random.default_rng(s)).asnumpy() for s in range(8)]
    assert all(np.array_equal(x, y) for x, y in zip(outs, again))
    for name, op in OPERATIONS.items():
        out = op(img.asnumpy(), 5, np.random.default_rng(0))
        assert out.shape == (80, 96, 3) and out.dtype == np.uint8, name
    with pytest.raises(ValueError, match="unknown AutoAugment"):
        AutoAugment(((("Warp", 0.5, 3), ("Invert", 0.5, 1)),))


def test_autoaugment_operations_semantics():
    img = _image(16, 16).asnumpy()
    rng = np.random.default_rng(0)
    assert np.array_equal(OPERATIONS["Invert"](img, 0, rng), 255 - img)
    assert np.array_equal(OPERATIONS["Posterize"](img, 10, rng), img & 0xF0)
    assert np.array_equal(OPERATIONS["Solarize"](img, 0, rng), img)
    eq = OPERATIONS["Equalize"](img, 0, rng)
    assert eq.min() == 0 and eq.max() >= 250
    assert np.array_equal(OPERATIONS["Rotate"](img, 0, rng), img)


def test_sharded_sampler_covers_and_reshuffles():
    parts = [list(ShardedSampler(103, 4, r, shuffle=False, equal_parts=False)) for r in range(4)]
    assert sorted(i for p in parts for _, i in p) == list(range(103))
    train = ShardedSampler(103, 4, 1, seed=5)
    first = [i for _, i in train]
    train.set_epoch(1)
    second = [i for _, i in train]
    assert len(first) == 25 and sorted(first) == sorted(second) == list(range(25, 50)) and first != second


def test_toy_dataset_is_deterministic_and_balanced(tmp_path):
    a = [img for img, _ in generate(20, seed=3)]
    b = [img for img, _ in generate(20, seed=3)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    train, val = ensure_toy_dataset(str(tmp_path), train_count=50, val_count=20)
    ds = open_image_dataset(val)
    labels = [int(ds[i][1]) for i in range(len(ds))]
    assert len(ds) == 20 and sorted(set(labels)) == list(range(len(CLASSES)))
    assert ds[0][0].shape == (64, 64, 3)


def test_missing_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\.idx"):
        (tmp_path / "x.rec").write_bytes(b"")
        open_image_dataset(str(tmp_path / "x.rec"))
    with pytest.raises(FileNotFoundError, match="neither"):
        open_image_dataset(str(tmp_path / "nothing"))


@pytest.fixture(scope="module")
def small_sets(tmp_path_factory):
    """The same 20 toy images as an image folder and as RecordIO, plus a 10-class resnest14 params file."""
    root = tmp_path_factory.mktemp("verify")
    samples = list(generate(20, seed=7))
    for i, (img, label) in enumerate(samples):
        folder = root / "folder" / ("%02d" % label)
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / ("%d.png" % i)), img[:, :, ::-1])
    write_recordio(str(root / "val"), samples)
    net = get_model("resnest14", classes=10)
    net.initialize(mx.init.Xavier())
    net.save_parameters(str(root / "r14.params"))
    return root


@pytest.mark.parametrize("source", ["folder", "val.rec"])
def test_verify_script_reports_true_accuracy(small_sets, source, tmp_path):
    data = str(small_sets / source)
    out = str(tmp_path / "result.json")
    result = run_script("verify.py", "--model", "resnest14", "--params", small_sets / "r14.params", "--classes", 10,
                        "--data", data, "--size", 64, "--batch-size", 8, "--workers", 0, "--json", out, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.load(open(out))
    net = get_model("resnest14", classes=10, pretrained=str(small_sets / "r14.params"))
    transform = resolve_data_config(model_record("resnest14").pretrained, input_size=64).eval_transform()
    loader = make_loader(open_image_dataset(data), transform, 20)
    (x, y), = list(loader)
    pred = net(x).asnumpy()
    top1 = 100.0 * (pred.argmax(1) == y.asnumpy()).mean()
    assert report["images"] == 20 and abs(report["top1"] - top1) < 1e-9
    assert 0 <= report["top1"] <= report["top5"] <= 100


def test_verify_script_rejects_random_weights():
    result = run_script("verify.py", "--model", "resnest14", "--data", "x.rec", timeout=120)
    assert result.returncode == 2 and "random weights" in result.stderr
