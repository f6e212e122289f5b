"""Atomic file writing: write to a temporary file beside the target, then rename it into place."""
import os
import tempfile

__all__ = ["atomic_write"]


def atomic_write(path, write):
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``.

    If ``write`` raises, the temporary file is removed and ``path`` is left as it was. Returns ``path``.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
