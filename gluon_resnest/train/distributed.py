"""One interface for Horovod (under ``horovodrun``) and plain single-process training."""
import os

import mxnet as mx
import numpy as np

__all__ = ["Distributed", "launched_by_horovod"]


def launched_by_horovod():
    """True when this process was started by ``horovodrun`` (Gloo or MPI)."""
    return any(key in os.environ for key in ("HOROVOD_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK"))


class Distributed:
    """Rank/size, parameter and object broadcast, sum-allreduce and the trainer, with or without Horovod."""

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

    def broadcast_parameters(self, params):
        if self.hvd:
            self.hvd.broadcast_parameters(params, root_rank=0)

    def broadcast_object(self, obj, name):
        return self.hvd.broadcast_object(obj, root_rank=0, name=name) if self.hvd else obj

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
