"""Run under ``horovodrun``: rank 0's parameters and object reach every rank through
:class:`~gluon_resnest.train.distributed.Distributed`, which must not call Horovod's broadcast or allgather.

Usage: ``horovodrun -np 2 ... python -m tests.helpers.horovod_collectives OUT_DIR``; each rank writes
``OUT_DIR/rank{r}.json``: the sha1 of its parameters before and after the broadcast, and what it received of
rank 0's object (its rank field, a nested list, a 1 MB blob's sha1, a float32 state array).
"""
import hashlib
import json
import os
import sys

import gluon_resnest  # noqa: F401  (first: sizes MXNet's threads)
import horovod.mxnet as hvd
import horovod.mxnet.mpi_ops as mpi_ops
import mxnet as mx
import numpy as np

from gluon_resnest.models.factory import get_model
from gluon_resnest.train.distributed import Distributed


def _refuse(name):
    def refused(*args, **kwargs):
        raise AssertionError("horovod.mxnet.%s called" % name)
    return refused


def main(out_dir):
    for name in ("broadcast", "broadcast_", "allgather", "broadcast_object", "allgather_object",
                 "broadcast_parameters"):
        for module in (hvd, mpi_ops):
            if hasattr(module, name):
                setattr(module, name, _refuse(name))
    dist = Distributed(use_horovod=True)
    mx.random.seed(dist.rank + 1)
    net = get_model("resnest14", classes=10)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 32, 32)))  # weights now in oneDNN's layout
    net.fc.cast("float16")  # a second dtype among the parameters
    params = net.collect_params()
    if dist.rank == 0:  # a negative zero must arrive as one
        beta = params["resnest_batchnorm0_beta"]
        beta.set_data(mx.nd.array(np.full(beta.shape, -0.0, dtype=np.float32)))
    before = _digest(params)
    dist.broadcast_parameters(params)
    obj = {"rank": dist.rank, "blob": bytes(range(256)) * 4099, "nested": [1.5, None, "x" * dist.rank],
           "states": {"w": np.arange(6, dtype=np.float32).reshape(2, 3) * (dist.rank + 1)}}
    got = dist.broadcast_object(obj, "check")
    record = {"before": before, "after": _digest(params), "object": got["rank"], "nested": got["nested"],
              "blob": hashlib.sha1(got["blob"]).hexdigest(), "states": got["states"]["w"].tolist(),
              "states_dtype": str(got["states"]["w"].dtype)}
    with open(os.path.join(out_dir, "rank%d.json" % dist.rank), "w") as handle:
        json.dump(record, handle)
    dist.barrier("done")


def _digest(params):
    digest = hashlib.sha1()
    for name, param in sorted(params.items()):
        digest.update(name.encode())
        digest.update(param.data().asnumpy().tobytes())
    return digest.hexdigest()


if __name__ == "__main__":
    main(sys.argv[1])
