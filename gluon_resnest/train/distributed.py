"""One interface for Horovod (under ``horovodrun``) and plain single-process training.

Every collective here is an allreduce; Horovod's broadcast and allgather are never called
(docs/training.md#distributed-training says why). A broadcast from rank 0 is a sum in which the other ranks
contribute ``-0.0``, which leaves every value's bits unchanged (``x + -0.0 == x``, also for ``x = -0.0``).
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

    def _sum_in_place(self, arrays, name):
        """Sum each NDArray of ``arrays`` over all ranks in place (one grouped allreduce per dtype); returns when
        the sums have arrived."""
        by_dtype = {}
        for array in arrays:
            by_dtype.setdefault(np.dtype(array.dtype).name, []).append(array)
        for dtype, group in sorted(by_dtype.items()):
            self.hvd.grouped_allreduce_(group, op=self.hvd.Sum, name="%s.%s" % (name, dtype))
        for array in arrays:
            array.wait_to_read()

    def _addend(self, array):
        """This rank's share of a broadcast of ``array``: a plain copy on rank 0 (Horovod cannot read arrays that
        oneDNN keeps in its own layout, such as weights after an inference pass), ``-0.0`` elsewhere."""
        if self.is_root:
            return mx.nd.array(array.asnumpy(), ctx=array.context, dtype=array.dtype)
        negative_zeros = np.full(array.shape, -0.0, dtype=np.dtype(array.dtype))  # mx.nd.full drops the sign
        return mx.nd.array(negative_zeros, ctx=array.context, dtype=array.dtype)

    def broadcast_parameters(self, params):
        """Give every rank rank 0's values of ``params`` (a Gluon ``ParameterDict`` whose parameters are
        initialized; ``ValueError`` naming the first one that is not)."""
        if not self.hvd or self.size == 1:
            return
        arrays = []
        for name, param in sorted(params.items()):
            try:
                arrays.append(param.data())
            except mx.gluon.parameter.DeferredInitializationError:
                raise ValueError("parameter %s is not initialized yet (deferred): run one forward pass or give its "
                                 "layer the input size before broadcasting" % name) from None
        sums = [self._addend(array) for array in arrays]
        self._sum_in_place(sums, "parameters")
        if not self.is_root:
            for array, summed in zip(arrays, sums):
                array[:] = summed
                array.wait_to_read()

    def broadcast_object(self, obj, name):
        """Rank 0's ``obj`` (anything picklable) on every rank; other ranks' ``obj`` is ignored."""
        if not self.hvd or self.size == 1:
            return obj
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if self.is_root else b""
        length = int(self.allreduce_sum([len(payload)], name + ".length")[0])
        buffer = mx.nd.array(np.frombuffer(payload, dtype=np.uint8), dtype="uint8") if self.is_root \
            else mx.nd.zeros((length,), dtype="uint8")
        self._sum_in_place([buffer], name + ".payload")
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
