"""Honest resume: changed schedules applied from the resumed step, unhonourable changes refused, no code run from
checkpoint files, checkpoint paths confined to the save directory, and old checkpoints pruned."""
import json
import os
import pickle
import re
import shutil

import pytest

from gluon_resnest.train import train
from gluon_resnest.train.schedule import cosine_schedule
from gluon_resnest.utils.errors import OptionError

from tests.helpers.training import as_version_1, tiny_cfg

FAST = dict(auto_augment=False, mixup_alpha=0.0, dropblock_prob=0.0, eval_every=0)


def _metrics(save_dir):
    return [json.loads(line) for line in open(os.path.join(save_dir, "metrics.jsonl"))]


@pytest.fixture(scope="module")
def two_epochs(small_toy):
    """A finished 2-epoch run (6 steps per epoch) whose directory each test copies."""
    save = str(small_toy / "base")
    train(tiny_cfg(save, 2, **FAST))
    return save


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_changed_epochs_and_lr_follow_the_rebuilt_schedule(two_epochs, small_toy, caplog):
    save = _copy(two_epochs, str(small_toy / "longer"))
    old = _metrics(save)
    assert old[-1]["lr"] < 1e-3
    with caplog.at_level("INFO", logger="gluon_resnest.train"):
        state = train(tiny_cfg(save, 4, lr=0.04, resume=True, **FAST))
    history = _metrics(save)
    assert [r["epoch"] for r in history] == [0, 1, 2, 3] and history[:2] == old
    schedule = cosine_schedule(0.04, 6, 4, warmup_epochs=1)
    for record in history[2:]:
        assert record["lr"] == pytest.approx(schedule(6 * (record["epoch"] + 1)))
    assert history[2]["lr"] > 0.01
    assert "--epochs changed from 2 to 4" in caplog.text and "--lr changed from 0.02 to 0.04" in caplog.text
    assert "schedule rebuilt" in caplog.text
    saved = json.load(open(os.path.join(save, "ckpt-0003.json")))
    assert saved["config"]["optim"]["epochs"] == 4 and saved["optimizer"]["num_update"] == 24
    assert state.history[-1].epoch == 3


@pytest.mark.parametrize("option,value,old", [("batch_size", 8, 16), ("model", "resnest26", "resnest14")])
def test_unhonourable_change_is_refused_naming_option_and_values(two_epochs, small_toy, option, value, old):
    save = _copy(two_epochs, str(small_toy / ("refuse-" + option)))
    flag = "--" + option.replace("_", "-")
    with pytest.raises(OptionError, match="%s %r.*%s %r" % (option, value, option, old)) as refused:
        train(tiny_cfg(save, 4, resume=True, **dict(FAST, **{option: value})))
    assert re.search("%s %r.*%s %r" % (flag, value, flag, old), refused.value.for_cli())


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch %s" % os.environ["PWNED_MARKER"],))


def test_crafted_states_file_cannot_run_code(two_epochs, small_toy, monkeypatch):
    """Refused by the manifest; without one (a version-1 checkpoint) the array reader unpickles nothing."""
    marker = str(small_toy / "pwned")
    monkeypatch.setenv("PWNED_MARKER", marker)
    for name, old_format, message in (("crafted", False, "ckpt-0001.states is not the one"),
                                      ("crafted_v1", True, "ckpt-0001.states are not an MXNet array file")):
        save = _copy(two_epochs, str(small_toy / name))
        if old_format:
            as_version_1(save)
        with open(os.path.join(save, "ckpt-0001.states"), "wb") as handle:
            pickle.dump(_RunsCode(), handle)
        with pytest.raises(ValueError, match=message):
            train(tiny_cfg(save, 3, resume=True, **FAST))
        assert not os.path.exists(marker)


def test_a_checkpoint_mixed_from_two_epochs_is_refused_naming_the_file(two_epochs, small_toy):
    save = _copy(two_epochs, str(small_toy / "mixed"))
    shutil.copy(os.path.join(save, "ckpt-0000.params"), os.path.join(save, "ckpt-0001.params"))
    with pytest.raises(OptionError, match=r"checkpoint file .*ckpt-0001\.params is not the one .*ckpt-0001\.json "
                                          r"was saved with") as refused:
        train(tiny_cfg(save, 3, resume=True, **FAST))
    assert "--save-dir" in refused.value.for_cli()
    manifest = json.load(open(os.path.join(save, "ckpt-0001.json")))["files"]
    assert sorted(manifest) == ["ckpt-0001.params", "ckpt-0001.states"]
    assert json.load(open(os.path.join(save, "latest.json")))["stem"] == "ckpt-0001"  # nothing was written


def test_bad_or_escaping_latest_json_is_named(two_epochs, small_toy):
    save = _copy(two_epochs, str(small_toy / "pointer"))
    pointer = os.path.join(save, "latest.json")
    with open(pointer, "w") as handle:
        handle.write("{garbage")
    with pytest.raises(ValueError, match="latest.json is not valid JSON"):
        train(tiny_cfg(save, 3, resume=True, **FAST))
    with open(pointer, "w") as handle:
        json.dump({"epoch": 1, "stem": "../base/ckpt-0001"}, handle)
    with pytest.raises(ValueError, match="confined to the save directory"):
        train(tiny_cfg(save, 3, resume=True, **FAST))


def test_resume_without_checkpoint_needs_an_explicit_flag(small_toy, caplog):
    save = str(small_toy / "nothing")
    with pytest.raises(ValueError, match="no checkpoint in .*allow_fresh_start"):
        train(tiny_cfg(save, 1, resume=True, **FAST))
    with caplog.at_level("INFO", logger="gluon_resnest.train"):
        state = train(tiny_cfg(save, 1, resume=True, allow_fresh_start=True, **FAST))
    assert "starting from scratch" in caplog.text and len(state.history) == 1


def test_only_the_newest_checkpoints_are_kept(small_toy):
    save = str(small_toy / "keep")
    train(tiny_cfg(save, 3, keep_checkpoints=2, **dict(FAST, eval_every=1)))
    files = sorted(f for f in os.listdir(save) if f.startswith("ckpt-"))
    assert files == ["ckpt-%04d.%s" % (e, s) for e in (1, 2) for s in ("json", "params", "states")]
    assert os.path.isfile(os.path.join(save, "best.params"))
