"""A training run owns its save directory: rank 0 holds its :class:`~gluon_resnest.utils.runlock.RunLock` for the
run's life, and every rank learns whether it got it (a refused run stops on all ranks)."""
import contextlib

from ..utils.runlock import FolderBusyError, RunLock

__all__ = ["owned_save_dir"]


@contextlib.contextmanager
def owned_save_dir(save_dir, dist):
    """Hold ``save_dir``'s run lock (on rank 0) inside the ``with`` block; :class:`FolderBusyError` naming the
    folder and the holder on every rank when another run holds it."""
    lock = RunLock(save_dir, "training run")
    refusal = None
    if dist.is_root:
        try:
            lock.__enter__()
        except FolderBusyError as err:
            refusal = str(err)
    refusal = dist.broadcast_object(refusal, "save_dir_lock")
    if refusal:
        raise FolderBusyError(refusal)
    try:
        yield lock
    finally:
        if dist.is_root:
            lock.__exit__(None, None, None)
