"""One interface for Horovod (under ``horovodrun``) and plain single-process training.

Every collective here is an allreduce: a broadcast from rank 0 is a sum in which the other ranks contribute zeros
(exact: ``x + 0 == x``). Horovod 0.28's MXNet broadcast and allgather read the operation's name after handing it
to the background thread, which may already have completed the operation and freed it; under load that
use-after-free crashes a rank (``Segmentation fault: 11`` in ``EnqueueTensorBroadcast``). Its allreduce path does
not touch the operation after enqueueing it.
"""
import os
import pickle

import mxnet as mx
import numpy as np

__all__ = ["Distributed", "launched_by_horovod"]


def launched_by_horovod():
    """True when this process was started by ``horovodrun`` (Gloo or MPI)."""
    return any(key in os.environ for key in ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"))


class Distributed:
    """Rank/size, parameter and object broadcast from rank 0, sum-allreduce and the trainer, with or without
    Horovod."""

    def __init__(self, use_horovod=None):
        self.hvd = None
        if use_horovod is None:
            use_horovod = launched_by_horovod()
        if use_horovod:
            import horovod.mxnet as hvd

            hvd.init()
            self.hvd = hvd
        self.rank = self.hvd.rank() if self.hvd else 0
        self.size = self.hvd.size() if self.hvd else 1
        self.local_rank = self.hvd.local_rank() if self.hvd else 0

    @property
    def is_root(self):
        return self.rank == 0

    def context(self, use_gpu):
        """``mx.gpu(local_rank)`` when GPUs are requested and present, else ``mx.cpu()``."""
        return mx.gpu(self.local_rank) if use_gpu and mx.context.num_gpus() > 0 else mx.cpu()

    def _from_root(self, arrays, name):
        """Overwrite each NDArray of ``arrays`` in place with rank 0's values; returns when they have arrived.

        The sum runs on plain copies: Horovod cannot read arrays that oneDNN holds in its own layout (weights after
        an inference pass)."""
        if self.is_root:
            sums = [mx.nd.array(array.asnumpy(), dtype=array.dtype) for array in arrays]
        else:
            sums = [mx.nd.zeros(array.shape, dtype=array.dtype) for array in arrays]
        self.hvd.grouped_allreduce_(sums, op=self.hvd.Sum, name=name)
        if not self.is_root:
            for array, summed in zip(arrays, sums):
                array[:] = summed
        mx.nd.waitall()

    def broadcast_parameters(self, params):
        """Give every rank rank 0's values of ``params`` (a Gluon ``ParameterDict``; all initialized)."""
        if not self.hvd or self.size == 1:
            return
        arrays = [param.data() for _, param in sorted(params.items())]
        self._from_root(arrays, "parameters")

    def broadcast_object(self, obj, name):
        """Rank 0's ``obj`` (anything picklable) on every rank; other ranks' ``obj`` is ignored."""
        if not self.hvd or self.size == 1:
            return obj
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if self.is_root else b""
        length = int(self.allreduce_sum([len(payload)], name + ".length")[0])
        buffer = mx.nd.array(np.frombuffer(payload, dtype=np.uint8), dtype="uint8") if self.is_root \
            else mx.nd.empty((length,), dtype="uint8")
        self._from_root([buffer], name + ".payload")
        return obj if self.is_root else pickle.loads(buffer.asnumpy().tobytes())

    def allreduce_sum(self, values, name):
        """Element-wise sum of a float64 vector over all ranks."""
        values = np.asarray(values, dtype=np.float64)
        if not self.hvd:
            return values
        summed = self.hvd.allreduce(mx.nd.array(values, dtype="float64"), op=self.hvd.Sum, name=name)
        return summed.asnumpy()

    def trainer(self, params, optimizer):
        if self.hvd:
            return self.hvd.DistributedTrainer(params, optimizer)
        return mx.gluon.Trainer(params, optimizer, kvstore=None)

    def barrier(self, name):
        self.allreduce_sum([0.0], name)
