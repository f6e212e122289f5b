"""Serving an export with a real Multi Model Server (Java frontend, Python workers) on loopback: the archive, answers
equal to scripts/predict.py (symbol/params and INT8 ONNX), bad input, a tampered archive, a worker killed with
SIGKILL, and a bounded load run with MMS's batching on."""
import concurrent.futures
import importlib.util
import io
import os
import signal
import socket
import struct
import time
import zipfile
import zlib

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.serving.images import BadInput, ImageLimits, decode_image

from tests.helpers.files import umask, wrong_modes
from tests.helpers.scripts import run_script

SERVING = importlib.util.find_spec("mms") is not None and importlib.util.find_spec("model_archiver") is not None
needs_mms = pytest.mark.skipif(not SERVING, reason="MMS is not installed: bash scripts/setup_env.sh --with-serving")

#: The archives' body limit in these tests (MMS's own cap is twice that plus, see request_size_cap).
MAX_BYTES = 256 << 10
IMAGES = 16


def _encode(array, fmt, **kw):
    from PIL import Image

    buf = io.BytesIO()
    (array if isinstance(array, Image.Image) else Image.fromarray(array)).save(buf, fmt, **kw)
    return buf.getvalue()


def _smooth(height=40, width=56):
    """An RGB gradient (JPEG keeps it close, so decoded kinds can be compared with it)."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.dstack([xx * 255 // width, yy * 255 // height, (xx + yy) * 255 // (width + height)]).astype("uint8")


def _png_claiming(width, height):
    """A small valid PNG whose header claims ``width`` x ``height`` (decoders read the size before any pixel)."""
    data = bytearray(_encode(_smooth(16, 16), "PNG"))
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_decode_reads_image_kinds_as_training_and_predict_do_and_rejects_bad_input():
    from PIL import Image
    import cv2

    rgb, limits = _smooth(), ImageLimits(max_bytes=MAX_BYTES)
    kinds = {
        "jpeg": (_encode(rgb, "JPEG", quality=95), rgb),
        "grey jpeg": (_encode(rgb[..., 1], "JPEG", quality=95), np.repeat(rgb[..., 1:2], 3, 2)),
        "cmyk jpeg": (_encode(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95), rgb),
        "rgba png": (_encode(np.dstack([rgb, rgb[..., :1]]), "PNG"), rgb),
        "palette png": (_encode(Image.fromarray(rgb).convert("P"), "PNG"), rgb),
        "16-bit grey png": (cv2.imencode(".png", rgb[..., 0].astype("uint16") * 257)[1].tobytes(),
                            np.repeat(rgb[..., :1], 3, 2)),
        "16-bit rgb png": (cv2.imencode(".png", rgb[..., ::-1].astype("uint16") * 257)[1].tobytes(), rgb),
        "bmp": (_encode(rgb, "BMP"), rgb),
    }
    for kind, (data, expected) in kinds.items():
        img = decode_image(data, limits)
        assert img.shape == rgb.shape and img.dtype == np.uint8, kind
        assert (img == cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]).all(), kind
        tolerance = 40 if kind.startswith(("palette", "cmyk")) else 6
        assert np.abs(img.astype(int) - expected).mean() < tolerance, kind
    jpeg = kinds["jpeg"][0]
    bad = [(b"", 400, "empty"), (b"\x00\x01not an image" * 20, 415, "not a JPEG, PNG or BMP"),
           (jpeg[:len(jpeg) // 2], 400, "truncated"), (_encode(rgb[:1, :1], "PNG"), 400, "at least 16 px"),
           (_png_claiming(10000, 10000), 413, "10000x10000 = 100000000 pixels, over the limit"),
           (_png_claiming(20000, 20000), 413, "too large"), (_encode(rgb, "GIF"), 415, "GIF images are not"),
           (_encode(rgb, "PNG")[:-12], 400, "PNG data is truncated or corrupt"),
           (jpeg + b"\x00" * MAX_BYTES, 413, "over the limit of %d" % MAX_BYTES), ("text", 415, "bytes")]
    for data, status, message in bad:
        with pytest.raises(BadInput, match=message) as info:
            decode_image(data, limits)
        assert info.value.status == status
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        ImageLimits(max_pixels=0)


def test_answers_are_top_k_under_unique_names():
    from gluon_resnest.deploy.serving.service import top_k, unique_names

    names = unique_names(["crane", "cat", "crane"])
    assert names == ["crane (class 0)", "cat", "crane (class 2)"]
    answer = top_k(np.array([1.0, 3.0, 2.0]), names, 2)
    assert list(answer) == ["cat", "crane (class 2)"]
    assert np.isclose(answer["cat"], np.exp(3) / np.exp([1, 2, 3]).sum())


def _toy_jpegs(rec, count):
    """The first ``count`` records of a toy RecordIO file as ``(JPEG bytes, label)``, the bytes as stored."""
    record = mx.recordio.MXIndexedRecordIO(rec[:-4] + ".idx", rec, "r")
    try:
        out = []
        for i in range(count):
            header, data = mx.recordio.unpack(record.read_idx(i))
            out.append((data, int(header.label)))
        return out
    finally:
        record.close()


@pytest.fixture(scope="module")
def toy_store(trained_toy, tmp_path_factory):
    """Archives of the toy's symbol/params export (``toy``) and of an INT8 ONNX export of it
    (``toyq-int8-onnx``), image files of its validation set, and the exports' paths."""
    from gluon_resnest.deploy.deployment import ExportOptions, export_deployment
    from gluon_resnest.deploy.serving.archive import package_export
    from gluon_resnest.deploy.serving.config import ServingConfig
    from gluon_resnest.train.checkpoint import run_class_names

    root = tmp_path_factory.mktemp("serving")
    data = trained_toy / "toy_data"
    quantized = str(root / "exports" / "toyq")
    export_deployment("resnest14", str(trained_toy / "best.params"), quantized,
                      ExportOptions(size=48, onnx=True, int8="naive", calib_data=str(data / "toy_train.rec"),
                                    calib_batches=2, val_data=str(data / "toy_val.rec")),
                      class_names=run_class_names(str(trained_toy)))
    store = root / "store"
    store.mkdir()
    plain = str(trained_toy / "resnest14")
    with umask(0o022):
        packaged = run_script("serve.py", "package", plain, "--out", store / "toy.mar", "--name", "toy",
                              "--max-bytes", MAX_BYTES)
        assert packaged.returncode == 0, packaged.stderr[-3000:]
        package_export(quantized + "-int8.onnx", str(store / "toyq-int8-onnx.mar"),
                       config=ServingConfig("toyq-int8.onnx", limits=ImageLimits(max_bytes=MAX_BYTES)))
    images = root / "images"
    images.mkdir()
    files = []
    for i, (jpeg, label) in enumerate(_toy_jpegs(str(data / "toy_val.rec"), IMAGES)):
        path = images / ("val%02d.jpg" % i)
        path.write_bytes(jpeg)
        files.append((str(path), jpeg, label))
    return {"store": store, "plain": plain, "int8_onnx": quantized + "-int8.onnx", "images": files, "root": root}


