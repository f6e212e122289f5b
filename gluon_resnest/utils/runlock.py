"""A run owns its output folder: an exclusive lock held for the run's life.

:class:`RunLock` takes ``{folder}/.run.lock`` with ``flock``; the file records the holder's host and process id. A
second run into the same folder (on this host, or on another host of a filesystem with working ``flock``) is
refused at once with :class:`FolderBusyError` naming the folder and the holder. A lock left by a killed run is
released by the operating system, so the next run takes it over (and logs the dead holder it replaces). Taking the
lock also removes the staging folders that dead writers left in the folder (:func:`~.fileio.remove_orphans`).
Taking it never waits. The lock is reentrant within one process: a script holding it may call library code that
takes it again.
"""
import fcntl
import json
import logging
import os
import socket
import threading

from .fileio import remove_orphans

__all__ = ["FolderBusyError", "RunLock", "LOCK_NAME"]

LOCK_NAME = ".run.lock"
logger = logging.getLogger(__name__)
_held = {}
_guard = threading.Lock()


class FolderBusyError(BlockingIOError):
    """Another run holds the folder's lock; the message names the folder, the lock file and the holder."""


def _read_holder(handle):
    handle.seek(0)
    try:
        return json.loads(handle.read() or "{}")
    except ValueError:
        return {}


def _describe(holder):
    if not holder:
        return "an unknown process"
    return "process %s on host %s" % (holder.get("pid", "?"), holder.get("host", "?"))


class RunLock:
    """Context manager holding ``{folder}/.run.lock`` (the folder is created); ``what`` names the kind of run
    in the refusal (``"training run"``)."""

    def __init__(self, folder, what="run"):
        self.folder, self.what = os.path.abspath(folder), what
        self.path = os.path.join(self.folder, LOCK_NAME)

    def __enter__(self):
        with _guard:
            entry = _held.get(self.path)
            if entry is not None:
                entry[1] += 1
                return self
            os.makedirs(self.folder, exist_ok=True)
            handle = open(self.path, "a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(handle)
                handle.close()
                raise FolderBusyError("%s is in use by another %s (%s holds %s); wait for it to finish or choose "
                                      "another folder" % (self.folder, self.what, _describe(holder), self.path)) \
                    from None
            previous = _read_holder(handle)
            if previous:
                logger.info("taking over %s from %s, which has released it", self.path, _describe(previous))
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
            handle.flush()
            _held[self.path] = [handle, 1]
        remove_orphans(self.folder)
        return self

    def __exit__(self, *exc):
        with _guard:
            entry = _held[self.path]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[self.path]
                handle = entry[0]
                handle.seek(0)
                handle.truncate()
                handle.flush()
                handle.close()
        return False
