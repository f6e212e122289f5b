"""A training run owns its save directory: rank 0 holds its :class:`~gluon_resnest.utils.runlock.RunLock` for the
run's life (taken once, through :meth:`~gluon_resnest.train.distributed.Distributed.on_root`, so every rank learns
whether it got it and a refused run stops on all ranks), and writes the run's log, ``train.log``, there."""
import contextlib
import logging
import os

from ..utils.runlock import RunLock

__all__ = ["owned_save_dir", "run_log", "LOG_FORMAT", "LOG_NAME"]

#: The format of the run's log lines, in ``train.log`` and on the console of ``scripts/train.py``.
LOG_FORMAT = "%(asctime)s %(message)s"
#: The run's log file in the save directory.
LOG_NAME = "train.log"


@contextlib.contextmanager
def owned_save_dir(save_dir, dist):
    """Hold ``save_dir``'s run lock (on rank 0) inside the ``with`` block;
    :class:`~gluon_resnest.utils.runlock.FolderBusyError` naming the folder and the holder on every rank when
    another run holds it."""
    lock = RunLock(save_dir, "training run")
    dist.on_root(lambda: lock.__enter__() and None, "save_dir_lock")
    try:
        yield lock
    finally:
        if dist.is_root:
            lock.__exit__(None, None, None)


@contextlib.contextmanager
def run_log(save_dir, dist):
    """On rank 0, append the package's log lines (``gluon_resnest.*`` loggers, at the level logging is configured
    for: ``scripts/train.py`` logs at INFO) to ``save_dir/train.log`` inside the ``with`` block."""
    if not dist.is_root:
        yield None
        return
    handler = logging.FileHandler(os.path.join(save_dir, LOG_NAME))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    package = logging.getLogger(__name__.split(".")[0])
    package.addHandler(handler)
    try:
        yield handler.baseFilename
    finally:
        package.removeHandler(handler)
        handler.close()
