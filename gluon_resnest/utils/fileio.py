"""Atomic file writing: write a temporary file beside the target, then rename it into place.

Files get the mode a plain ``open()`` would give them (``0o666`` less the process umask), not ``mkstemp``'s 0600.
"""
import json
import os

__all__ = ["atomic_write"]


def _temp_path(path):
    """Create an empty, umask-respecting temporary file next to ``path``; return its name."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.join(directory, "." + os.path.basename(path) + ".")
    for attempt in range(1000):
        tmp = "%s%d-%d.tmp" % (base, os.getpid(), attempt)
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


def atomic_write(path, content):
    """Write ``content`` to ``path`` atomically; returns ``path``.

    ``content`` is ``bytes``, a ``str`` (text), any other JSON-serialisable value (written as indented JSON), or a
    callable ``write(tmp_path)`` that writes the file itself (``mx.nd.save``, ``fig.savefig``, ...). If writing
    fails, the temporary file is removed and ``path`` is left as it was.
    """
    tmp = _temp_path(path)
    try:
        _writer(content)(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