@needs_mms
def test_archive_is_whole_or_refused(toy_store, tmp_path):
    from gluon_resnest.deploy.serving.archive import archive_members

    store = toy_store["store"]
    assert archive_members(str(store / "toy.mar")) == sorted(
        ["MAR-INF/MANIFEST.json", "resnest14-0000.params", "resnest14-meta.json", "resnest14-symbol.json",
         "resnest_handler.py", "serving.json"])
    assert wrong_modes(str(store)) == {}
    again = run_script("serve.py", "package", toy_store["plain"], "--out", store / "toy.mar")
    assert again.returncode == 2 and "toy.mar exists" in again.stderr and "--force" in again.stderr
    tampered = tmp_path / "t"
    tampered.mkdir()
    base = os.path.basename(toy_store["plain"])
    for suffix in ("-symbol.json", "-0000.params", "-meta.json"):
        data = bytearray(open(toy_store["plain"] + suffix, "rb").read())
        if suffix == "-0000.params":
            data[len(data) // 2] ^= 1
        (tampered / (base + suffix)).write_bytes(bytes(data))
    refused = run_script("serve.py", "package", tampered / base)
    assert refused.returncode == 2 and "does not match the sha1" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert sorted(os.listdir(tampered)) == sorted(base + s for s in ("-symbol.json", "-0000.params", "-meta.json"))
    named = run_script("serve.py", "package", toy_store["plain"], "--out", tmp_path / "x.mar", "--name", "no name")
    assert named.returncode == 2 and "model name 'no name'" in named.stderr
    no_java = run_script("serve.py", "start", "--model-store", store, "--run-dir", tmp_path / "run",
                         env_update={"JAVA_HOME": str(tmp_path / "no-jdk")})
    assert no_java.returncode == 2 and "openjdk-17-jre-headless" in no_java.stderr


class Server:
    """The module's MMS: its run folder, settings, and the expected answers per (model, image)."""

    def __init__(self, run_dir, settings, batched):
        self.run_dir, self.settings, self.batched = run_dir, settings, batched
        self.url = settings.inference_url

    def classify(self, model, data, topk=None, timeout=60):
        from gluon_resnest.deploy.serving.client import classify

        return classify(self.url, model, data, topk, timeout)

    def workers(self, model):
        from gluon_resnest.deploy.serving import mms

        ids = sorted(worker["id"] for worker in mms.describe(self.settings, model)["workers"])
        return ids, mms.worker_pids(self.run_dir, model)


@pytest.fixture(scope="module")
def server(toy_store):
    """MMS started by ``scripts/serve.py start`` serving ``toy`` and ``toyq-int8-onnx`` (batch size 1), plus
    ``toy-batched`` (the toy archive again, batch size 4, 50 ms delay); stopped by ``serve.py stop`` (and
    directly, should that fail) after the module's tests, also when they fail."""
    if not SERVING:
        pytest.skip("MMS is not installed: bash scripts/setup_env.sh --with-serving")
    from gluon_resnest.deploy.serving import mms

    run_dir = str(toy_store["root"] / "run")
    port, management = mms.free_ports(2)
    try:
        started = run_script("serve.py", "start", "--model-store", toy_store["store"], "--run-dir", run_dir,
                             "--port", port, "--management-port", management, "--models", "toy", "toyq-int8-onnx",
                             "--timeout", 400, timeout=600)
        assert started.returncode == 0, started.stderr[-3000:]
        assert "serves toy, toyq-int8-onnx on http://127.0.0.1:%d" % port in started.stdout
        batched = mms.ServerSettings(port, management, batch_size=4, max_batch_delay=50)
        mms.register(batched, "toy.mar", "toy-batched")
        yield Server(run_dir, mms.ServerSettings(port, management), batched)
    finally:
        stopped = run_script("serve.py", "stop", "--run-dir", run_dir)
        mms.stop(run_dir)
        assert stopped.returncode == 0 and mms.server_pid(run_dir) is None


def _expected(path, images, k=3):
    """``{image bytes: {name: probability}}`` from ExportedClassifier in this process (the top ``k``)."""
    from gluon_resnest.deploy.classifier import class_names_for
    from gluon_resnest.deploy.serving.service import top_k, unique_names

    clf = ExportedClassifier(path)
    logits = clf.logits([decode_image(data, ImageLimits()) for _, data, _ in images])
    names = unique_names(class_names_for(clf.meta, logits.shape[1]))
    return {data: top_k(row, names, k) for (_, data, _), row in zip(images, logits)}


def _close(got, want):
    return list(got) == list(want) and np.allclose(list(got.values()), list(want.values()), rtol=1e-4, atol=1e-6)


@needs_mms
@pytest.mark.parametrize("model, export", [("toy", "plain"), ("toyq-int8-onnx", "int8_onnx")])
def test_served_answers_equal_predict(server, toy_store, model, export):
    images = toy_store["images"]
    predicted = run_script("predict.py", toy_store[export], *[path for path, _, _ in images], "--topk", 3)
    assert predicted.returncode == 0, predicted.stderr[-2000:]
    lines = predicted.stdout.strip().splitlines()[-len(images):]
    expected = _expected(toy_store[export], images)
    correct = 0
    for (path, data, label), line in zip(images, lines):
        status, answer, headers = server.classify(model, data, topk=3)
        assert status == 200 and headers.get("Content-Type", headers.get("content-type")) == "application/json"
        assert line == "%s: %s" % (path, ", ".join("%s %.1f%%" % (name, 100 * p) for name, p in answer.items()))
        assert _close(answer, expected[data])
        correct += list(answer)[0] == "%s" % _toy_class(label)
    assert correct >= IMAGES - 2
    status, answer, _ = server.classify(model, images[0][1])
    assert status == 200 and len(answer) == 5


def _toy_class(label):
    from gluon_resnest.data.toy import CLASSES

    return CLASSES[label]


def _multipart(fields, files=()):
    """A multipart/form-data body (and its header) of text ``fields`` and the file fields named in ``files``, as
    ``curl -F name=value`` and ``curl -F name=@file`` send them."""
    boundary = b"resnestboundary"
    parts = []
    for name, value in fields.items():
        disposition = b'form-data; name="%s"' % name.encode()
        if name in files:
            disposition += b'; filename="%s.jpg"\r\nContent-Type: image/jpeg' % name.encode()
        parts.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary, disposition, value))
    body = b"".join(parts) + b"--%s--\r\n" % boundary
    return body, {"Content-Type": "multipart/form-data; boundary=" + boundary.decode()}


