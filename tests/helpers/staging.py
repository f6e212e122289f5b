"""Child processes holding a :class:`~gluon_resnest.utils.fileio.Staging` folder: alive until told to publish, or
killed with SIGKILL midway; optionally in a PID namespace of their own (a container's view of processes)."""
import fcntl
import os
import signal
import subprocess
import sys
import time

from tests.helpers.scripts import ROOT

#: The child imports ``gluon_resnest.utils`` under a bare package object, without the package's ``__init__`` (which
#: loads MXNet), so it starts in a fraction of a second.
_CHILD = """
import sys, types
package = types.ModuleType("gluon_resnest")
package.__path__ = ["gluon_resnest"]
sys.modules["gluon_resnest"] = package
from gluon_resnest.utils.fileio import Staging
stage = Staging(sys.argv[1]).open()
for name in sys.argv[2:]:
    with open(stage.folder + "/" + name, "w") as handle:
        handle.write("staged " + name)
print(stage.folder, flush=True)
if sys.stdin.readline().strip() == "publish":
    for name in sys.argv[2:]:
        stage.rename_into_place(name)
stage.close()
print("done", flush=True)
"""


def namespace_prefix(pid):
    """The command prefix that runs a command in a new PID namespace (``unshare``) as process ``pid`` of that
    namespace, a number that names no process outside it; None where this machine does not allow it."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "sh", "-c",
            'echo %d > /proc/sys/kernel/ns_last_pid && "$@"' % (pid - 1), "sh"]


def invisible_pid():
    """A process id that names no process here (for a writer in another PID namespace)."""
    from gluon_resnest.utils.processes import process_alive

    with open("/proc/sys/kernel/pid_max") as handle:
        pid_max = int(handle.read())
    return next(pid for pid in range(pid_max - 1000, pid_max - 10) if not process_alive(pid))


class StagingChild:
    """A process that opens a staging folder for ``target``, writes ``names`` in it, and waits (``prefix``: a
    command prefix such as :func:`namespace_prefix`'s)."""

    def __init__(self, target, names, prefix=()):
        self.names = list(names)
        self.proc = subprocess.Popen(list(prefix) + [sys.executable, "-c", _CHILD, str(target)] + self.names,
                                     cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.folder = self.proc.stdout.readline().strip()
        assert self.folder, "the staging child failed to start"

    def publish(self):
        """Rename the staged files into place and close the staging; the child's last line (``done``)."""
        self.proc.stdin.write("publish\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline().strip()
        self.proc.wait(timeout=60)
        return out

    def kill(self):
        """SIGKILL the child (and its PID namespace) midway; returns once the writer is gone (its lock is free)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=60)
        deadline = time.monotonic() + 60
        while not _lock_free(os.path.join(self.folder, ".staging-owner")):
            assert time.monotonic() < deadline, "the staging child outlived SIGKILL by 60 s"
            time.sleep(0.05)


def _lock_free(owner):
    with open(owner) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return True


def killed_while_staging(target, names):
    """The staging folder of a child killed with SIGKILL after writing ``names`` in it."""
    child = StagingChild(target, names)
    child.kill()
    assert os.path.isdir(child.folder)
    return child.folder
