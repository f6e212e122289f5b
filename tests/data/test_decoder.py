"""The one image decoder: OpenCV's pixels for images without an orientation (training's samples unchanged), EXIF
orientation applied as Pillow's ``exif_transpose`` (a photo viewer) does, truncated or corrupt data refused where
it is decoded, the size bounds read from the header; and the loader around it: damaged files and broken symlinks
skipped by name, a SIGKILLed worker process named within seconds."""
import io
import logging
import os
import signal
import struct
import time
import zlib

import cv2
import mxnet as mx
import numpy as np
import pytest
from PIL import Image, ImageOps

from gluon_resnest.data import DataConfig, TrainTransform, make_loader, open_image_dataset, write_recordio
from gluon_resnest.data.datasets import dataset_fingerprint
from gluon_resnest.data.decoder import ImageLimits, UndecodableImage, decode_image
from gluon_resnest.data.workers import POLL_S, WorkerLostError
from tools.synthetic import photo_like, photo_like_samples


def _photo(height=120, width=160, seed=0):
    return photo_like(np.random.default_rng(seed), height, width)


def _pil(array, fmt, **kw):
    buf = io.BytesIO()
    (array if isinstance(array, Image.Image) else Image.fromarray(array)).save(buf, fmt, **kw)
    return buf.getvalue()


def _cv(array, ext, *params):
    return cv2.imencode(ext, array[..., ::-1] if array.ndim == 3 else array, list(params))[1].tobytes()


def _opencv_rgb(data):
    """The reference: OpenCV's ``imdecode`` (training's decoder before this one), as RGB."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _with_exif(array, fmt, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _pil(array, fmt, exif=exif.tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))


def _not_sequential(jpeg):
    """``jpeg`` with its scan header's spectral end set to 62: libjpeg warns "Invalid SOS parameters for sequential
    JPEG" and decodes it as before."""
    data = bytearray(jpeg)
    sos = data.index(b"\xff\xda")
    components = data[sos + 4]
    data[sos + 5 + 2 * components + 1] = 62
    return bytes(data)


def _kinds():
    rgb = _photo(75, 101, seed=1)
    return {
        "jpeg 4:2:0": _pil(rgb, "JPEG", quality=90),
        "jpeg 4:2:2": _pil(rgb, "JPEG", quality=90, subsampling=1),
        "jpeg 4:4:4": _pil(rgb, "JPEG", quality=95, subsampling=0),
        "jpeg progressive": _pil(rgb, "JPEG", quality=90, progressive=True),
        "jpeg optimized": _pil(rgb, "JPEG", quality=75, optimize=True),
        "jpeg restart markers": _cv(rgb, ".jpg", cv2.IMWRITE_JPEG_RST_INTERVAL, 2),
        "jpeg grey": _pil(rgb[..., 1], "JPEG", quality=90),
        "jpeg cmyk": _pil(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=90),
        "jpeg as write_recordio packs it": mx.recordio.unpack(mx.recordio.pack_img(
            mx.recordio.IRHeader(0, 0.0, 0, 0), rgb[..., ::-1], quality=95, img_fmt=".jpg"))[1],
        "jpeg with bytes after its end": _pil(rgb, "JPEG", quality=90) + b"\x00" * 300,
        "jpeg with a nonconforming scan header": _not_sequential(_pil(rgb, "JPEG", quality=90)),
        "png": _pil(rgb, "PNG"),
        "png rgba": _pil(np.dstack([rgb, rgb[..., :1]]), "PNG"),
        "png palette": _pil(Image.fromarray(rgb).convert("P"), "PNG"),
        "png grey 16-bit": _cv(rgb[..., 0].astype("uint16") * 257, ".png"),
        "png rgb 16-bit": _cv(rgb.astype("uint16") * 257, ".png"),
        "bmp": _pil(rgb, "BMP"),
    }


def test_pixels_of_images_without_an_orientation_are_opencvs():
    for kind, data in _kinds().items():
        rgb, bgr = decode_image(data), decode_image(data, bgr=True)
        expected = _opencv_rgb(data)
        assert rgb.shape == expected.shape == (75, 101, 3) and rgb.dtype == np.uint8, kind
        assert np.array_equal(rgb, expected) and np.array_equal(bgr, expected[..., ::-1]), kind


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied_as_a_photo_viewer_does(fmt):
    rgb = _photo(48, 96, seed=2)
    for orientation in range(1, 9):
        data = _with_exif(rgb, fmt, orientation)
        viewer = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        ours = decode_image(data)
        assert ours.shape == ((96, 48, 3) if orientation >= 5 else (48, 96, 3)), orientation
        assert np.array_equal(ours, viewer), orientation
        assert np.array_equal(ours, _opencv_rgb(data)), orientation
        assert np.array_equal(decode_image(data, bgr=True), ours[..., ::-1]), orientation


