"""Write-then-rename, the one way the package writes files: a staging folder beside the target, owned by its writer.

:class:`Staging` creates a hidden folder beside a target ``NAME``: ``.NAME.staging-HOST-KERNEL-TOKEN`` (``HOST``:
:func:`~.processes.host_tag`, ``KERNEL``: :func:`~.processes.kernel_tag`, ``TOKEN``: 16 random hex digits). Its
writer holds an exclusive ``flock`` on the folder's owner file for the folder's life. Files are written in the
folder under their final base names (so writers that infer a format from the extension see the real one), then
renamed into place; closing the staging removes the folder, whether or not anything was renamed out of it.
:func:`atomic_write` writes one file this way, :class:`~.publish.StagedFiles` a set of files published together.

A staging folder is an orphan when its owner file's lock can be taken: its writer has exited (killed, crashed, its
machine rebooted), whatever PID namespace it ran in; a live writer in another container is never mistaken for a
dead one. Orphans are removed by the next staging in the same folder and by :func:`remove_orphans` (called by a
training run taking its save directory and by the model store). Only staging folders of this host (``HOST``) or of
this running kernel (``KERNEL``: other containers of this machine) are judged; those of other machines on a shared
filesystem, whose locks may not be visible here, are left alone. Judging a folder never waits: the lock is tried
once. On a filesystem without ``flock`` staging works, but its leftovers are not removed.

Files get the mode a plain ``open()`` would give them (``0o666`` less the process umask). A write that fails (disk
full, read-only filesystem, no permission, an MXNet writer error) raises ``OSError`` naming the target path and the
reason, leaving the target as it was.
"""
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import sys

from .errors import mxnet_reason
from .processes import host_tag, kernel_tag

__all__ = ["Staging", "atomic_write", "remove_orphans", "write_error"]

_STAGING = ".staging-"
#: The owner file inside each staging folder, locked by the writer.
_OWNER = ".staging-owner"
_FOLDER = re.compile(r"^\..+\.staging-(?P<host>[^-/]+)-(?P<kernel>[0-9a-f]{8}|none)-[0-9a-f]{16}$")


