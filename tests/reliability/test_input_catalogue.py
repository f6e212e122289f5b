"""The input catalogue: a phone photo gets one answer on every path; damaged files are named and skipped, never
fatal or silent; a broken symlink does not stop training; a SIGKILLed loader worker ends the run within seconds,
naming it."""
import io
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import mxnet as mx
import numpy as np
import pytest
from PIL import Image, ImageOps

from gluon_resnest import get_model
from gluon_resnest.utils.publish import sha1_file
from gluon_resnest.data import open_image_dataset
from gluon_resnest.data.toy import draw_sample
from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.deploy.export import export_model
from gluon_resnest.deploy.serving.config import ServingConfig
from gluon_resnest.deploy.serving.images import BadInput
from gluon_resnest.deploy.serving.service import ClassifierService
from tests.helpers.scripts import load_script, run_script, script_path
from tools.synthetic import photo_like

CLASSES = ["a", "b", "c"]


def _jpeg(rgb, orientation=None):
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A 3-class resnest14 export at 32 px with random weights (symbol/params, MXNet), its classifier scaled so that
    the logits are far apart (about +-50)."""
    net = get_model("resnest14", classes=len(CLASSES))
    net.initialize(mx.init.Xavier(magnitude=3))
    net(mx.nd.zeros((1, 3, 32, 32)))
    net.fc.weight.set_data(net.fc.weight.data() * 2000)
    prefix = str(tmp_path_factory.mktemp("export") / "r14")
    export_model(net, prefix, 32, class_names=CLASSES)
    return prefix


@pytest.fixture(scope="module")
def phone_photo():
    """A photo stored 48 rows x 96 columns whose EXIF orientation 6 shows it 96 x 48 (a phone held upright)."""
    return _jpeg(photo_like(np.random.default_rng(11), 48, 96), orientation=6)


@pytest.fixture
def recorded(monkeypatch):
    """The logits of every ``ExportedClassifier.batch_logits`` call while the test runs."""
    seen, original = [], ExportedClassifier.batch_logits

    def recording(self, batch):
        logits = original(self, batch)
        seen.append(np.array(logits))
        return logits
    monkeypatch.setattr(ExportedClassifier, "batch_logits", recording)
    return seen


def test_a_phone_photo_gets_the_same_logits_from_training_verify_predict_and_serving(export, phone_photo, tmp_path,
                                                                                        recorded):
    folder = tmp_path / "val" / "a"
    folder.mkdir(parents=True)
    (folder / "phone.jpg").write_bytes(phone_photo)
    clf = ExportedClassifier(export)

    training_image = open_image_dataset(str(tmp_path / "val"))[0][0]  # what training and validation decode
    assert training_image.shape == (96, 48, 3)
    reference = clf.logits([training_image])[0]
    upright_by_viewer = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(phone_photo))))
    assert np.abs(training_image.astype(int) - upright_by_viewer).mean() < 1  # the viewer's rotation of the pixels
    as_stored = clf.logits([mx.image.imdecode(phone_photo)])[0]  # predict.py and serving before the one decoder
    assert np.abs(as_stored - reference).max() > 1, (as_stored, reference)

    recorded.clear()
    assert load_script("verify.py").main(["--export", export, "--data", str(tmp_path / "val"), "--workers", "0"]) == 0
    verify_logits = recorded[-1][0]

    assert load_script("predict.py").main([export, str(folder / "phone.jpg")]) == 0
    predict_logits = recorded[-1][0]

    service = ClassifierService(os.path.dirname(export), ServingConfig(os.path.basename(export),
                                                                       meta_sha1=sha1_file(export + "-meta.json")))
    served, _ = service.parse({"body": phone_photo})
    serving_logits = service.classifier.batch_logits(np.stack([served]))[0]

    for path, logits in [("verify", verify_logits), ("predict", predict_logits), ("serving", serving_logits)]:
        np.testing.assert_allclose(logits, reference, rtol=0, atol=1e-5, err_msg=path)


class _Context:
    """The part of MMS's request context that :meth:`ClassifierService.answer` uses."""

    def __init__(self, count):
        self.status, self.count = {}, count

    def set_response_content_type(self, idx, value):
        pass

    def set_response_header(self, idx, key, value):
        pass

    def get_all_request_header(self, idx):
        return {}

    def set_response_status(self, code, phrase, idx):
        self.status[idx] = code


