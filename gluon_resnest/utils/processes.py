"""Which process owns a file: this host's tag in file names, and whether a process of this host still runs."""
import os
import socket

__all__ = ["host_tag", "process_alive"]


def host_tag():
    """This host's name as it appears in file and folder names (``-`` and path separators replaced)."""
    return socket.gethostname().replace("-", "_").replace(os.sep, "_") or "host"


def process_alive(pid):
    """True when process ``pid`` of this host runs (or exists under another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:
        return False
    return True