def test_exif_orientation_is_read_from_a_little_endian_block_after_an_xmp_block():
    """Pillow (a viewer) applies it; OpenCV, reading the first APP1 block only, does not."""
    jpeg = _pil(_photo(30, 50, seed=3), "JPEG", quality=90)
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"
    for orientation in (3, 6, 8):
        tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + \
            struct.pack("<I", 0)
        blocks = b"".join(b"\xff\xe1" + struct.pack(">H", 2 + len(body)) + body
                          for body in (xmp, b"Exif\x00\x00" + tiff))
        data = jpeg[:2] + blocks + jpeg[2:]
        viewer = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
        assert np.array_equal(decode_image(data), viewer), orientation
        assert decode_image(data).shape == ((50, 30, 3) if orientation != 3 else (30, 50, 3))


def _png_with_chunk(width, height):
    """A small valid PNG whose header claims ``width`` x ``height``."""
    data = bytearray(_pil(_photo(16, 16), "PNG"))
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg_claiming(width, height):
    data = bytearray(_pil(_photo(16, 16), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def _scan_damaged(jpeg, seed, count=200):
    """``jpeg`` with ``count`` bytes of its entropy-coded data replaced by random ones."""
    rng = np.random.default_rng(seed)
    sos = jpeg.index(b"\xff\xda")
    start = sos + 2 + struct.unpack(">H", jpeg[sos + 2:sos + 4])[0]
    offset = int(rng.integers(start, len(jpeg) - count - 2))
    return jpeg[:offset] + rng.integers(0, 256, count).astype(np.uint8).tobytes() + jpeg[offset + count:]


def test_truncated_or_corrupt_data_is_refused_where_it_is_decoded():
    jpeg = _pil(_photo(375, 500, seed=3), "JPEG", quality=90)
    png = _pil(_photo(64, 64, seed=3), "PNG")
    bmp = _pil(_photo(64, 64, seed=3), "BMP")
    crc_damaged = bytearray(png)
    crc_damaged[len(png) // 2] ^= 0xFF
    damaged = {"jpeg cut at %d%%" % (100 * cut): jpeg[:int(len(jpeg) * cut)] for cut in (0.3, 0.5, 0.9, 0.999)}
    damaged.update({"jpeg with 200 scan bytes replaced (seed %d)" % seed: _scan_damaged(jpeg, seed)
                    for seed in range(8)})
    damaged.update({"png without its last chunk": png[:-12], "png cut in half": png[:len(png) // 2],
                    "png with a damaged chunk": bytes(crc_damaged), "bmp cut in half": bmp[:len(bmp) // 2],
                    "jpeg header only": jpeg[:200]})
    for kind, data in damaged.items():
        with pytest.raises(UndecodableImage, match="data is truncated or corrupt") as info:
            decode_image(data)
        assert info.value.problem == "corrupt", kind
    # what the decoder before this one did: a cut or damaged JPEG became an image with grey or wrong rows
    assert cv2.imdecode(np.frombuffer(damaged["jpeg cut at 50%"], np.uint8), cv2.IMREAD_COLOR) is not None
    # and a PNG without IEND passes Pillow's full load (serving's image check before this decoder)
    Image.open(io.BytesIO(damaged["png without its last chunk"])).load()
    for data, message in [(b"", "no data"), (b"GIF89a" + bytes(100), "GIF images are not decoded"),
                          (b"plain text, not an image" * 4, r"data \(96 bytes\) is not a JPEG, PNG or BMP image")]:
        with pytest.raises(UndecodableImage, match=message):
            decode_image(data)


def test_size_bounds_are_checked_from_the_header_before_decoding():
    limits = ImageLimits(max_pixels=1_000_000, min_side=16)
    for data in (_png_with_chunk(10000, 10000), _jpeg_claiming(30000, 30000)):
        tic = time.perf_counter()
        with pytest.raises(UndecodableImage, match=r"(10000x10000 = 100000000|30000x30000 = 900000000) pixels, "
                                                   "over the limit of 1000000") as info:
            decode_image(data, limits)
        assert info.value.problem == "too large" and time.perf_counter() - tic < 0.5
    with pytest.raises(UndecodableImage, match="image is 15x40; its smaller side must be at least 16 px"):
        decode_image(_pil(_photo(40, 15), "PNG"), limits)
    assert decode_image(_pil(_photo(16, 40), "PNG"), limits).shape == (16, 40, 3)
    assert decode_image(_pil(_photo(16, 40), "PNG")).shape == (16, 40, 3)  # the defaults: ImageLimits()
    with pytest.raises(ValueError, match="min_side must be >= 1, got 0"):
        ImageLimits(min_side=0)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """A class folder tree holding each kind of :func:`_kinds` and a RecordIO file of photo-like JPEGs."""
    root = tmp_path_factory.mktemp("mixed")
    for i, (kind, data) in enumerate(sorted(_kinds().items())):
        folder = root / "folder" / ("class%d" % (i % 2))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ("%02d.%s" % (i, "jpg" if kind.startswith("jpeg") else kind.split()[0]))).write_bytes(data)
    write_recordio(str(root / "photos"), photo_like_samples(6, classes=2, seed=4, height=100, width=130))
    return root


@pytest.mark.parametrize("source", ["folder", "photos.rec"])
def test_training_samples_of_images_without_an_orientation_are_unchanged(mixed_folder, source):
    """The dataset's decoded images and the training transform's samples from encoded bytes equal those made from
    OpenCV's decode, bit for bit."""
    dataset = open_image_dataset(str(mixed_folder / source))
    transform = TrainTransform(48)
    for i in range(len(dataset)):
        data, label, source_name = dataset.encoded(i)
        reference = _opencv_rgb(data)
        assert np.array_equal(dataset[i][0], reference), source_name
        ours = transform.from_encoded(data, source_name, np.random.default_rng([5, 0, i]))
        assert np.array_equal(ours, transform.augment(reference, np.random.default_rng([5, 0, i]))), source_name


def _folder_with(root, extra):
    samples = list(photo_like_samples(6, classes=2, seed=6, height=40, width=48))
    for i, (img, label) in enumerate(samples):
        folder = os.path.join(root, "class%d" % label)
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, "%02d.jpg" % i), img[:, :, ::-1])
    for name, data in extra.items():
        path = os.path.join(root, "class1", name)
        if isinstance(data, str):
            os.symlink(data, path)
        else:
            with open(path, "wb") as handle:
                handle.write(data)
    return open_image_dataset(root)


@pytest.mark.parametrize("workers", [0, 2])
def test_cut_and_corrupt_files_and_broken_symlinks_in_a_class_folder_are_skipped_by_name(tmp_path, caplog, workers):
    jpeg = _pil(_photo(375, 500, seed=7), "JPEG", quality=90)
    dataset = _folder_with(str(tmp_path / "f"), {
        "cut.jpg": jpeg[:len(jpeg) // 2], "scan-damaged.jpg": _scan_damaged(jpeg, 0), "cut.png": _pil(
            _photo(40, 48), "PNG")[:-12], "dangling.jpg": str(tmp_path / "gone.jpg"), "loop.jpg": "loop.jpg"})
    assert len(dataset) == 11 and dataset_fingerprint(dataset)
    loader = make_loader(dataset, TrainTransform(32), 4, train=True, num_workers=workers)
    with caplog.at_level(logging.WARNING):
        count = sum(data.shape[0] for data, _ in loader)
    assert count + len(loader.skipped) == 8  # two batches of 4 of the 11 samples
    eval_loader = make_loader(dataset, DataConfig(32).eval_transform(), 11, num_workers=workers)
    assert sum(data.shape[0] for data, _ in eval_loader) == 6
    names = sorted(reason.split(" (sample")[0].rsplit("/", 1)[1] for reason in eval_loader.skipped)
    assert names == ["cut.jpg", "cut.png", "dangling.jpg", "loop.jpg", "scan-damaged.jpg"]
    reasons = " ".join(eval_loader.skipped)
    assert "truncated or corrupt" in reasons and "Too many levels of symbolic links" in reasons
    assert "No such file or directory" in reasons and "dangling.jpg" in caplog.text


def test_a_sigkilled_worker_process_stops_the_pass_naming_it(tmp_path):
    write_recordio(str(tmp_path / "p"), photo_like_samples(40, classes=2, seed=8, height=40, width=48))
    loader = make_loader(open_image_dataset(str(tmp_path / "p.rec")), TrainTransform(32), 1, train=True,
                         num_workers=2)
    batches = iter(loader)
    next(batches)
    workers = [process for process, _ in loader._pool._workers]
    os.kill(workers[0].pid, signal.SIGKILL)
    tic = time.monotonic()
    with pytest.raises(WorkerLostError, match=r"data-loader worker process %d \(one of 2\) was killed by SIGKILL "
                                              r"\(what the out-of-memory killer sends\) while batch \d+ of this pass "
                                              "was awaited; its batches are lost" % workers[0].pid):
        for _ in batches:
            time.sleep(POLL_S)  # a training step
    assert time.monotonic() - tic < 4 * POLL_S + 5
    assert not any(process.is_alive() for process in workers)


def test_a_pass_left_midway_does_not_leak_batches_into_the_next(tmp_path):
    write_recordio(str(tmp_path / "p"), photo_like_samples(24, classes=2, seed=9, height=40, width=48))
    dataset = open_image_dataset(str(tmp_path / "p.rec"))
    serial = [data.asnumpy() for data, _ in make_loader(dataset, TrainTransform(32), 3, train=True)]
    loader = make_loader(dataset, TrainTransform(32), 3, train=True, num_workers=2)
    for step, _ in enumerate(loader):
        if step == 1:
            break  # batches 3 to 6 are in the making or made
    again = [data.asnumpy() for data, _ in loader]
    assert len(again) == len(serial) == 8
    assert all(np.array_equal(a, b) for a, b in zip(again, serial))