def _status_before_body(port, path, length):
    """The status MMS answers a POST announcing a ``length``-byte body with ``Expect: 100-continue`` (as curl
    sends large files) before any of the body is sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                     % (path.encode(), length))
        return int(sock.recv(4096).split(b" ", 2)[1])


@needs_mms
def test_bad_input_gets_4xx_json_and_workers_keep_answering(server, toy_store):
    from gluon_resnest.deploy.serving.client import http_request

    before = server.workers("toy")
    good = toy_store["images"][0][1]
    want = _expected(toy_store["plain"], toy_store["images"][:1])[good]
    bad = [(b"", None, 400, "request body is empty"),
           (b"\x00\x01not an image" * 20, None, 415, "is not a JPEG, PNG or BMP image"),
           (good[:len(good) // 2], None, 400, "truncated"),
           (_encode(_smooth()[:1, :1], "PNG"), None, 400, "at least 16 px"),
           (_png_claiming(10000, 10000), None, 413, "over the limit of 50000000"),
           (good + b"\x00" * MAX_BYTES, None, 413, "over the limit of %d" % MAX_BYTES),
           (_encode(_smooth(), "GIF"), None, 415, "GIF images are not decoded"),
           (good, "abc", 400, "topk must be an integer from 1 to 10, got 'abc'"),
           (good, "11", 400, "from 1 to 10, got '11'"), (good, "0", 400, "got '0'")]
    for body, topk, status, message in bad:
        got, answer, _ = server.classify("toy", body, topk=topk)
        assert got == status and isinstance(answer, dict) and message in answer["error"], (message, answer)
        assert answer["code"] == status
        got, answer, _ = server.classify("toy", good, topk=3)
        assert got == 200 and _close(answer, want)
    body, headers = _multipart({"note": b"hello", "other": b"x"})
    got, answer, _ = http_request("POST", server.url + "/predictions/toy", body, headers)
    assert got == 400 and "no image in the request" in answer["error"]
    body, headers = _multipart({"data": good, "topk": b"2"}, files=("data",))
    got, answer, _ = http_request("POST", server.url + "/predictions/toy", body, headers)
    assert got == 200 and list(answer) == list(want)[:2]
    assert _status_before_body(server.settings.port, "/predictions/toy", 4 << 20) == 413
    assert server.classify("toy", good)[0] == 200
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        bodies = [good, b"", good, good[:len(good) // 2]] * 2
        results = list(pool.map(lambda data: server.classify("toy-batched", data, topk=3), bodies))
    assert [status for status, _, _ in results] == [200, 400, 200, 400] * 2
    assert all(_close(answer, want) for status, answer, _ in results if status == 200)
    assert server.workers("toy") == before


@needs_mms
def test_load_run_8_clients_x_50_requests_with_batching(server, toy_store):
    images = toy_store["images"]
    expected = _expected(toy_store["plain"], images)
    before = server.workers("toy-batched")
    deadline = time.monotonic() + 300

    def client(index):
        answers = []
        for i in range(50):
            if time.monotonic() > deadline:
                break
            data = images[(index * 50 + i) % len(images)][1]
            status, answer, headers = server.classify("toy-batched", data, topk=3)
            answers.append((status == 200 and _close(answer, expected[data]), int(headers.get("X-Batch-Size", 0))))
        return answers

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [answer for client_answers in pool.map(client, range(8)) for answer in client_answers]
    assert len(answers) == 400 and sum(ok for ok, _ in answers) == 400
    assert max(size for _, size in answers) > 1 and all(1 <= size <= 4 for _, size in answers)
    assert server.workers("toy-batched") == before


@needs_mms
def test_tampered_archive_does_not_load(server, toy_store):
    from gluon_resnest.deploy.serving import mms

    store = toy_store["store"]
    with zipfile.ZipFile(store / "toy.mar") as source, zipfile.ZipFile(store / "toy-tampered.mar", "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("-0000.params"):
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            out.writestr(info, data)
    with pytest.raises(mms.ServerError, match="did not load toy-tampered.mar"):
        mms.register(server.settings, "toy-tampered.mar", "toy-tampered")
    assert "resnest14-0000.params does not match the sha1" in mms.refusal(server.run_dir, "toy-tampered")
    _, listed = mms.http_json("GET", server.settings.management_url + "/models")
    assert "toy-tampered" not in [model["modelName"] for model in listed["models"]]
    assert server.classify("toy", toy_store["images"][0][1])[0] == 200


def _serving_process(pids):
    """The worker process that loaded the model: the one whose parent is the worker's listening process."""
    return [pid for pid, parent in pids.items() if parent in pids]


