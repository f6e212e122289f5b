"""Run under ``horovodrun -H localhost:1,127.0.0.1:1`` (two simulated hosts, local rank 0 on both, one shared
filesystem): one epoch of resnest14 on the toy set from "pretrained" weights, so both hosts prepare the toy set and
fetch the weights into the same folders.

Usage: ``python -m tests.helpers.two_host_training SAVE_DIR TOY_DIR SHA1 TRACE_DIR``; ``SHA1`` becomes resnest14's
published sha1 in this process (the weights come from ``$MXNET_GLUON_REPO`` into ``$MXNET_HOME``). Each rank writes
``TRACE_DIR/rank{r}.json``: ``{"toy": [start, end], "weights": [start, end]}``, the wall-clock interval of its first
toy-set preparation and of its weight fetch, so a test can check that the two hosts did them at the same time.
"""
import json
import os
import sys
import time

import gluon_resnest  # noqa: F401  (first: sizes MXNet's threads)
from gluon_resnest.models import store
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.train import TrainConfig, loop, train
from tests.helpers.model_server import published_record


def _timed(function, intervals, key):
    def timed(*args, **kwargs):
        start = time.time()
        try:
            return function(*args, **kwargs)
        finally:
            intervals.setdefault(key, [start, time.time()])
    return timed


def main(save_dir, toy_dir, sha1, trace_dir):
    CATALOGUE["resnest14"] = published_record("resnest14", sha1)
    intervals = {}
    loop.ensure_toy_dataset = _timed(loop.ensure_toy_dataset, intervals, "toy")
    store._obtain = _timed(store._obtain, intervals, "weights")
    train(TrainConfig.from_flat(model="resnest14", toy=True, toy_dir=toy_dir, save_dir=save_dir, pretrained=True,
                                epochs=1, batch_size=32, lr=0.01, input_size=32, log_interval=0, workers=0,
                                export=False))
    with open(os.path.join(trace_dir, "rank%s.json" % os.environ["HOROVOD_RANK"]), "w") as handle:
        json.dump(intervals, handle)


if __name__ == "__main__":
    main(*sys.argv[1:5])
