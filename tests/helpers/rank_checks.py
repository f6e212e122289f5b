"""Run under ``horovodrun -np 2``: what every rank gets from a step of rank 0, and how training stops when the ranks'
data differ.

Usage: ``python -m tests.helpers.rank_checks OUT_DIR SAVE_DIR REC_RANK0 REC_RANK1``. Each rank writes
``OUT_DIR/rank{r}.json``: the value and the error (type, template, text) :meth:`Distributed.on_root` gave it, and
the error ``train`` raised on the rank's own training RecordIO file, with the seconds from this process's start to
that error.
"""
import json
import os
import sys
import time

START = time.time()

import gluon_resnest  # noqa: E402,F401  (first: sizes MXNet's threads)
from gluon_resnest.train import Distributed, TrainConfig, train  # noqa: E402
from gluon_resnest.utils.errors import OptionError  # noqa: E402


class _Unpicklable(Exception):
    def __init__(self, code, detail):
        super().__init__("code %d: %s" % (code, detail))


def _fail(err):
    raise err


def _error(step):
    try:
        step()
    except Exception as err:  # recorded for the test
        return {"type": type(err).__name__, "template": getattr(err, "template", None), "text": str(err)}
    return None


def main(out_dir, save_dir, *recs):
    dist = Distributed(use_horovod=True)
    record = {
        "value": dist.on_root(lambda: {"rank": dist.rank, "payload": list(range(5))}, "check.value"),
        "option_error": _error(lambda: dist.on_root(lambda: _fail(OptionError("{lr} must be > 0, got -1.0")),
                                                    "check.option")),
        "unpicklable": _error(lambda: dist.on_root(lambda: _fail(_Unpicklable(3, "no")), "check.unpicklable")),
    }
    cfg = TrainConfig.from_flat(model="resnest14", rec_train=recs[dist.rank], save_dir=save_dir, epochs=1,
                                batch_size=16, input_size=32, workers=0, log_interval=0, export=False)
    record["train"] = _error(lambda: train(cfg, dist))
    record["seconds"] = time.time() - START
    with open(os.path.join(out_dir, "rank%d.json" % dist.rank), "w") as handle:
        json.dump(record, handle)


if __name__ == "__main__":
    main(*sys.argv[1:])
