"""File-mode helpers: run code under a given umask, and list files whose permission bits differ from a mode."""
import contextlib
import os
import stat


@contextlib.contextmanager
def umask(mask):
    """Set the process umask to ``mask`` for the ``with`` block (subprocesses started inside inherit it)."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def wrong_modes(root, mode=0o644):
    """``{path: oct mode}`` of every file under ``root`` (a file or a folder, walked) whose permission bits are
    not ``mode``."""
    paths = [root] if os.path.isfile(root) else [os.path.join(folder, name) for folder, _, names in os.walk(root)
                                                 for name in names]
    found = {path: stat.S_IMODE(os.stat(path).st_mode) for path in paths}
    return {path: oct(bits) for path, bits in found.items() if bits != mode}
