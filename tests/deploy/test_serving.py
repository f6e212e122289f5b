"""Serving an export with a real Multi Model Server (Java frontend, Python workers) on loopback: the archive, answers
equal to scripts/predict.py (symbol/params and INT8 ONNX), bad input alone and mixed into batches, a tampered
archive or manifest, a worker killed with SIGKILL or stopped with SIGSTOP, a killed frontend, a decoy pid file, a
port in use, and a bounded load run with MMS's batching on."""
import concurrent.futures
import dataclasses
import importlib.util
import io
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.serving.images import BadInput, ImageLimits, decode_image

from tests.helpers.files import umask, wrong_modes
from tests.helpers.scripts import ROOT, load_script, run_script

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
    with pytest.raises(ValueError, match="max_pixels must be .*>= 1, got 0"):
        ImageLimits(max_pixels=0)


def test_answers_are_top_k_under_unique_names():
    from gluon_resnest.deploy.serving.service import top_k, unique_names

    names = unique_names(["crane", "cat", "crane"])
    assert names == ["crane (class 0)", "cat", "crane (class 2)"]
    answer = top_k(np.array([1.0, 3.0, 2.0]), names, 2)
    assert list(answer) == ["cat", "crane (class 2)"]
    assert np.isclose(answer["cat"], np.exp(3) / np.exp([1, 2, 3]).sum())


def _declared_rows(classes):
    """The docs table row of each option of ``classes``: flag, default, help text."""
    from gluon_resnest.utils.options import declared, default_text, option_flags

    return ["| `%s` | %s | %s |" % (option_flags(field, opt)[0], default_text(field, opt), opt.help)
            for field, opt in declared(classes)]