def _try_lock(fd):
    """One non-blocking exclusive ``flock`` of ``fd``: True when taken, False when another holder has it, None when
    the filesystem cannot lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None


def _same_file(fd, path):
    """True when ``path`` still names the file open as ``fd``."""
    try:
        here, there = os.stat(path), os.fstat(fd)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _open_owner(owner):
    """A descriptor of the owner file ``owner`` for locking, creating the file when it is missing (a folder whose
    writer died before creating it: its creator then holds the lock a late writer needs); None when it cannot be
    opened (the folder is gone, no permission)."""
    try:
        return os.open(owner, os.O_CLOEXEC | os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        pass
    except OSError:
        return None
    for mode in (os.O_RDWR, os.O_RDONLY):
        try:
            return os.open(owner, os.O_CLOEXEC | mode)
        except OSError:
            continue
    return None


def _remove_if_orphan(folder):
    """Remove the staging ``folder`` if its lock can be taken (its writer has exited); True when removed."""
    owner = os.path.join(folder, _OWNER)
    fd = _open_owner(owner)
    if fd is None:
        return False
    try:
        if not _try_lock(fd) or not _same_file(fd, owner):
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return not os.path.lexists(folder)
    finally:
        os.close(fd)


def _judged_here(match):
    """True for staging folders of this host or of this running kernel."""
    kernel = kernel_tag()
    return match.group("host") == host_tag() or (kernel != "none" and match.group("kernel") == kernel)


def remove_orphans(directory):
    """Remove the staging folders in ``directory`` whose writer has exited (their lock can be taken); returns their
    paths. Live writers' folders (of any process or container), other machines' folders, and folders that cannot
    be removed (read-only filesystem) are left alone. Never waits."""
    try:
        entries = sorted(os.listdir(directory))
    except OSError:
        return []
    removed = []
    for entry in entries:
        match = _FOLDER.match(entry)
        if match and _judged_here(match) and _remove_if_orphan(os.path.join(directory, entry)):
            removed.append(os.path.join(directory, entry))
    return removed


def _claim(folder):
    """Create the staging ``folder`` and lock its owner file; the owner's descriptor, or None when a sweeper took
    the fresh folder for an orphan (the caller tries another name)."""
    try:
        os.mkdir(folder)
    except FileExistsError:
        return None
    owner = os.path.join(folder, _OWNER)
    try:
        fd = os.open(owner, os.O_CLOEXEC | os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
    except (FileExistsError, FileNotFoundError):
        return None
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if _try_lock(fd) is False or not _same_file(fd, owner):
        os.close(fd)
        return None
    return fd


class Staging:
    """A staging folder for ``target`` (a file path, or a prefix for :class:`~.publish.StagedFiles`), owned by this
    process between :meth:`open` (or entering the ``with`` block) and :meth:`close` (or leaving it).

    :attr:`path` is the staged twin of ``target`` (same base name, in the folder :attr:`folder`); write there and
    call :meth:`rename_into_place`.
    """

    def __init__(self, target):
        self.target = os.path.abspath(target)
        self.directory, self.base = os.path.split(self.target)
        self.folder = self.path = None
        self._owner = None

    def open(self):
        """Create and lock the staging folder (removing orphans beside it first); returns ``self``."""
        os.makedirs(self.directory, exist_ok=True)
        remove_orphans(self.directory)
        stem = os.path.join(self.directory, ".%s%s%s-%s-" % (self.base, _STAGING, host_tag(), kernel_tag()))
        for _ in range(100):
            folder = stem + secrets.token_hex(8)
            fd = _claim(folder)
            if fd is not None:
                self.folder, self.path, self._owner = folder, os.path.join(folder, self.base), fd
                return self
        raise FileExistsError(errno.EEXIST, "could not create a staging folder beside %s" % self.target)

    def close(self):
        """Remove the staging folder and what is left in it, then release it."""
        if self._owner is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        os.close(self._owner)
        self._owner = None

    def __enter__(self):
        return self.open()

    def __exit__(self, *exc):
        self.close()
        return False

    def staged_names(self):
        """Base names of the files staged so far, sorted."""
        return sorted(name for name in os.listdir(self.folder)
                      if name != _OWNER and os.path.isfile(os.path.join(self.folder, name)))

    def rename_into_place(self, name=None):
        """Rename the staged file ``name`` (a base name; default the target's) over its final path beside the
        folder; returns that path."""
        final = os.path.join(self.directory, name or self.base)
        os.replace(os.path.join(self.folder, name or self.base), final)
        return final


def _writer(content):
    if callable(content):
        return content
    if isinstance(content, (bytes, bytearray)):
        mode, data = "wb", content
    elif isinstance(content, str):
        mode, data = "w", content
    else:
        mode, data = "w", json.dumps(content, indent=2, sort_keys=True) + "\n"

    def write(tmp):
        with open(tmp, mode) as handle:
            handle.write(data)
    return write


def write_error(path, err):
    """``OSError`` naming ``path`` for a failed write (``err``: an ``OSError`` or an MXNet writer error)."""
    if isinstance(err, OSError):
        code, reason = err.errno, err.strerror or str(err)
    else:
        code, reason = errno.EIO, mxnet_reason(err)
    return OSError(code, "cannot write %s: %s" % (path, reason))


def _write_errors():
    """``OSError`` and, when MXNet is loaded (only then can a writer raise it), ``MXNetError``."""
    mx = sys.modules.get("mxnet")
    return (OSError, mx.base.MXNetError) if mx is not None and hasattr(mx, "base") else (OSError,)


def atomic_write(path, content):
    """Write ``content`` to ``path`` atomically (a :class:`Staging` of one file); returns ``path``.

    ``content`` is ``bytes``, a ``str`` (text), any other JSON-serialisable value (written as indented JSON), or a
    callable ``write(staged_path)`` that writes the file itself (``mx.nd.save``, ``fig.savefig``, ...); the staged
    path has ``path``'s base name. If writing fails, ``path`` is left as it was and ``OSError`` names ``path``.
    """
    try:
        with Staging(path) as stage:
            _writer(content)(stage.path)
            stage.rename_into_place()
    except _write_errors() as err:
        raise write_error(path, err) from None
    return path
