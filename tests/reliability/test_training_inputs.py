"""Training inputs that must be refused, named, before they do harm: option values outside their ranges, a save
directory that is a file, RecordIO labels that are not class indices or lie far beyond the others, a divergence
before the first checkpoint (which must not point at a checkpoint that does not exist), and ranks that read
different data (which must stop, not wait for each other forever)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gluon_resnest.data.datasets import RecordImageDataset, write_recordio
from gluon_resnest.data.toy import ensure_toy_dataset, generate
from gluon_resnest.train import loop, train
from gluon_resnest.train.finite import NonFiniteError
from gluon_resnest.utils.errors import OptionError
from tests.helpers.scripts import ROOT, load_script
from tests.helpers.training import tiny_cfg

VENV_BIN = os.path.dirname(sys.executable)
FAST_TRAIN = dict(auto_augment=False, mixup_alpha=0.0, dropblock_prob=0.0, eval_every=0, warmup_epochs=0)


# ----------------------------------------------------------------------------------------- option ranges

class _NoTraining:
    """Stands in for :class:`TrainingRun`: a script that gets this far would have started training."""

    def __init__(self, cfg, dist=None):
        raise AssertionError("training started with %s" % (cfg.flat(),))


SCRIPT_CASES = [
    (["--wd", "-1"], "--wd must be in [0, 1), got -1.0"),
    (["--momentum", "5"], "--momentum must be in [0, 1), got 5.0"),
    (["--jitter", "-1"], "--jitter must be in [0, 1]"),
    (["--lighting", "-5"], "--lighting must be in [0, 1], got -5.0"),
    (["--final-drop", "1.0"], "--final-drop must be < 1"),
    (["--warmup-epochs", "-3"], "--warmup-epochs must be >= 0, got -3"),
    (["--input-size", "100000"], "--input-size must be 0 or in [32, 1024]"),
    (["--epochs", "2", "--warmup-epochs", "3"], "--warmup-epochs 3 is more than --epochs 2"),
]


@pytest.mark.parametrize("argv,message", SCRIPT_CASES, ids=[case[0][-2] for case in SCRIPT_CASES])
def test_script_refuses_out_of_range_values_before_writing_anything(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop, "TrainingRun", _NoTraining)
    save = tmp_path / "save"
    script = load_script("train.py")
    code = script.run_main(script.main, ["--toy", "--model", "resnest14", "--save-dir", str(save)] + argv)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not os.path.exists(save)  # no train.log, no lock, no toy data


def test_save_dir_that_is_a_file_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(loop, "TrainingRun", _NoTraining)
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    script = load_script("train.py")
    for save, where in ((taken, "is a file"), (taken / "run", "lies under %s, which is a file" % taken)):
        code = script.run_main(script.main, ["--toy", "--save-dir", str(save)])
        err = capsys.readouterr().err
        assert code == 2 and "error: --save-dir %s %s, not a folder" % (save, where) in err, err
    assert taken.read_text() == "not a folder"


# ------------------------------------------------------------------------------------------ divergence

def test_divergence_before_the_first_checkpoint_says_there_is_none(tmp_path):
    save = str(tmp_path / "fresh")
    ensure_toy_dataset(str(tmp_path / "toy"), train_count=32, val_count=8, size=32)
    with pytest.raises(NonFiniteError, match=r"epoch 1, step \d of 2; nothing of this run was saved: it has no "
                                             r"checkpoint yet\. .* and restart") as diverged:
        train(tiny_cfg(save, 2, lr=1e30, **FAST_TRAIN))
    assert "last good one" not in str(diverged.value)
    assert not any(name.startswith(("ckpt-", "latest", "best")) for name in os.listdir(save))


# ----------------------------------------------------------------------------------------------- labels

def _labelled_rec(folder, name, labels):
    """A RecordIO file of ``len(labels)`` 32 px toy images carrying ``labels``; its path."""
    prefix = os.path.join(str(folder), name)
    images = [image for image, _ in generate(len(labels), 0, 32)]
    write_recordio(prefix, zip(images, labels))
    return prefix + ".rec"


def test_non_integer_labels_are_refused_naming_the_record(tmp_path):
    rec = _labelled_rec(tmp_path, "halves", [i % 4 + 0.5 for i in range(16)])
    for classes in (0, 10):
        cfg = tiny_cfg(str(tmp_path / ("s%d" % classes)), 1, toy=False, rec_train=rec, classes=classes,
                       batch_size=4, **FAST_TRAIN)
        with pytest.raises(ValueError, match=r"halves\.rec record 0: label 0\.5 is not a class index \(a whole "
                                             r"number >= 0\); labels are never rounded"):
            train(cfg)


def test_stray_label_far_beyond_the_others_is_refused_naming_the_record(tmp_path):
    labels = [i % 10 for i in range(20)]
    labels[7] = 1000000
    rec = _labelled_rec(tmp_path, "stray", labels)
    cfg = tiny_cfg(str(tmp_path / "s"), 1, toy=False, rec_train=rec, batch_size=4, **FAST_TRAIN)
    with pytest.raises(OptionError, match=r"stray\.rec record 7: label 1000000 would make a 1000001-class "
                                          r"classifier, but the records hold only 11 distinct labels \(the largest "
                                          r"other one is 9\)") as refused:
        train(cfg)
    assert "fix the label or give --classes" in refused.value.for_cli()
    with pytest.raises(OptionError, match=r"stray\.rec record 7: label 1000000 is outside the classes 10 classes"):
        train(cfg.replace(classes=10))


def test_labels_come_from_headers_and_sparse_but_plausible_labels_pass(tmp_path):
    subset = _labelled_rec(tmp_path, "subset", [0, 999, 500, 3])  # an ImageNet subset keeps its labels
    assert RecordImageDataset(subset).labels(classes=0) == [0, 999, 500, 3]
    dataset = RecordImageDataset(_labelled_rec(tmp_path, "ten", [i % 10 for i in range(10)]))
    with open(dataset.path, "r+b") as handle:  # garble the image bytes of record 2, keeping its header
        handle.seek(dataset.offsets[2] + 8 + 24 + 10)
        handle.write(b"\0" * 64)
    assert dataset.labels(classes=10) == list(range(10))
    wider = _labelled_rec(tmp_path, "wider", [0, 1, 1001])  # 1002 classes implied by 3 labels
    with pytest.raises(OptionError, match=r"record 2: label 1001 would make a 1002-class classifier"):
        RecordImageDataset(wider).labels(classes=0)
    assert RecordImageDataset(wider).labels() == [0, 1, 1001]  # no class check asked for


# -------------------------------------------------------------------------------- ranks with other data

def _run_bounded(cmd, timeout, **kwargs):
    """``subprocess.run`` in a new session whose whole process group is killed at ``timeout``; ``(result or None,
    seconds)``."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, time.monotonic() - start, out + err
    return proc.returncode, time.monotonic() - start, out + err


