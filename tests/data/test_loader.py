"""The parallel input pipeline: sample-by-sample identical for any worker count, unreadable samples skipped and
named (or fatal with strict), truncated RecordIO files and empty class folders refused up front."""
import logging
import os
import shutil

import cv2
import mxnet as mx
import numpy as np
import pytest

from gluon_resnest.data import AutoAugment, DataConfig, TrainTransform, make_loader, open_image_dataset, write_recordio
from gluon_resnest.data.loader import BadSampleError
from tools.synthetic import photo_like_samples


def _write_folder(root, samples, ext=".jpg"):
    for i, (img, label) in enumerate(samples):
        folder = os.path.join(root, "class%d" % label)
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, "%03d%s" % (i, ext)), img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])


@pytest.fixture(scope="module")
def photo_sets(tmp_path_factory):
    """24 ImageNet-like 500x375 JPEGs, as RecordIO and as an image folder."""
    root = tmp_path_factory.mktemp("photos")
    samples = list(photo_like_samples(24, classes=3, seed=1))
    write_recordio(str(root / "photos"), samples, quality=90)
    _write_folder(str(root / "folder"), samples)
    return root


def _passes(dataset, workers, epoch=1):
    loader = make_loader(dataset, TrainTransform(96, auto_augment=AutoAugment()), 5, train=True, seed=7,
                         num_workers=workers)
    loader.sampler.set_epoch(epoch)
    return [(data.asnumpy(), label.asnumpy()) for data, label in loader]


@pytest.mark.parametrize("source", ["photos.rec", "folder"])
def test_every_worker_count_delivers_the_same_samples(photo_sets, source):
    dataset = open_image_dataset(str(photo_sets / source))
    assert len(dataset) == 24 and dataset[0][0].shape == (375, 500, 3)
    serial = _passes(dataset, 0)
    assert len(serial) == 4 and serial[0][0].shape == (5, 3, 96, 96)
    for workers in (1, 2, 4):
        parallel = _passes(dataset, workers)
        assert len(parallel) == len(serial)
        for (a, la), (b, lb) in zip(serial, parallel):
            assert np.array_equal(a, b) and np.array_equal(la, lb), "workers=%d differ" % workers
    assert not np.array_equal(serial[0][0], _passes(dataset, 2, epoch=2)[0][0])


def test_photo_like_images_resemble_imagenet_jpegs(photo_sets):
    size = os.path.getsize(str(photo_sets / "photos.rec")) / 24
    assert 50e3 < size < 200e3, size


def _corrupt_record_set(root):
    """6 toy-sized records whose record 3 holds bytes that are not an image."""
    samples = list(photo_like_samples(6, classes=2, seed=2, height=40, width=48))
    prefix = os.path.join(root, "bad")
    write_recordio(prefix, samples)
    record = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "r")
    items = [record.read_idx(i) for i in range(6)]
    record.close()
    header, _ = mx.recordio.unpack(items[3])
    items[3] = mx.recordio.pack(header, b"this is not a jpeg")
    record = mx.recordio.MXIndexedRecordIO(prefix + ".idx", prefix + ".rec", "w")
    for i, item in enumerate(items):
        record.write_idx(i, item)
    record.close()
    return prefix + ".rec"


@pytest.mark.parametrize("workers", [0, 2])
def test_unreadable_record_is_skipped_with_its_name(tmp_path, caplog, workers):
    rec = _corrupt_record_set(str(tmp_path))
    loader = make_loader(open_image_dataset(rec), DataConfig(32).eval_transform(), 3, num_workers=workers)
    with caplog.at_level(logging.WARNING):
        batches = [label.asnumpy() for _, label in loader]
    assert [len(b) for b in batches] == [3, 2]
    assert len(loader.skipped) == 1 and "bad.rec record 3" in loader.skipped[0]
    assert "bad.rec record 3" in caplog.text
    strict = make_loader(open_image_dataset(rec), DataConfig(32).eval_transform(), 3, num_workers=workers, strict=True)
    with pytest.raises(BadSampleError, match="bad.rec record 3"):
        list(strict)


