"""Every numeric training option declares its range once; values outside it, choices outside the declared ones and
impossible combinations are refused naming the option (the scripts' side of it is in
tests/reliability/test_training_inputs.py); the save directory's lock is taken once per run."""
import dataclasses
import os

import pytest

from gluon_resnest.train import loop
from gluon_resnest.train.config import GROUPS, TrainConfig
from gluon_resnest.train.options import Range, declared, option
from gluon_resnest.train.records import TrainingResult
from gluon_resnest.utils import runlock
from gluon_resnest.utils.errors import OptionError
from gluon_resnest.utils.options import check_settings

from tests.helpers.scripts import load_script
from tests.helpers.training import tiny_cfg


def _numeric(field):
    return isinstance(field.default, (int, float)) and not isinstance(field.default, bool)


def _outside(field, bounds):
    """Values just outside ``bounds`` on each bounded side (of the option's type)."""
    step = 1 if isinstance(field.default, int) else 0.5
    values = []
    if bounds.low is not None:
        values.append(bounds.low if bounds.low_open else bounds.low - step)
    if bounds.high is not None:
        values.append(bounds.high if bounds.high_open else bounds.high + step)
    return [type(field.default)(v) for v in values if v not in bounds.also]


def test_every_numeric_training_option_declares_a_bounded_range():
    numeric = [(field, opt) for _, field, opt in declared(GROUPS) if _numeric(field)]
    assert len(numeric) == 26
    assert [field.name for field, opt in numeric if opt.bounds is None] == []
    for field, opt in numeric:
        assert field.default in opt.bounds, field.name
        assert _outside(field, opt.bounds), field.name  # bounded on at least one side
    with pytest.raises(ValueError, match="numeric training option needs its bounds"):
        option(0.5, "a rate without a range")


def test_values_outside_each_range_are_refused_naming_the_option(tmp_path):
    base = tiny_cfg(str(tmp_path / "save"), 2, warmup_epochs=0)
    tried = 0
    for _, field, opt in declared(GROUPS):
        if not _numeric(field):
            continue
        for value in _outside(field, opt.bounds) + [float("nan")] * isinstance(field.default, float):
            with pytest.raises(OptionError) as refused:
                base.replace(**{field.name: value}).resolved()
            assert refused.value.options[0] == field.name, (field.name, value, str(refused.value))
            tried += 1
    assert tried > 26 and not os.path.exists(tmp_path / "save")


def test_range_text_and_membership():
    size = Range(32, 1024, also=(0,))
    assert size.text() == "0 or in [32, 1024]" and 0 in size and 31 not in size and 1025 not in size
    assert Range(0, 1, high_open=True).text() == "in [0, 1)" and 1.0 not in Range(0, 1, high_open=True)
    assert Range(0, low_open=True).text() == "> 0" and 0.0 not in Range(0, low_open=True)
    assert Range(high=1, high_open=True).text() == "< 1" and -5.0 in Range(high=1, high_open=True)
    assert float("inf") not in Range(0) and float("nan") not in Range() and True not in Range(0)


def test_choices_are_checked_from_the_declaration():
    cfg = TrainConfig.from_flat(toy=True)
    for option_name, value in (("optimizer", "adam"), ("dtype", "bfloat8"), ("model", "resnet50")):
        with pytest.raises(OptionError, match="%s must be one of .*got %r" % (option_name, value)):
            check_settings(dataclasses.replace(getattr(cfg, "optim" if option_name == "optimizer" else "net"),
                                               **{option_name: value}))
        with pytest.raises(OptionError, match=option_name):
            cfg.replace(**{option_name: value}).resolved()


def test_warmup_longer_than_the_run_is_refused(tmp_path):
    with pytest.raises(OptionError, match="warmup_epochs 5 is more than epochs 3"):
        tiny_cfg(str(tmp_path / "s"), 3, warmup_epochs=5).resolved()
    tiny_cfg(str(tmp_path / "s"), 3, warmup_epochs=3).resolved()


def test_the_save_dir_lock_is_taken_once_per_run(tmp_path, monkeypatch):
    entered = []
    real_enter = runlock.RunLock.__enter__

    def counting_enter(lock):
        entered.append(lock.path)
        return real_enter(lock)

    class Finished:
        def __init__(self, cfg, dist=None):
            assert os.path.isfile(os.path.join(cfg.run.save_dir, runlock.LOCK_NAME))

        def run(self):
            loop.logger.info("a line of the run")
            return TrainingResult((), None)

    monkeypatch.setattr(runlock.RunLock, "__enter__", counting_enter)
    monkeypatch.setattr(loop, "TrainingRun", Finished)
    save = tmp_path / "save"
    script = load_script("train.py")
    assert script.run_main(script.main, ["--toy", "--save-dir", str(save)]) == 0
    assert entered == [str(save / runlock.LOCK_NAME)]
    assert "a line of the run" in (save / "train.log").read_text()