@pytest.mark.skipif(shutil.which("horovodrun", path=VENV_BIN) is None, reason="horovod not installed")
def test_ranks_reading_different_data_stop_naming_the_difference(tmp_path):
    """Also: a step of rank 0 gives every rank its value, or the same error (type and template)."""
    recs = []
    for count in (96, 64):
        train_rec, _ = ensure_toy_dataset(str(tmp_path / ("toy%d" % count)), train_count=count, val_count=8, size=32)
        recs.append(train_rec)
    out = tmp_path / "out"
    out.mkdir()
    cmd = [os.path.join(VENV_BIN, "horovodrun"), "--gloo", "-np", "2", "-H", "localhost:2", sys.executable, "-m",
           "tests.helpers.rank_checks", str(out), str(tmp_path / "save")] + recs
    code, seconds, output = _run_bounded(cmd, timeout=240, cwd=ROOT)
    assert code == 0, "horovodrun %s after %.0f s: %s" % ("hung" if code is None else "failed", seconds,
                                                          output[-3000:])
    ranks = [json.load(open(out / ("rank%d.json" % rank))) for rank in (0, 1)]
    for rank in ranks:
        assert rank["value"] == {"rank": 0, "payload": [0, 1, 2, 3, 4]}
        assert rank["option_error"] == {"type": "OptionError", "template": "{lr} must be > 0, got -1.0",
                                        "text": "lr must be > 0, got -1.0"}
        assert rank["unpicklable"]["type"] == "RootStepError"
        assert rank["unpicklable"]["text"] == "rank 0: _Unpicklable: code 3: no"
        assert rank["train"]["type"] == "ValueError"
        assert rank["seconds"] < 60, rank
    message = ranks[0]["train"]["text"]
    assert message == ranks[1]["train"]["text"]
    assert message.startswith("the ranks' training data differ, so their steps would not match: rank 0: 96 images "
                              "(3 steps per epoch, fingerprint "), message
    assert "rank 1: 64 images (2 steps per epoch, fingerprint " in message
    assert not any(name.startswith("ckpt-") for name in os.listdir(tmp_path / "save"))
