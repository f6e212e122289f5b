"""The processes of the MMS started from a run folder, told apart from every other process of the host.

MMS writes its frontend's pid to ``RUN/.model_server.pid``; a pid alone names whatever process holds that number
at the time (after a crash and pid reuse, an unrelated one). :func:`frontend` therefore accepts the pid only for
the Java frontend of that run folder: its command line runs ``com.amazonaws.ml.mms.ModelServer`` with ``-f
RUN/config.properties``, and it started at most :data:`PID_FILE_DELAY` s before the pid file was written. Workers
are recognised by their command line too: MMS starts ``model_service_worker.py ... --tmp-dir RUN/tmp`` (the run
folder's temporary directory, see :func:`~.mms.start`), and each worker forks one process per frontend connection
with the same command line. A worker that is not a descendant of the run folder's live frontend is an orphan: its
frontend died (killed, say) and left it, which :func:`kill_orphans` ends.
"""
import dataclasses
import os
import time
from typing import Optional

__all__ = ["PID_FILE", "PID_FILE_DELAY", "TERMINATE_WAIT", "FRONTEND_CLASS", "WORKER_SCRIPT", "Frontend",
           "pid_file", "frontend", "worker_processes", "workers", "orphans", "terminate", "kill", "kill_orphans"]

#: MMS's pid file, in the run folder (MMS keeps it in the temporary directory, which ``start`` points there).
PID_FILE = ".model_server.pid"
#: Most seconds between the frontend's start and MMS writing its pid file (MMS writes it right after the launch).
PID_FILE_DELAY = 60.0
#: Seconds a process gets to exit after SIGTERM before it is killed with SIGKILL.
TERMINATE_WAIT = 10.0
#: The Java class of MMS's frontend, and the Python script of its workers.
FRONTEND_CLASS = "com.amazonaws.ml.mms.ModelServer"
WORKER_SCRIPT = "model_service_worker.py"


@dataclasses.dataclass(frozen=True)
class Frontend:
    """What the pid file of a run folder names: ``pid`` of the run folder's frontend while it runs (else
    ``None``); ``foreign``: why the pid file's process, alive but not that frontend, is not (else ``None``)."""
    pid: Optional[int] = None
    foreign: Optional[str] = None


def pid_file(run_dir):
    return os.path.join(os.path.abspath(run_dir), PID_FILE)


def _config_path(run_dir):
    return os.path.join(os.path.abspath(run_dir), "config.properties")


def _tmp_dir(run_dir):
    return os.path.join(os.path.abspath(run_dir), "tmp")


def _argument(cmd, flag):
    """The value after ``flag`` in the command line ``cmd``, or ``None``."""
    return cmd[cmd.index(flag) + 1] if flag in cmd[:-1] else None


def frontend(run_dir):
    """The :class:`Frontend` named by ``run_dir``'s pid file: a pid only when that process is the frontend started
    from ``run_dir`` (command line and start time checked)."""
    import psutil

    path = pid_file(run_dir)
    try:
        with open(path) as handle:
            pid = int(handle.readline())
        written = os.stat(path).st_mtime
    except (OSError, ValueError):
        return Frontend()
    try:
        process = psutil.Process(pid)
        cmd, started = process.cmdline(), process.create_time()
    except psutil.AccessDenied:
        return Frontend(foreign="pid %d belongs to another user" % pid)
    except psutil.Error:
        return Frontend()
    if FRONTEND_CLASS not in cmd or _argument(cmd, "-f") != _config_path(run_dir):
        return Frontend(foreign="pid %d is not the MMS frontend of %s (its command line is %r)"
                                % (pid, os.path.abspath(run_dir), " ".join(cmd)[:200]))
    if not -1.0 <= written - started <= PID_FILE_DELAY:
        return Frontend(foreign="pid %d started at %s, not when %s was written (%s): the pid was reused"
                                % (pid, time.strftime("%H:%M:%S", time.localtime(started)), path,
                                   time.strftime("%H:%M:%S", time.localtime(written))))
    return Frontend(pid=pid)


def _is_worker_of(process, run_dir):
    """Whether ``process`` (a ``psutil.Process``) is an MMS worker process of ``run_dir``, owned by this user."""
    import psutil

    try:
        cmd = process.cmdline()
        return (len(cmd) > 1 and cmd[1].endswith(WORKER_SCRIPT) and _argument(cmd, "--tmp-dir") == _tmp_dir(run_dir)
                and process.uids().real == os.getuid())
    except psutil.Error:
        return False


def worker_processes(run_dir, model=None):
    """The worker processes (``psutil.Process``) under ``run_dir``'s live frontend, of ``model`` only when given:
    per worker, its listening process and the process it forks per frontend connection, which loads the model and
    answers its requests."""
    import psutil

    pid = frontend(run_dir).pid
    if pid is None:
        return []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        try:
            if _is_worker_of(child, run_dir) and (model is None or _argument(child.cmdline(), "--model-name") == model):
                found.append(child)
        except psutil.Error:
            continue
    return found


def workers(run_dir, model=None):
    """``{pid: parent pid}`` of :func:`worker_processes`."""
    import psutil

    found = {}
    for process in worker_processes(run_dir, model):
        try:
            found[process.pid] = process.ppid()
        except psutil.Error:
            continue
    return found


def orphans(run_dir):
    """The worker processes of ``run_dir`` that its live frontend (if any) does not own, as ``psutil.Process``."""
    import psutil

    owned = {process.pid for process in worker_processes(run_dir)}
    found = []
    for process in psutil.process_iter():
        if process.pid not in owned and process.pid != os.getpid() and _is_worker_of(process, run_dir):
            found.append(process)
    return found


def _send(processes, signal_name):
    """Call ``signal_name`` ("terminate" or "kill") on each of ``processes``; returns those it reached."""
    import psutil

    reached = []
    for process in processes:
        try:
            getattr(process, signal_name)()
            reached.append(process)
        except psutil.Error:
            continue
    return reached


def terminate(processes, wait=TERMINATE_WAIT):
    """SIGTERM each of ``processes`` (``psutil.Process``), SIGKILL those still running after ``wait`` s
    (:func:`kill`); returns the pids that were running."""
    import psutil

    alive = _send(processes, "terminate")
    kill(psutil.wait_procs(alive, timeout=wait)[1])
    return tuple(sorted(process.pid for process in alive))


def kill(processes, wait=TERMINATE_WAIT):
    """SIGKILL each of ``processes`` (``psutil.Process``; this also ends a stopped one) and wait up to ``wait`` s
    for them to go; returns the pids that were running."""
    import psutil

    killed = _send(processes, "kill")
    psutil.wait_procs(killed, timeout=wait)
    return tuple(sorted(process.pid for process in killed))


def kill_orphans(run_dir):
    """Kill the orphan workers of ``run_dir`` (:func:`orphans`); returns their pids."""
    return kill(orphans(run_dir))