def test_unreadable_image_file_is_skipped_with_its_name(tmp_path):
    _write_folder(str(tmp_path / "f"), photo_like_samples(4, classes=2, seed=3, height=40, width=48))
    (tmp_path / "f" / "class1" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    dataset = open_image_dataset(str(tmp_path / "f"))
    loader = make_loader(dataset, DataConfig(32).eval_transform(), 5, num_workers=1)
    (data, _), = list(loader)
    assert data.shape[0] == 4 and len(loader.skipped) == 1 and "broken.jpg" in loader.skipped[0]


def test_truncated_recordio_files_are_refused_by_name(tmp_path):
    prefix = str(tmp_path / "t")
    write_recordio(prefix, photo_like_samples(4, classes=2, seed=4, height=40, width=48))
    shutil.copy(prefix + ".idx", prefix + "-copy.idx")
    with open(prefix + ".rec", "r+b") as handle:
        handle.truncate(os.path.getsize(prefix + ".rec") - 100)
    with pytest.raises(ValueError, match=r"t\.rec is truncated"):
        open_image_dataset(prefix + ".rec")
    write_recordio(prefix, photo_like_samples(4, classes=2, seed=4, height=40, width=48))
    text = open(prefix + ".idx").read()
    with open(prefix + ".idx", "w") as handle:
        handle.write(text[:-3].rsplit("\t", 1)[0])
    with pytest.raises(ValueError, match=r"t\.idx is truncated"):
        open_image_dataset(prefix + ".rec")


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    _write_folder(str(tmp_path / "f"), photo_like_samples(4, classes=2, seed=5, height=40, width=48))
    os.makedirs(str(tmp_path / "f" / "zebra"))
    with pytest.raises(ValueError, match="zebra"):
        open_image_dataset(str(tmp_path / "f"))
    os.rmdir(str(tmp_path / "f" / "zebra"))
    val = open_image_dataset(str(tmp_path / "f"), classes=["class0", "class1", "absent"])
    assert val.classes == ["class0", "class1", "absent"] and len(val) == 4


def _sequential_color(img, rng, jitter, lighting):
    """Reference: jitter ops one after another on the float image, then lighting and clipping (0..255)."""
    from gluon_resnest.data.transforms import _EIGVAL, _EIGVEC

    img = img.astype(np.float64)
    gray_weights = np.array([0.299, 0.587, 0.114])
    for op in rng.permutation(3):
        alpha = 1.0 + rng.uniform(-jitter, jitter)
        if op == 0:
            img = img * alpha
        elif op == 1:
            img = img * alpha + (img @ gray_weights).mean() * (1 - alpha)
        else:
            img = img * alpha + (img @ gray_weights)[..., None] * (1 - alpha)
    alpha = rng.normal(0, lighting, size=3).astype(np.float32)
    return np.clip(img + _EIGVEC @ (alpha * _EIGVAL), 0, 255)


def test_train_transform_color_matrix_equals_sequential_jitter():
    img = np.random.default_rng(0).integers(0, 256, (48, 48, 3)).astype(np.uint8)
    tf = TrainTransform(48, scale=(1, 1), ratio=(1, 1), mean=(0, 0, 0), std=(1 / 255.0,) * 3)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        tf._crop_box(48, 48, rng)
        flipped = rng.random() < 0.5
        source = img[:, ::-1] if flipped else img
        expected = _sequential_color(source, rng, 0.4, 0.1).transpose(2, 0, 1)
        out = tf(img, np.random.default_rng(seed))
        # the color-transformed image is saturated and rounded to uint8 (as ImageRecordIter's augmenter does)
        assert np.abs(out - expected).max() <= 1.0 and np.abs(out - expected).mean() < 0.3, seed
    plain = TrainTransform(48, scale=(1, 1), ratio=(1, 1), jitter=0, lighting=0)
    out = plain(img, np.random.default_rng(1))
    ref = DataConfig(48, crop_pct=1.0).eval_transform()(img)
    assert np.allclose(out, ref, atol=1e-5) or np.allclose(out, ref[:, :, ::-1], atol=1e-5)


@pytest.mark.parametrize("size", [224, 64])
def test_transform_from_encoded_bytes_matches_the_decoded_image(photo_sets, size):
    """Starting from the JPEG bytes (decoded as BGR, channel order folded into the color matrix) gives exactly the
    augmentation of the dataset's decoded RGB image, with and without AutoAugment."""
    dataset = open_image_dataset(str(photo_sets / "photos.rec"))
    for tf in (TrainTransform(size), TrainTransform(size, auto_augment=AutoAugment())):
        for i in range(len(dataset)):
            data, label, source = dataset.encoded(i)
            assert label == dataset[i][1]
            ours = tf.from_encoded(data, source, np.random.default_rng([3, 0, i]))
            ref = tf.augment(dataset[i][0], np.random.default_rng([3, 0, i]))
            assert ours.shape == (size, size, 3) and ours.dtype == np.uint8 and np.array_equal(ours, ref)
