"""A step of rank 0 (:meth:`Distributed.on_root`) gives every rank its value or raises the same error on every rank,
the exception object itself travelling; shown here with two ranks in one process whose collective is a hand-off
(tests/reliability/test_training_inputs.py runs it under horovodrun)."""
import pickle

import pytest

from gluon_resnest.train.distributed import Distributed, RootStepError
from gluon_resnest.utils.errors import OptionError
from gluon_resnest.utils.runlock import FolderBusyError


def _two_ranks():
    """``(rank 0, rank 1)`` of a 2-rank world whose byte gather hands rank 0's payload to rank 1 (rank 0 calls
    first)."""
    ranks = [Distributed(use_horovod=False), Distributed(use_horovod=False)]
    sent = []
    for rank, dist in enumerate(ranks):
        dist.hvd, dist.size, dist.rank = object(), 2, rank  # no collective is reached
    ranks[0]._gather_bytes = lambda payload, name: sent.append((name, payload)) or [payload, b""]
    ranks[1]._gather_bytes = lambda payload, name: [sent.pop()[1], payload]
    return ranks


def _both(step, name="step"):
    """What each of the two ranks gets from ``on_root(step)``: ``("value", v)`` or ``("error", exception)``."""
    calls, outcomes = [], []
    for dist in _two_ranks():
        try:
            outcomes.append(("value", dist.on_root(lambda: calls.append(dist.rank) or step(), name)))
        except Exception as err:  # compared below
            outcomes.append(("error", err))
    assert calls == [0]  # the step runs on rank 0 only
    return outcomes


def _raise(err):
    raise err


def test_every_rank_gets_the_value_of_rank_0():
    assert _both(lambda: {"stem": "ckpt-0001", "arrays": [1.5, None]}) == [("value", {"stem": "ckpt-0001",
                                                                                      "arrays": [1.5, None]})] * 2


@pytest.mark.parametrize("error", [OptionError("{epochs} 1 is below the 2 epochs"), FileNotFoundError(2, "gone"),
                                   FolderBusyError("runs/x is in use by another training run")])
def test_every_rank_raises_the_error_of_rank_0(error):
    (kind0, err0), (kind1, err1) = _both(lambda: _raise(error))
    assert kind0 == kind1 == "error" and err0 is error
    assert type(err1) is type(error) and str(err1) == str(error) and err1.args == error.args
    if isinstance(error, OptionError):
        assert err1.for_cli() == "--epochs 1 is below the 2 epochs"


class _NeedsTwoArguments(Exception):
    def __init__(self, code, detail):
        super().__init__("code %d: %s" % (code, detail))


def test_an_error_that_cannot_travel_is_named_on_every_rank():
    with pytest.raises(TypeError):
        pickle.loads(pickle.dumps(_NeedsTwoArguments(3, "x")))
    outcomes = _both(lambda: _raise(_NeedsTwoArguments(3, "x")))
    assert [type(err) for _, err in outcomes] == [RootStepError] * 2
    assert [str(err) for _, err in outcomes] == ["rank 0: _NeedsTwoArguments: code 3: x"] * 2
    assert isinstance(outcomes[0][1].__cause__, _NeedsTwoArguments)
    unpicklable = _both(lambda: (lambda: None))
    assert [type(err) for _, err in unpicklable] == [RootStepError] * 2
    assert "its result cannot be sent to the other ranks" in str(unpicklable[1][1])


def test_a_single_process_runs_the_step_itself():
    dist = Distributed(use_horovod=False)
    assert dist.on_root(lambda: 7, "x") == 7
    with pytest.raises(OptionError):
        dist.on_root(lambda: _raise(OptionError("{lr} bad")), "x")
    assert dist.gather_objects({"a": 1}, "x") == [{"a": 1}]
    dist.check_same({"a": 1}, "training data")


def test_broadcast_object_takes_part_in_the_collective_on_every_rank():
    root, other = _two_ranks()
    blob = {"rank": 0, "blob": bytes(range(256)) * 64}
    assert root.broadcast_object(blob, "check") is blob
    assert other.broadcast_object({"rank": 1}, "check") == blob
