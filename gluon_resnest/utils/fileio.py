"""Atomic file writing: write a temporary file beside the target, then rename it into place.

Files get the mode a plain ``open()`` would give them (``0o666`` less the process umask), not ``mkstemp``'s 0600.
Temporary files are named ``.{target}.{host}-{pid}-{n}.tmp``; those of processes of this host that have exited
(killed while writing) are removed by the next :func:`atomic_write` into the same folder, or by
:func:`remove_orphan_temps`. A write that fails (disk full, read-only filesystem, no permission, an MXNet writer
error) raises ``OSError`` naming the target path and the reason, leaving the target as it was.
"""
import errno
import json
import os
import re
import sys

from .errors import mxnet_reason
from .processes import host_tag, process_alive

__all__ = ["atomic_write", "remove_orphan_temps", "write_error"]

#: ``.{target}.{pid}-{n}.tmp``: the form without a host, taken as this host's.
_LEGACY_TEMP = re.compile(r"^\..+\.(\d+)-\d+\.tmp$")


def _temp_pid(entry):
    """The process id in this host's temporary file name ``entry``, else ``None``."""
    match = re.match(r"^\..+\.%s-(\d+)-\d+\.tmp$" % re.escape(host_tag()), entry) or _LEGACY_TEMP.match(entry)
    return int(match.group(1)) if match else None


def remove_orphan_temps(directory):
    """Remove the temporary files of :func:`atomic_write` in ``directory`` left by processes of this host that
    have exited; returns their paths. Files of other hosts and of live processes are left alone; a file that
    cannot be removed (read-only folder) is skipped."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for entry in entries:
        pid = _temp_pid(entry)
        if pid is None or process_alive(pid):
            continue
        try:
            os.remove(os.path.join(directory, entry))
            removed.append(os.path.join(directory, entry))
        except OSError:
            pass
    return removed


def _temp_path(path):
    """Create an empty, umask-respecting temporary file next to ``path``; return its name."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    remove_orphan_temps(directory)
    base = os.path.join(directory, "." + os.path.basename(path) + ".")
    for attempt in range(1000):
        tmp = "%s%s-%d-%d.tmp" % (base, host_tag(), os.getpid(), attempt)
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError("could not create a temporary file beside %s" % path)


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
    """Write ``content`` to ``path`` atomically; returns ``path``.

    ``content`` is ``bytes``, a ``str`` (text), any other JSON-serialisable value (written as indented JSON), or a
    callable ``write(tmp_path)`` that writes the file itself (``mx.nd.save``, ``fig.savefig``, ...). If writing
    fails, the temporary file is removed, ``path`` is left as it was and ``OSError`` names ``path``.
    """
    tmp = None
    try:
        tmp = _temp_path(path)
        _writer(content)(tmp)
        os.replace(tmp, path)
    except _write_errors() as err:
        raise write_error(path, err) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)
    return path
