"""Where a process runs: this host's tag and this kernel's tag in file names, and whether a process of this host
still runs."""
import functools
import os
import socket

__all__ = ["host_tag", "kernel_tag", "process_alive"]


def host_tag():
    """This host's name as it appears in file and folder names (``-`` and path separators replaced)."""
    return socket.gethostname().replace("-", "_").replace(os.sep, "_") or "host"


@functools.lru_cache(maxsize=None)
def kernel_tag():
    """The first 8 hex digits of the running kernel's boot id: the same for every process of one machine since its
    last boot, whatever its PID or UTS namespace (containers included); ``"none"`` where the system has no boot id."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            digits = handle.read().strip().replace("-", "").lower()
    except OSError:
        return "none"
    return digits[:8] if len(digits) >= 8 and all(c in "0123456789abcdef" for c in digits[:8]) else "none"


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
