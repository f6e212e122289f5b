"""The typed records of a training run: the epoch record and the checkpoint state map to and from their JSON
exactly, a checkpoint state of format version 1 (no version field, no manifest) still loads, and other versions or
damaged fields are refused naming the file."""
import json

import pytest

from gluon_resnest.train.records import (CHECKPOINT_VERSION, CheckpointState, DataFacts, EpochRecord,
                                         TrainingResult)
from gluon_resnest.utils.errors import OptionError

from tests.helpers.training import VERSION_1_KEYS

RECORD = {"epoch": 2, "train_loss": 1.25, "train_top1": 50.0, "images": 96, "lr": 0.01, "seconds": 3.5,
          "img_per_s": 27.4, "skipped": 1, "val_top1": 60.0, "val_top5": 95.0, "val_skipped": 0}
UNVALIDATED = dict(RECORD, epoch=0, val_top1=None, val_top5=None, val_skipped=None)


def _version_1_state():
    """A checkpoint state as the format without a version field writes it."""
    return {"best_top1": -1.0, "class_names": None, "config": {"optim": {"lr": 0.02}}, "epoch": 0,
            "history": [UNVALIDATED], "num_update": 6, "optimizer": {"states": {}, "num_update": 6,
                                                                      "index_update_count": {}},
            "world_size": 1, "data": {"train_images": 96, "steps_per_epoch": 6, "fingerprint": "0123abcd"}}


def test_epoch_record_maps_its_eleven_fields_both_ways():
    record = EpochRecord.from_dict(RECORD, "metrics.jsonl line 3")
    assert record.as_dict() == RECORD and len(RECORD) == 11
    assert json.loads(json.dumps(record.as_dict())) == RECORD
    assert record.validated and not EpochRecord.from_dict(UNVALIDATED).validated
    assert record.summary() == ("epoch 3: train loss 1.2500 top-1 50.00%, val top-1 60.00% top-5 95.00%, 27.4 img/s"
                                ", 1 unreadable samples skipped (train 1, val 0)")
    with pytest.raises(ValueError, match="metrics.jsonl line 3: no lr; unknown field.s. learning_rate"):
        EpochRecord.from_dict({("learning_rate" if k == "lr" else k): v for k, v in RECORD.items()},
                              "metrics.jsonl line 3")
    with pytest.raises(ValueError, match="field 'images' must be an integer, got 9.5"):
        EpochRecord.from_dict(dict(RECORD, images=9.5))


def test_checkpoint_state_round_trip_carries_version_and_manifest():
    state = CheckpointState(epoch=1, history=(EpochRecord(**RECORD),), best_top1=60.0, num_update=12,
                            config={"optim": {"lr": 0.02}}, world_size=2, class_names=("a", "b"),
                            data=DataFacts(96, 3, "0123abcd"), optimizer={"num_update": 12},
                            files={"ckpt-0001.params": "1" * 40, "ckpt-0001.states": "2" * 40})
    written = json.loads(json.dumps(state.as_dict()))
    assert written["version"] == CHECKPOINT_VERSION == 2 and written["files"] == dict(state.files)
    assert CheckpointState.from_dict(written, "ckpt-0001.json") == state


def test_version_1_state_loads_without_a_manifest():
    old = _version_1_state()
    assert tuple(sorted(old)) == VERSION_1_KEYS
    state = CheckpointState.from_dict(old, "ckpt-0000.json")
    assert state.version == 1 and state.files == {} and state.best_top1 is None
    assert state.history == (EpochRecord(**UNVALIDATED),) and state.data == DataFacts(96, 6, "0123abcd")
    assert state.epochs_done == 1 and state.world_size == 1 and state.num_update == 6
    without_data = {k: v for k, v in old.items() if k not in ("data", "world_size", "class_names")}
    assert CheckpointState.from_dict(without_data).data is None


def test_other_versions_and_damaged_states_are_refused_naming_the_file():
    with pytest.raises(OptionError, match="ckpt-0000.json has format version 3; this gluon_resnest reads versions "
                                          "1, 2") as refused:
        CheckpointState.from_dict(dict(_version_1_state(), version=3), "ckpt-0000.json")
    assert "--save-dir" in refused.value.for_cli()
    with pytest.raises(OptionError, match=r"ckpt-0000.json is damaged \(no files\)"):
        CheckpointState.from_dict(dict(_version_1_state(), version=2), "ckpt-0000.json")
    with pytest.raises(OptionError, match="lacks its epoch or optimizer"):
        CheckpointState.from_dict({k: v for k, v in _version_1_state().items() if k != "optimizer"}, "x.json")
    with pytest.raises(ValueError, match=r"ckpt-0000.json, history item 0: no epoch"):
        CheckpointState.from_dict(dict(_version_1_state(), history=[{k: v for k, v in UNVALIDATED.items()
                                                                     if k != "epoch"}]), "ckpt-0000.json")
    with pytest.raises(ValueError, match=r"ckpt-0000.json, field 'data': field 'train_images' must be an integer"):
        CheckpointState.from_dict(dict(_version_1_state(), data={"train_images": "96", "steps_per_epoch": 6}),
                                  "ckpt-0000.json")


def test_training_result_summary():
    validated = TrainingResult((EpochRecord(**UNVALIDATED), EpochRecord(**RECORD)), 60.0)
    assert validated.summary() == "final: train loss 1.2500, val top-1 60.00% (best 60.00%)"
    assert TrainingResult((EpochRecord(**UNVALIDATED),), None).summary() == "final: train loss 1.2500, val top-1 n/a"
