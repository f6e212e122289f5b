"""Forked worker processes that make the loader's batches, with bounded waits.

Each worker inherits the dataset at fork and returns ``batchify([dataset[key] for key in keys])`` pickled with
MXNet's ``ForkingPickler`` reducers, so NDArrays made in shared memory reach the parent as file descriptors, without
a copy. The parent waits for each batch in slices of :data:`POLL_S` seconds and checks its workers between slices:

* a worker process that ends (killed by the out-of-memory killer's SIGKILL, a crash) fails the pass, at the next
  batch or within a slice, with :class:`WorkerLostError` naming its pid and how it ended: a batch it held is lost,
  so going on would wait for it forever;
* a batch that takes longer than :data:`BATCH_TIMEOUT_S` (a worker stopped or stuck) fails it with
  :class:`WorkerTimeoutError`.

Either way the pool is terminated first, so no worker outlives the error.
"""
import collections
import io
import multiprocessing
import pickle
import signal
import time
from multiprocessing.reduction import ForkingPickler

import mxnet as mx
from mxnet.gluon.data import dataloader  # noqa: F401  (registers NDArray's shared-memory reducers)

from ..utils.errors import ReportableError

__all__ = ["WorkerPool", "WorkerLostError", "WorkerTimeoutError", "POLL_S", "BATCH_TIMEOUT_S"]

#: Seconds between two checks of the worker processes while a batch is awaited.
POLL_S = 0.5
#: Seconds one batch may take before the pass fails.
BATCH_TIMEOUT_S = 3600

_dataset = None  # a worker process's dataset


class WorkerLostError(ReportableError):
    """A data-loader worker process ended while the pass needed it; the message names its pid and how it ended."""


class WorkerTimeoutError(ReportableError):
    """No batch came from the data-loader workers within :data:`BATCH_TIMEOUT_S`."""


def _init_worker(dataset):
    global _dataset
    _dataset = dataset


def _make_batch(keys, batchify):
    buffer = io.BytesIO()
    ForkingPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(batchify([_dataset[key] for key in keys]))
    return buffer.getvalue()


def _ending(exitcode):
    """How a process with ``exitcode`` ended, in words."""
    if exitcode == -signal.SIGKILL:
        return "killed by SIGKILL, as the out-of-memory killer does"
    if exitcode < 0:
        return "killed by %s" % signal.Signals(-exitcode).name
    return "exited with code %d" % exitcode


class WorkerPool:
    """``num_workers`` forked processes making batches of ``dataset`` with ``batchify`` (see the module's text)."""

    def __init__(self, dataset, batchify, num_workers):
        self.size, self._batchify = num_workers, batchify
        mx.nd.waitall()  # no engine operation in flight while forking
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent only
        try:
            self._pool = multiprocessing.get_context("fork").Pool(num_workers, initializer=_init_worker,
                                                                  initargs=(dataset,))
        finally:
            signal.signal(signal.SIGINT, handler)
        self._workers = list(self._pool._pool)

    def batches(self, key_batches, prefetch):
        """The batches of ``key_batches`` (lists of dataset keys), in order, with up to ``prefetch`` batches in
        the making; :class:`WorkerLostError` or :class:`WorkerTimeoutError` (after terminating the pool) when one
        cannot come."""
        keys, pending = iter(key_batches), collections.deque()

        def submit():
            batch_keys = next(keys, None)
            if batch_keys is not None:
                pending.append(self._pool.apply_async(_make_batch, (batch_keys, self._batchify)))
        for _ in range(max(prefetch, 1)):
            submit()
        number = 0
        while pending:
            result = pending.popleft()
            submit()
            number += 1
            yield pickle.loads(self._wait(result, number))

    def _wait(self, result, number):
        deadline = time.monotonic() + BATCH_TIMEOUT_S
        self._check_workers(number)
        while not result.ready():
            result.wait(POLL_S)
            self._check_workers(number)
            if time.monotonic() > deadline:
                self.close()
                raise WorkerTimeoutError("no batch from the %d data-loader worker processes for %d s (batch %d of "
                                         "this pass)" % (self.size, BATCH_TIMEOUT_S, number))
        try:
            return result.get()
        except BaseException:
            self.close()
            raise

    def _check_workers(self, number):
        """:class:`WorkerLostError` (after terminating the pool) when a worker process has ended; the replacements
        the pool starts for ended workers are watched too."""
        self._workers += [worker for worker in self._pool._pool if worker not in self._workers]
        lost = next((worker for worker in self._workers if worker.exitcode is not None), None)
        if lost is not None:
            self.close()
            raise WorkerLostError("data-loader worker process %d (one of %d) %s while batch %d of this pass was "
                                  "awaited; the batches it held are lost, so the run stops"
                                  % (lost.pid, self.size, _ending(lost.exitcode), number))

    def close(self):
        """Terminate the worker processes (idempotent)."""
        self._pool.terminate()

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.terminate()