def test_serving_refuses_damaged_images_itself_and_answers_the_rest_of_the_batch(export, phone_photo):
    good = _jpeg(photo_like(np.random.default_rng(12), 64, 80))
    png = io.BytesIO()
    Image.fromarray(photo_like(np.random.default_rng(13), 40, 40)).save(png, "PNG")
    damaged_scan = bytearray(good)
    start = good.index(b"\xff\xda") + 20
    damaged_scan[start:start + 200] = np.random.default_rng(14).integers(0, 256, 200).astype(np.uint8).tobytes()
    bad = {"png without its last chunk": png.getvalue()[:-12], "jpeg cut in half": good[:len(good) // 2],
           "jpeg with 200 scan bytes replaced": bytes(damaged_scan)}
    service = ClassifierService(os.path.dirname(export), ServingConfig(os.path.basename(export),
                                                                       meta_sha1=sha1_file(export + "-meta.json")))
    for kind, data in bad.items():
        with pytest.raises(BadInput, match="data is truncated or corrupt") as info:
            service.parse({"body": data})
        assert info.value.status == 400, kind
    requests = [{"body": good}, {"body": bad["png without its last chunk"]}, {"body": phone_photo}]
    context = _Context(len(requests))
    answers = service.answer(requests, context)
    assert context.status == {1: 400} and "PNG data is truncated or corrupt" in answers[1]
    assert list(json.loads(answers[0])) and list(json.loads(answers[2]))


def test_predict_answers_the_readable_files_and_names_each_unreadable_one(export, phone_photo, tmp_path):
    (tmp_path / "good.jpg").write_bytes(phone_photo)
    png = io.BytesIO()
    Image.fromarray(photo_like(np.random.default_rng(15), 40, 40)).save(png, "PNG")
    (tmp_path / "bad.png").write_bytes(png.getvalue()[:-12])
    result = run_script("predict.py", export, tmp_path / "good.jpg", tmp_path / "bad.png", tmp_path / "none.jpg",
                        timeout=300)
    assert result.returncode == 2, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()[2:]] == [str(tmp_path / "good.jpg")]
    assert [line for line in result.stderr.splitlines() if "error" in line] == [
        "error: cannot read image %s: PNG data is truncated or corrupt (it ends without its IEND chunk)"
        % (tmp_path / "bad.png"), "error: cannot read image %s: No such file or directory" % (tmp_path / "none.jpg")]


def _class_folders(root, count=32, size=40):
    rng = np.random.default_rng(16)
    for i in range(count):
        label = i % 2
        folder = os.path.join(root, "train", "class%d" % label)
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, "%02d.jpg" % i), draw_sample(label, rng, size)[:, :, ::-1])


def test_dangling_symlink_and_symlink_loop_are_skipped_with_a_warning_naming_them(tmp_path):
    _class_folders(str(tmp_path / "data"))
    folder = tmp_path / "data" / "train" / "class1"
    os.symlink(str(tmp_path / "moved-away.jpg"), str(folder / "dangling.jpg"))
    os.symlink("loop.jpg", str(folder / "loop.jpg"))
    result = run_script("train.py", "--data-dir", tmp_path / "data", "--model", "resnest14", "--epochs", "1",
                        "--batch-size", "17", "--input-size", "32", "--workers", "0", "--no-export",
                        "--save-dir", tmp_path / "run", timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    for name, reason in (("dangling.jpg", "No such file or directory"), ("loop.jpg", "Too many levels of symbolic")):
        assert "skipping unreadable sample %s (sample" % (folder / name) in result.stdout + result.stderr
        assert reason in result.stdout + result.stderr
    metrics = [json.loads(line) for line in open(str(tmp_path / "run" / "metrics.jsonl"))]
    assert metrics[-1]["skipped"] == 2


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    if int(handle.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _training_with_two_workers(tmp_path, **streams):
    """A train.py process on 64 small images with 2 loader workers, once its second batch is logged, and the
    pids of its workers."""
    _class_folders(str(tmp_path / "data"), count=64, size=48)
    args = [sys.executable, script_path("train.py"), "--data-dir", str(tmp_path / "data"), "--model", "resnest14",
            "--epochs", "50", "--batch-size", "8", "--input-size", "32", "--workers", "2", "--no-export",
            "--log-interval", "1", "--save-dir", str(tmp_path / "run")]
    proc = subprocess.Popen(args, **streams)
    deadline = time.monotonic() + 300
    log = tmp_path / "run" / "train.log"
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and "epoch 1 [2/" in log.read_text():
            break
        time.sleep(0.2)
    workers = [pid for pid in _children(proc.pid) if _cmdline(pid) == _cmdline(proc.pid)]  # forked: same line
    if proc.poll() is not None or len(workers) != 2:
        proc.kill()
        proc.communicate(timeout=60)
        pytest.fail("train.py did not reach its second batch with 2 workers: %s, %s"
                    % (workers, log.read_text() if log.exists() else ""))
    return proc, workers


def test_sigkill_of_a_loader_worker_ends_train_py_within_60_s_naming_it(tmp_path):
    proc, workers = _training_with_two_workers(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        os.kill(workers[0], signal.SIGKILL)
        killed = time.monotonic()
        out, err = proc.communicate(timeout=120)
        ended = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=60)
    assert ended < 60 and proc.returncode == 2, (ended, err[-2000:])
    assert err.strip().splitlines()[-1].startswith(
        "error: data-loader worker process %d (one of 2) was killed by SIGKILL (what the out-of-memory killer "
        "sends) while batch " % workers[0]), err[-2000:]
    assert not [pid for pid in workers if os.path.exists("/proc/%d" % pid)
                and open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"]


def test_sigkill_of_train_py_leaves_no_loader_worker_behind(tmp_path):
    """The loader's workers die with the training process (what a SIGKILL of the job or the OOM killer choosing
    the parent does): none is left holding the data, the shared memory or the console's pipes."""
    proc, workers = _training_with_two_workers(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.kill()
        proc.wait(timeout=60)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_cmdline(pid) for pid in workers):
            time.sleep(0.1)
        assert not [pid for pid in workers if _cmdline(pid)], workers
    finally:
        if proc.poll() is None:
            proc.kill()