@needs_mms
def test_worker_killed_with_sigkill_is_restarted(server, toy_store):
    from gluon_resnest.deploy.serving import mms

    images = toy_store["images"]
    expected = _expected(toy_store["plain"], images)
    ids, pids = server.workers("toy")
    (victim,) = _serving_process(pids)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        burst = [pool.submit(server.classify, "toy", images[i % IMAGES][1], 3, 120) for i in range(16)]
        time.sleep(0.3)
        os.kill(victim, signal.SIGKILL)
        statuses = [future.result()[0] for future in burst]
    assert all(status in (200, 500, 503) for status in statuses), statuses
    deadline, killed_loading = time.monotonic() + 120, None
    while time.monotonic() < deadline and killed_loading is None:
        current = mms.worker_pids(server.run_dir, "toy")
        loading = [pid for pid in _serving_process(current) if pid not in pids]
        if loading:
            killed_loading = loading[0]
            os.kill(killed_loading, signal.SIGKILL)
        time.sleep(0.05)
    assert killed_loading, "MMS started no new worker for toy within 120 s"
    while time.monotonic() < deadline:
        workers = mms.describe(server.settings, "toy")["workers"]
        if workers and all(w["status"] == "READY" for w in workers) and sorted(w["id"] for w in workers) != ids:
            break
        time.sleep(0.5)
    else:
        pytest.fail("toy's worker was not restarted within 120 s")
    for i in range(IMAGES):
        status, answer, _ = server.classify("toy", images[i][1], topk=3)
        assert status == 200 and _close(answer, expected[images[i][1]])
    assert victim not in mms.worker_pids(server.run_dir, "toy")
