"""Forked worker processes that make the loader's batches, with bounded waits.

Each worker inherits the dataset at fork, receives the keys of its batches through a pipe of its own and sends
back ``batchify([dataset[key] for key in keys])`` pickled with MXNet's ``ForkingPickler`` reducers, so NDArrays
made in shared memory reach the parent as file descriptors, without a copy. Batches go to the workers in turn, so
the parent knows which worker makes which batch. No lock is shared between the processes: a worker that dies can
hold nothing the others or the parent wait for.

The parent waits for each batch in slices of :data:`POLL_S` seconds and checks its workers at each batch and
between slices:

* a worker process that ends (killed by the out-of-memory killer's SIGKILL, a crash) fails the pass with
  :class:`WorkerLostError` naming its pid and how it ended: the batches it held are lost, so going on would wait
  for them forever;
* a batch that takes longer than :data:`BATCH_TIMEOUT_S` (a worker stopped or stuck) fails it with
  :class:`WorkerTimeoutError`.

Either way every worker is stopped first (SIGTERM, then SIGKILL after :data:`STOP_S`), so none outlives the error.
"""
import ctypes
import io
import itertools
import multiprocessing
import os
import pickle
import signal
import time
import traceback
from multiprocessing.reduction import ForkingPickler

import mxnet as mx
from mxnet.gluon.data import dataloader  # noqa: F401  (registers NDArray's shared-memory reducers)

from ..utils.errors import ReportableError

__all__ = ["WorkerPool", "WorkerLostError", "WorkerTimeoutError", "POLL_S", "BATCH_TIMEOUT_S", "STOP_S"]

#: Seconds between two checks of the worker processes while a batch is awaited.
POLL_S = 0.5
#: Seconds one batch may take before the pass fails.
BATCH_TIMEOUT_S = 3600
#: Seconds a worker is given to end after SIGTERM before it is killed.
STOP_S = 5


#: ``prctl`` option: the signal a process gets when its parent ends.
_PR_SET_PDEATHSIG = 1


class WorkerLostError(ReportableError):
    """A data-loader worker process ended while the pass needed it; the message names its pid and how it ended."""


class WorkerTimeoutError(ReportableError):
    """No batch came from a data-loader worker within :data:`BATCH_TIMEOUT_S`."""


def _die_with(parent):
    """Have Linux kill this process when ``parent`` (the pid that forked it) ends; exit at once if it has ended."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def _serve(dataset, batchify, conn, inherited, parent):
    """A worker's loop: ``(task id, keys)`` in, ``(task id, pickled batch or None, error text or None)`` out, until
    the parent sends ``None`` or goes away (its end of the pipe closes, and the worker dies with it)."""
    _die_with(parent)
    for other in inherited:  # the parent's ends of this worker's pipe and of the workers' forked before it
        other.close()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        task_id, keys = task
        try:
            buffer = io.BytesIO()
            ForkingPickler(buffer, pickle.HIGHEST_PROTOCOL).dump(batchify([dataset[key] for key in keys]))
            conn.send((task_id, buffer.getvalue(), None))
        except Exception:  # a bug in a transform: the parent raises it with this traceback
            conn.send((task_id, None, traceback.format_exc()))


def _ending(exitcode):
    """How a process with ``exitcode`` ended, in words."""
    if exitcode == -signal.SIGKILL:
        return "was killed by SIGKILL (what the out-of-memory killer sends)"
    if exitcode < 0:
        return "was killed by %s" % signal.Signals(-exitcode).name
    return "exited with code %d" % exitcode


class WorkerPool:
    """``num_workers`` forked processes making batches of ``dataset`` with ``batchify`` (see the module's text)."""

    def __init__(self, dataset, batchify, num_workers):
        context = multiprocessing.get_context("fork")
        self.size, self._ids, self._workers, self._closed = num_workers, itertools.count(), [], False
        mx.nd.waitall()  # no engine operation in flight while forking
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent only
        try:
            for _ in range(num_workers):
                ours, theirs = context.Pipe()
                process = context.Process(target=_serve, daemon=True, args=(
                    dataset, batchify, theirs, [ours] + [conn for _, conn in self._workers], os.getpid()))
                process.start()
                theirs.close()
                self._workers.append((process, ours))
        finally:
            signal.signal(signal.SIGINT, handler)

    def batches(self, key_batches, prefetch):
        """The batches of ``key_batches`` (lists of dataset keys), in order, with up to ``prefetch`` batches in
        the making; :class:`WorkerLostError` or :class:`WorkerTimeoutError` (after stopping every worker) when one
        cannot come."""
        keys, pending = iter(key_batches), []

        def submit():
            batch_keys = next(keys, None)
            if batch_keys is not None:
                task_id = next(self._ids)
                self._send(task_id % self.size, (task_id, batch_keys), len(pending) + 1)
                pending.append(task_id)
        for _ in range(max(prefetch, 1)):
            submit()
        number = 0
        while pending:
            task_id = pending.pop(0)
            number += 1
            batch = self._receive(task_id, number)
            submit()
            yield batch

    def _send(self, worker, task, number):
        process, conn = self._workers[worker]
        try:
            conn.send(task)
        except OSError:  # its end of the pipe is closed: the process is ending
            process.join(STOP_S)
            self._check_workers(number)
            raise

    def _receive(self, task_id, number):
        """The batch of task ``task_id`` (batch ``number`` of the pass); results of tasks of an abandoned pass that
        come first are read and dropped."""
        process, conn = self._workers[task_id % self.size]
        while True:
            deadline = time.monotonic() + BATCH_TIMEOUT_S
            self._check_workers(number)
            while not conn.poll(POLL_S):
                self._check_workers(number)
                if time.monotonic() > deadline:
                    self.close()
                    raise WorkerTimeoutError("no batch from data-loader worker process %d for %d s (batch %d of "
                                             "this pass)" % (process.pid, BATCH_TIMEOUT_S, number))
            try:
                done, data, error = conn.recv()
                batch = pickle.loads(data) if data is not None else None
            except (EOFError, OSError):
                process.join(STOP_S)
                self._check_workers(number)
                raise
            if error is not None:
                self.close()
                raise RuntimeError("a data-loader worker process failed on batch %d of this pass:\n%s"
                                   % (number, error))
            if done == task_id:
                return batch

    def _check_workers(self, number):
        """:class:`WorkerLostError` (after stopping every worker) when a worker process has ended."""
        if self._closed:
            raise WorkerLostError("the data-loader worker processes were stopped by an error in this pass")
        lost = next((process for process, _ in self._workers if process.exitcode is not None), None)
        if lost is not None:
            self.close()
            raise WorkerLostError("data-loader worker process %d (one of %d) %s while batch %d of this pass was "
                                  "awaited; its batches are lost, so the run stops"
                                  % (lost.pid, self.size, _ending(lost.exitcode), number))

    def close(self):
        """Stop every worker process: SIGTERM, then SIGKILL after :data:`STOP_S` (idempotent)."""
        self._closed = True
        for process, conn in self._workers:
            conn.close()
            if process.exitcode is None:
                process.terminate()
        deadline = time.monotonic() + STOP_S
        for process, _ in self._workers:
            process.join(max(deadline - time.monotonic(), 0))
            if process.exitcode is None:
                process.kill()
                process.join()

    def __del__(self):
        if getattr(self, "_workers", None):
            self.close()