def test_serve_options_are_declared_once_and_range_checked(capsys):
    """scripts/serve.py's parsers are generated from the option declarations (same defaults and help texts),
    docs/serving.md lists each option as declared, and an out-of-range value ends in one line naming its flag."""
    import argparse

    from gluon_resnest.utils.cli import run_main
    from gluon_resnest.utils.options import declared, option_flags

    serve = load_script("serve.py")
    subparsers = next(a for a in serve.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for command, classes in (("package", serve.PACKAGE_OPTIONS), ("start", serve.START_OPTIONS),
                             ("stop", serve.STOP_OPTIONS)):
        actions = {action.dest: action for action in subparsers[command]._actions}
        for field, opt in declared(classes):
            action = actions[field.name]
            assert action.default == field.default and action.help.startswith(opt.help), (command, field.name)
            assert option_flags(field, opt)[0] in action.option_strings
    with open(os.path.join(ROOT, "docs", "serving.md"), encoding="utf-8") as handle:
        docs = handle.read()
    missing = [row for row in _declared_rows(serve.PACKAGE_OPTIONS + serve.START_OPTIONS) if row not in docs]
    assert not missing, "docs/serving.md lacks (or words differently) the option rows %s" % missing
    refused = [(["start", "--model-store", ".", "--threads", "-1"], "--threads must be .*>= 0, got -1"),
               (["start", "--model-store", ".", "--port", "40000"], "--port must be .*1.*32766.*, got 40000"),
               (["start", "--model-store", ".", "--response-timeout", "0"], "--response-timeout must be .*, got 0"),
               (["start", "--model-store", ".", "--workers", "0"], "--workers must be .*1.*, got 0"),
               (["start", "--model-store", ".", "--max-batch-delay", "-5"], "--max-batch-delay must be .*, got -5"),
               (["start", "--model-store", ".", "--port", "9000", "--management-port", "9000"],
                "--port and --management-port must differ"),
               (["package", "no-export", "--topk", "0"], "--topk must be .*>= 1, got 0"),
               (["package", "no-export", "--max-bytes", "0"], "--max-bytes must be .*536870912.*, got 0"),
               (["package", "no-export", "--min-side", "-1"], "--min-side must be .*>= 1, got -1")]
    for argv, message in refused:
        assert run_main(serve.main, argv) == 2, argv
        err = capsys.readouterr().err
        assert re.match("error: " + message, err) and len(err.strip().splitlines()) == 1, (argv, err)


def test_run_dir_frontend_is_checked_by_command_line_and_start_time(tmp_path):
    """The pid file counts only for a process whose command line is the run folder's frontend and that started
    when the pid file was written; a worker process of the folder without a live frontend is an orphan."""
    from gluon_resnest.deploy.serving import processes

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    pid_file = run_dir / processes.PID_FILE
    lookalike = [sys.executable, "-c", "import time; time.sleep(120)", processes.FRONTEND_CLASS, "-f",
                 str(run_dir / "config.properties")]
    with subprocess.Popen(lookalike) as frontend, subprocess.Popen(["sleep", "120"]) as decoy:
        try:
            assert processes.frontend(run_dir) == processes.Frontend()
            pid_file.write_text(str(decoy.pid))
            assert processes.frontend(run_dir).pid is None
            assert "pid %d is not the MMS frontend of %s" % (decoy.pid, run_dir) in processes.frontend(run_dir).foreign
            pid_file.write_text(str(frontend.pid))
            time.sleep(0.5)
            assert processes.frontend(run_dir) == processes.Frontend(pid=frontend.pid)
            os.utime(pid_file, (time.time() - 3600, time.time() - 3600))
            reused = processes.frontend(run_dir)
            assert reused.pid is None and "the pid was reused" in reused.foreign
        finally:
            frontend.kill()
            decoy.kill()
    assert processes.frontend(run_dir) == processes.Frontend()
    script = os.path.join(str(tmp_path), processes.WORKER_SCRIPT)
    with open(script, "w") as handle:
        handle.write("import time\ntime.sleep(120)\n")
    with subprocess.Popen([sys.executable, script, "--tmp-dir", str(run_dir / "tmp")]) as orphan, \
            subprocess.Popen([sys.executable, script, "--tmp-dir", str(tmp_path / "other" / "tmp")]) as other:
        try:
            time.sleep(0.5)
            os.kill(orphan.pid, signal.SIGSTOP)
            assert [process.pid for process in processes.orphans(run_dir)] == [orphan.pid]
            assert processes.kill_orphans(run_dir) == (orphan.pid,) and orphan.poll() is not None
            assert other.poll() is None
        finally:
            other.kill()
            orphan.kill()


class _Context:
    """MMS's request context as :meth:`ClassifierService.answer` uses it, for ``count`` requests."""

    def __init__(self, count, headers=None):
        self.headers = [dict(headers or {}) for _ in range(count)]
        self.statuses, self.response_headers = {}, [{} for _ in range(count)]

    def set_response_content_type(self, idx, value):
        self.response_headers[idx]["content-type"] = value

    def set_response_header(self, idx, key, value):
        self.response_headers[idx][key] = value

    def set_response_status(self, code, phrase, idx):
        self.statuses[idx] = code

    def get_all_request_header(self, idx):
        return self.headers[idx]


def _png(array):
    return _encode(array, "PNG")


def _corrupt_images(good):
    """``{kind: (body, status)}`` of bad request bodies made from the JPEG ``good``: a PNG without its last chunk
    (which Pillow accepts and MXNet fails on only when the pixels are used), a PNG cut inside its image data, the
    JPEG cut in half, text and zero bytes."""
    png = _png(mx.image.imdecode(good).asnumpy())
    return {"png without its last chunk": (png[:-12], 400), "png cut in its data": (png[:-30], 400),
            "cut jpeg": (good[:len(good) // 2], 400), "text": (b"hello, this is no image\n" * 8, 415),
            "zero bytes": (b"", 400)}


@needs_mms
def test_each_request_of_a_batch_is_answered_alone(toy_store, monkeypatch):
    """In process: whatever fails for one request (a lazy MXNet decoding error, an exception from the decoder, a
    forward pass that fails for one input) becomes that request's answer; the others are classified; answer()
    never raises."""
    from gluon_resnest.deploy.serving import service as service_module
    from gluon_resnest.deploy.serving.config import ServingConfig
    from gluon_resnest.utils.publish import sha1_file

    plain = toy_store["plain"]
    config = ServingConfig(os.path.basename(plain), topk=3, meta_sha1=sha1_file(plain + "-meta.json"))
    service = service_module.ClassifierService(os.path.dirname(plain), config)
    images = toy_store["images"][:3]
    want = _expected(plain, images)
    good = [data for _, data, _ in images]
    bad = _corrupt_images(good[0])
    decode = service_module.decode_image

    def decoder(data, limits):
        if data == b"decoder bug":
            raise RuntimeError("a decoder bug")
        return decode(data, limits)

    monkeypatch.setattr(service_module, "decode_image", decoder)
    requests = [good[0], bad["png without its last chunk"][0], b"decoder bug", good[1], bad["zero bytes"][0],
                good[2]]
    context = _Context(len(requests))
    answers = service.answer([{"body": body} for body in requests], context)
    assert context.statuses == {1: 400, 2: 500, 4: 400}
    assert "truncated or corrupt" in json.loads(answers[1])["error"]
    assert json.loads(answers[2])["error"] == "the image could not be read: RuntimeError: a decoder bug"
    for idx, body in ((0, good[0]), (3, good[1]), (5, good[2])):
        assert _close(json.loads(answers[idx]), want[body])
    assert all(headers["X-Batch-Size"] == "6" for headers in context.response_headers)

    batch_logits = service.classifier.batch_logits
    poison = service.classifier.input(mx.image.imdecode(good[1]))

    def failing(batch):
        if any(np.array_equal(x, poison) for x in batch):
            raise RuntimeError("forward failed")
        return batch_logits(batch)

    monkeypatch.setattr(service.classifier, "batch_logits", failing)
    context = _Context(3)
    answers = service.answer([{"body": body} for body in good], context)
    assert context.statuses == {1: 500} and "forward failed" in json.loads(answers[1])["error"]
    assert _close(json.loads(answers[0]), want[good[0]]) and _close(json.loads(answers[2]), want[good[2]])
    monkeypatch.setattr(service, "_classify", lambda *args: 1 / 0)
    context = _Context(2)
    answers = service.answer([{"body": good[0]}, {"body": good[1]}], context)
    assert context.statuses == {0: 500, 1: 500} and len(answers) == 2

    form = _Context(1, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = json.loads(service.answer([{"data": "x"}], form)[0])
    assert form.statuses == {0: 415} and "application/octet-stream" in answer["error"]


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
    not_exported = run_script("serve.py", "package", toy_store["plain"] + ".onnx", "--out", tmp_path / "o.mar")
    assert not_exported.returncode == 2 and ".staging" not in not_exported.stderr
    assert "%s.onnx is not part of the export described by %s-meta.json" % ((toy_store["plain"],) * 2) \
        in not_exported.stderr


@needs_mms
def test_archive_records_and_checks_its_manifest(toy_store, tmp_path):
    """serving.json records the sha1 of the export's manifest (which holds the class names and every other file's
    sha1); an unpacked archive whose manifest differs, or that records none, refuses to load."""
    from gluon_resnest.deploy.export_files import ExportMismatchError
    from gluon_resnest.deploy.serving.archive import archive_config
    from gluon_resnest.deploy.serving.config import ServingConfig
    from gluon_resnest.deploy.serving.service import ClassifierService
    from gluon_resnest.utils.publish import sha1_file

    meta = toy_store["plain"] + "-meta.json"
    config = archive_config(str(toy_store["store"] / "toy.mar"))
    assert config.meta_sha1 == sha1_file(meta)
    with zipfile.ZipFile(toy_store["store"] / "toy.mar") as archive:
        archive.extractall(tmp_path / "unpacked")
    unpacked = tmp_path / "unpacked"
    served = ClassifierService(str(unpacked), ServingConfig.read(str(unpacked)))
    assert served.names == json.loads((unpacked / "resnest14-meta.json").read_text())["class_names"]
    edited = json.loads((unpacked / "resnest14-meta.json").read_text())
    edited["class_names"] = edited["class_names"][::-1]
    (unpacked / "resnest14-meta.json").write_text(json.dumps(edited))
    with pytest.raises(ExportMismatchError, match="resnest14-meta.json does not match the sha1 recorded in "
                                                  "serving.json"):
        ClassifierService(str(unpacked), ServingConfig.read(str(unpacked)))
    with pytest.raises(ExportMismatchError, match="serving.json records no sha1 of resnest14-meta.json"):
        ClassifierService(os.path.dirname(meta), dataclasses.replace(config, meta_sha1=None))


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
    got, answer, _ = http_request("POST", server.url + "/predictions/toy", b"data=abc",
                                  {"Content-Type": "application/x-www-form-urlencoded"})
    assert got == 415 and "application/octet-stream" in answer["error"] and "curl -T" in answer["error"]
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
def test_mixed_load_of_good_and_corrupt_images_with_batching(server, toy_store):
    """8 clients send 120 requests to the model batched by 4, one in three a corrupt image (a PNG without its last
    chunk, a PNG cut in its data, a cut JPEG, text, zero bytes): every good image gets 200 with in-process
    classification's answer, every bad one its 4xx, and no worker restarts."""
    images = toy_store["images"]
    expected = _expected(toy_store["plain"], images)
    bad = list(_corrupt_images(images[0][1]).values())
    before = server.workers("toy-batched")

    def client(index):
        answers = []
        for i in range(15):
            n = index * 15 + i
            data, status = (bad[n // 3 % len(bad)] if n % 3 == 2 else (images[n % len(images)][1], 200))
            got, answer, headers = server.classify("toy-batched", data, topk=3, timeout=120)
            ok = _close(answer, expected[data]) if status == 200 else isinstance(answer, dict) and \
                answer.get("code") == status
            answers.append((got == status and ok, status, int(headers.get("X-Batch-Size", 0)), got, answer))
        return answers

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [answer for client_answers in pool.map(client, range(8)) for answer in client_answers]
    failed = [(status, got, answer) for ok, status, _, got, answer in answers if not ok]
    assert len(answers) == 120 and not failed, failed[:5]
    assert max(size for ok, status, size, _, _ in answers if status != 200) > 1, "no bad image was batched"
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
    with zipfile.ZipFile(store / "toy.mar") as source, zipfile.ZipFile(store / "toy-relabelled.mar", "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith("-meta.json"):
                meta = json.loads(data)
                data = json.dumps(dict(meta, class_names=meta["class_names"][::-1])).encode()
            out.writestr(info, data)
    with pytest.raises(mms.ServerError, match="did not load toy-relabelled.mar"):
        mms.register(server.settings, "toy-relabelled.mar", "toy-relabelled")
    assert "resnest14-meta.json does not match the sha1 recorded in serving.json" in \
        mms.refusal(server.run_dir, "toy-relabelled")
    _, listed = mms.http_json("GET", server.settings.management_url + "/models")
    assert not {"toy-tampered", "toy-relabelled"} & {model["modelName"] for model in listed["models"]}
    assert server.classify("toy", toy_store["images"][0][1])[0] == 200


def _serving_process(pids):
    """The worker processes that loaded the model: those whose parent is the worker's listening process."""
    return [pid for pid, parent in pids.items() if parent in pids]


def _wait_serving(run_dir, model, replaced, deadline):
    """The pid of the serving process of ``model`` that is none of ``replaced`` once it has loaded the model (the
    handler's log line names its pid), waiting until ``deadline`` (``time.monotonic()``)."""
    from gluon_resnest.deploy.serving import mms

    while time.monotonic() < deadline:
        fresh = [pid for pid in _serving_process(mms.worker_pids(run_dir, model)) if pid not in replaced]
        with open(mms.server_log(run_dir), encoding="utf-8", errors="replace") as handle:
            loaded = set(map(int, re.findall(r"resnest: model %s serves .*, pid (\d+)\)" % re.escape(model),
                                             handle.read())))
        if fresh and fresh[0] in loaded:
            return fresh[0]
        time.sleep(0.2)
    pytest.fail("no new worker of %s loaded the model in time" % model)


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
    deadline, killed_loading = time.monotonic() + 300, None
    while time.monotonic() < deadline and killed_loading is None:
        current = mms.worker_pids(server.run_dir, "toy")
        loading = [pid for pid in _serving_process(current) if pid not in pids]
        if loading:
            killed_loading = loading[0]
            os.kill(killed_loading, signal.SIGKILL)
        time.sleep(0.05)
    assert killed_loading, "MMS started no new worker for toy within 300 s"
    replacement = _wait_serving(server.run_dir, "toy", {victim, killed_loading}, deadline)
    workers = mms.describe(server.settings, "toy")["workers"]
    assert workers and all(w["status"] == "READY" for w in workers) and sorted(w["id"] for w in workers) != ids
    for i in range(IMAGES):
        status, answer, _ = server.classify("toy", images[i][1], topk=3)
        assert status == 200 and _close(answer, expected[images[i][1]])
    assert _serving_process(mms.worker_pids(server.run_dir, "toy")) == [replacement]


#: The response timeout of the server that test_serve_owns_only_what_it_started stops a worker of (above the
#: model's load time on a busy machine, which the same timeout bounds).
STOP_RESPONSE_TIMEOUT = 30


def _run_dir_processes(run_dir):
    """The pids of the processes whose command line names ``run_dir`` (a frontend, its workers)."""
    import psutil

    found = []
    for process in psutil.process_iter(["cmdline"]):
        if str(run_dir) in " ".join(process.info["cmdline"] or ()):
            found.append(process.pid)
    return found


def _killed(output):
    """The pids serve.py says it killed as workers left by a server that ended."""
    found = re.search(r"killed \d+ worker process\(es\) of .* \(pids ([0-9, ]+)\)", output)
    return set(map(int, found.group(1).split(", "))) if found else set()


def _wait_gone(pid, seconds=30):
    import psutil

    try:
        psutil.Process(pid).wait(seconds)
    except psutil.NoSuchProcess:
        pass


@needs_mms
def test_serve_owns_only_what_it_started(server, toy_store, tmp_path):
    """A decoy pid file (a live unrelated process) is left alive by stop and start; ports of another server are
    named as in use; a worker stopped with SIGSTOP fails its request within the response timeout and is replaced;
    the workers a SIGKILLed frontend leaves (the stopped one too) are killed by the next start, and by stop."""
    from gluon_resnest.deploy.serving import mms, processes
    from gluon_resnest.deploy.serving.client import classify

    run_dir, store = tmp_path / "own", toy_store["store"]
    run_dir.mkdir()
    pid_file = run_dir / ".model_server.pid"
    port, management = mms.free_ports(2)
    settings = mms.ServerSettings(port, management)
    good = toy_store["images"][0][1]
    want = _expected(toy_store["plain"], toy_store["images"][:1])[good]
    decoy = subprocess.Popen(["sleep", "900"])
    start = ("serve.py", "start", "--model-store", store, "--run-dir", run_dir, "--models", "toy",
             "--management-port", management, "--response-timeout", STOP_RESPONSE_TIMEOUT, "--start-timeout", 300)
    try:
        pid_file.write_text(str(decoy.pid))
        stopped = run_script("serve.py", "stop", "--run-dir", run_dir)
        assert stopped.returncode == 0, stopped.stderr
        assert "left running: pid %d is not the MMS frontend of %s (its command line is 'sleep 900')" % (
            decoy.pid, run_dir) in stopped.stdout and "no MMS started from" in stopped.stdout
        assert decoy.poll() is None and not pid_file.exists()

        _, listed = mms.http_json("GET", server.settings.management_url + "/models")
        pid_file.write_text(str(decoy.pid))
        busy = run_script(*start, "--port", server.settings.port, timeout=600)
        assert busy.returncode == 2 and busy.stderr.startswith(
            "error: --port %d is in use on 127.0.0.1" % server.settings.port), busy.stderr
        assert len(busy.stderr.strip().splitlines()) == 1
        assert decoy.poll() is None and mms.server_pid(run_dir) is None
        assert mms.http_json("GET", server.settings.management_url + "/models") == (200, listed)

        pid_file.write_text(str(decoy.pid))
        up = run_script(*start, "--port", port, timeout=600)
        assert up.returncode == 0, up.stderr[-3000:]
        assert decoy.poll() is None and mms.server_pid(run_dir) not in (None, decoy.pid)
        status, answer, _ = classify(settings.inference_url, "toy", good, 3)
        assert status == 200 and _close(answer, want)
        pids = mms.worker_pids(run_dir, "toy")
        (stuck,) = _serving_process(pids)
        os.kill(stuck, signal.SIGSTOP)
        began = time.monotonic()
        status, answer, _ = classify(settings.inference_url, "toy", good, 3, timeout=STOP_RESPONSE_TIMEOUT + 120)
        waited = time.monotonic() - began
        assert status == 500 and STOP_RESPONSE_TIMEOUT - 1 <= waited <= STOP_RESPONSE_TIMEOUT + 30, (status, waited)
        _wait_serving(run_dir, "toy", {stuck}, time.monotonic() + 180)
        status, answer, _ = classify(settings.inference_url, "toy", good, 3)
        assert status == 200 and _close(answer, want)

        for restart in (True, False):
            frontend, workers_before = mms.server_pid(run_dir), mms.worker_pids(run_dir, "toy")
            workers = set(workers_before)
            os.kill(frontend, signal.SIGKILL)
            _wait_gone(frontend)
            # the listening process and the stopped one cannot end by themselves: they stay without a frontend
            stays = {pid for pid, parent in workers_before.items() if parent not in workers_before} | (
                {stuck} if restart else set())
            assert stays <= {process.pid for process in processes.orphans(run_dir)} <= workers
            if restart:
                again = run_script(*start, "--port", port, timeout=600)
                assert again.returncode == 0, again.stderr[-3000:]
                assert stays <= _killed(again.stderr) <= workers
                assert not workers & set(_run_dir_processes(run_dir))
                assert classify(settings.inference_url, "toy", good, 3)[0] == 200
            else:
                final = run_script("serve.py", "stop", "--run-dir", run_dir)
                assert final.returncode == 0 and stays <= _killed(final.stdout) <= workers
                assert "no MMS started from %s is running" % run_dir in final.stdout
                assert _run_dir_processes(run_dir) == []
        assert decoy.poll() is None
    finally:
        mms.stop(run_dir)
        decoy.kill()
        decoy.wait()
        assert _run_dir_processes(run_dir) == []
