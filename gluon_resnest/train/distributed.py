"""One interface for Horovod (under ``horovodrun``) and plain single-process training.

Every collective here is an allreduce; Horovod's broadcast and allgather are never called
(docs/training.md#distributed-training says why). A broadcast from rank 0 is a sum in which the other ranks contribute ``-0.0``, which leaves every
value's bits unchanged (``x + -0.0 == x``, also for ``x = -0.0``); a gather is a sum in which each rank fills its
own slot of zeros.

Work that only rank 0 does (taking the save directory's lock, reading a checkpoint, scanning labels, writing
outputs) goes through :meth:`Distributed.on_root`: every rank gets its value, or every rank raises the error it
raised, so no rank is left waiting in a collective that the others never reach.
"""
import os
import pickle

import mxnet as mx
import numpy as np

from ..utils.errors import ReportableError

__all__ = ["Distributed", "RootStepError", "launched_by_horovod"]


class RootStepError(ReportableError):
    """Raised on every rank when a step of rank 0 failed with an error that cannot travel to the other ranks
    (it cannot be pickled and rebuilt); the message names its type and text."""


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

    def _gather_bytes(self, payload, name):
        """Every rank's ``payload`` (bytes), in rank order: each rank fills its slot of a zero buffer, then one sum."""
        lengths = self.allreduce_sum(np.eye(self.size)[self.rank] * len(payload), name + ".lengths").astype(int)
        offset = int(lengths[:self.rank].sum())
        buffer = np.zeros(int(lengths.sum()), dtype=np.uint8)
        buffer[offset:offset + len(payload)] = np.frombuffer(payload, dtype=np.uint8)
        summed = mx.nd.array(buffer, dtype="uint8")
        self._sum_in_place([summed], name + ".payload")
        data = summed.asnumpy().tobytes()
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [data[bounds[r]:bounds[r + 1]] for r in range(self.size)]

    def broadcast_object(self, obj, name):
        """Rank 0's ``obj`` (anything picklable) on every rank; other ranks' ``obj`` is ignored."""
        if not self.hvd or self.size == 1:
            return obj
        payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if self.is_root else b""
        received = self._gather_bytes(payload, name)[0]
        return obj if self.is_root else pickle.loads(received)

    def gather_objects(self, obj, name):
        """``[obj of rank 0, obj of rank 1, ...]`` on every rank (each rank's ``obj``: anything picklable)."""
        if not self.hvd or self.size == 1:
            return [obj]
        payloads = self._gather_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), name)
        return [obj if rank == self.rank else pickle.loads(p) for rank, p in enumerate(payloads)]

    def on_root(self, step, name):
        """Run ``step()`` on rank 0 only; return its value on every rank, or raise on every rank the exception it
        raised (the exception object itself travels: the same type, message and attributes; an exception that
        cannot be pickled and rebuilt becomes :class:`RootStepError` naming its type and text). ``step``'s value
        must be picklable. Every rank must call this at the same point, with the same ``name``."""
        if not self.hvd or self.size == 1:
            return step()
        if not self.is_root:
            error, value = pickle.loads(self._gather_bytes(b"", name)[0])
            if error is not None:
                raise error
            return value
        value, error = None, None
        try:
            value = step()
        except Exception as err:  # every rank raises it (below, and on the other ranks)
            error = err
        payload, sent = _portable(error, value)
        self._gather_bytes(payload, name)
        if sent is not None and sent is not error:
            raise sent from error
        if error is not None:
            raise error
        return value

    def check_same(self, facts, what):
        """``ValueError`` on every rank, naming each rank's value, when ``facts`` (picklable, comparable with
        ``==``; ``str`` gives its description) differ between ranks; ``what`` names them (``"training data"``).
        Ranks whose data differ would otherwise run different numbers of steps and wait for each other's
        collectives forever."""
        every = self.gather_objects(facts, "same." + what.replace(" ", "_"))
        if any(other != every[0] for other in every[1:]):
            raise ValueError("the ranks' %s differ, so their steps would not match: %s; give every rank the same "
                             "data" % (what, "; ".join("rank %d: %s" % (rank, "none" if value is None else value)
                                                       for rank, value in enumerate(every))))

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


def _portable(error, value):
    """``(payload, error sent)``: ``(error, value)`` pickled for the other ranks. An error that does not survive a
    pickle round trip unchanged is replaced by a :class:`RootStepError` naming it, a value that cannot be pickled
    by a ``RootStepError`` saying so; the error sent is returned too, so that rank 0 raises the same."""
    if error is not None:
        try:
            copy = pickle.loads(pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
            if type(copy) is not type(error) or str(copy) != str(error):
                raise TypeError("changed in transit")
        except Exception:  # any failure to travel: the error's type and text travel instead
            error = RootStepError("rank 0: %s: %s" % (type(error).__name__, error))
        return pickle.dumps((error, None), protocol=pickle.HIGHEST_PROTOCOL), error
    try:
        return pickle.dumps((None, value), protocol=pickle.HIGHEST_PROTOCOL), None
    except Exception as err:  # a programming error: say so on every rank instead of leaving them waiting
        error = RootStepError("rank 0: its result cannot be sent to the other ranks: %s" % err)
        return pickle.dumps((error, None), protocol=pickle.HIGHEST_PROTOCOL), error
