"""Start, configure, feed and stop a Multi Model Server (MMS) on loopback, from this interpreter's environment.

A server's state lives in its run folder: ``config.properties`` (written by :func:`write_config`), MMS's pid file
(MMS keeps it in the temporary directory, which :func:`start` points at the run folder, so several servers do not
share it), ``logs/`` (``mms_log.log``, which holds the workers' output too, access and metrics logs) and ``tmp/``
(the unpacked archives, the workers' sockets). The Java frontend runs this interpreter's Python for its workers;
MMS runs each worker single-threaded unless ``OMP_NUM_THREADS`` is set, which :func:`start` sets to the settings'
threads. Which processes belong to a run folder is :mod:`.processes`' to say: :func:`start` and :func:`stop` act
only on those.

Every wait is bounded: :func:`start` waits up to ``start_timeout`` s for MMS to answer and :func:`register` as long
for a model's workers; a worker that takes longer than ``response_timeout`` s to load its model or to answer a
batch is replaced by MMS (the requests it held get 500); :func:`stop` gives the frontend ``timeout`` s to exit
before killing it.
"""
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
from typing import Optional, Tuple

from ...utils.errors import OptionError, ReportableError
from ...utils.fileio import atomic_write
from ...utils.options import Range, check_settings, option
from ...utils.threads import available_cpus
from . import processes
from .client import http_request

logger = logging.getLogger(__name__)

__all__ = ["ServerSettings", "RunFolder", "StopReport", "JavaMissing", "ServerError", "java_command",
           "request_size_cap", "write_config", "http_json", "server_pid", "check_ports_free", "wait_healthy",
           "start", "serve", "server_log", "refusal", "register", "unregister", "describe", "stop", "worker_pids",
           "free_ports", "LOOPBACK", "MAX_PORT", "MAX_SETTING", "JAVA_PACKAGE", "STOP_TIMEOUT"]

LOOPBACK = "127.0.0.1"
#: The largest port MMS binds (it takes a port as a Java short).
MAX_PORT = 32766
#: The Debian package that provides ``java`` for MMS.
JAVA_PACKAGE = "openjdk-17-jre-headless"
#: Seconds :func:`stop` gives the frontend to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 60
#: The largest setting MMS reads (it reads them as Java integers).
MAX_SETTING = 2 ** 31 - 1


class JavaMissing(ReportableError, RuntimeError):
    """No ``java`` to run MMS's frontend."""


class ServerError(ReportableError, RuntimeError):
    """MMS did not start, did not answer, or refused a request (the message quotes it)."""


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """How a server runs (``scripts/serve.py start``'s options): its ports, and per model its workers, their
    threads, MMS's batching, queue and response timeout; :meth:`__post_init__` checks every range
    (:class:`~gluon_resnest.utils.errors.OptionError` naming the option)."""
    port: int = option(8080, "inference API port (MMS takes ports up to %d)" % MAX_PORT, bounds=Range(1, MAX_PORT))
    management_port: int = option(8081, "management API port", bounds=Range(1, MAX_PORT))
    workers: int = option(1, "worker processes per model", bounds=Range(1, MAX_SETTING))
    batch_size: int = option(1, "requests MMS gathers into one call of the handler", bounds=Range(1, MAX_SETTING))
    max_batch_delay: int = option(50, "ms MMS waits for a batch to fill", bounds=Range(0, MAX_SETTING))
    threads: int = option(0, "OpenMP threads per worker (OMP_NUM_THREADS; 0: the CPUs divided among the workers)",
                          bounds=Range(0))
    job_queue_size: int = option(100, "requests queued per model before MMS answers 503",
                                 bounds=Range(1, MAX_SETTING))
    response_timeout: int = option(120, "s a worker may take to load its model or answer a batch before MMS "
                                        "replaces it (the requests it held get 500)", bounds=Range(1, MAX_SETTING))
    start_timeout: int = option(300, "s to wait for MMS to answer, and as long again for each model's workers",
                                aliases=("--timeout",), bounds=Range(1))

    def __post_init__(self):
        check_settings(self)
        if self.port == self.management_port:
            raise OptionError("{port} and {management_port} must differ, got %d for both" % self.port)

    @property
    def worker_threads(self):
        """OpenMP threads per worker: :attr:`threads`, else the CPUs divided among the workers."""
        return self.threads or max(1, available_cpus() // self.workers)

    @property
    def inference_url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    @property
    def management_url(self):
        return "http://%s:%d" % (LOOPBACK, self.management_port)


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """Where a server's files live (``scripts/serve.py start`` and ``stop``)."""
    run_dir: str = option(os.path.join("runs", "serve"), "folder of the server's config.properties, logs/, tmp/ "
                                                          "and MMS's pid file")


@dataclasses.dataclass(frozen=True)
class StopReport:
    """What :func:`stop` did: ``server``, the pid of the frontend it stopped (``None``: none was running);
    ``orphans``, the pids of worker processes of the run folder that no live frontend owned, killed;
    ``foreign``, why the process the pid file named was left running (``None``: it named none, or the frontend)."""
    server: Optional[int] = None
    orphans: Tuple[int, ...] = ()
    foreign: Optional[str] = None


def java_command():
    """The ``java`` MMS will run (``$JAVA_HOME/bin/java`` or ``java`` on the PATH); :class:`JavaMissing` naming
    the package to install when there is none."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        raise JavaMissing("MMS needs Java 8 or newer and %s; install it (Debian/Ubuntu: apt-get install %s)"
                          % ("$JAVA_HOME/bin/java is missing" if home else "no java is on the PATH", JAVA_PACKAGE))
    return java


def request_size_cap(max_bytes):
    """MMS's ``max_request_size`` for archives that accept bodies of up to ``max_bytes``: twice that (at least
    1 MiB more), so that a body somewhat over an archive's limit reaches its handler and gets a JSON 413 naming
    the limit; above the cap MMS itself answers 413 with an empty body."""
    return max(2 * max_bytes, max_bytes + (1 << 20))


def write_config(run_dir, settings, model_store, max_request_size):
    """Write ``run_dir/config.properties`` for ``settings``, ``model_store`` and ``max_request_size`` (bytes);
    returns its path. Inputs reach the handler undecoded (``decode_input_request=false``): MMS would otherwise
    parse a body sent as JSON or text itself, and a malformed one kills the worker. The response timeout is
    written as ``default_response_timeout_seconds``: MMS 1.1 reads ``default_response_timeout`` and a registration's
    ``response_timeout`` in minutes."""
    lines = {
        "inference_address": settings.inference_url,
        "management_address": settings.management_url,
        "model_store": os.path.abspath(model_store),
        "default_workers_per_model": settings.workers,
        "job_queue_size": settings.job_queue_size,
        "max_request_size": max_request_size,
        "max_response_size": 1 << 20,
        "default_response_timeout_seconds": settings.response_timeout,
        "decode_input_request": "false",
        "number_of_netty_threads": max(2, settings.workers),
        "netty_client_threads": max(2, settings.workers),
    }
    text = "".join("%s=%s\n" % item for item in lines.items())
    return atomic_write(os.path.join(run_dir, "config.properties"), text)


def http_json(method, url, timeout=30):
    """``(status, parsed JSON or text)`` of one management or ping request (:func:`~.client.http_request`)."""
    return http_request(method, url, timeout=timeout)[:2]


def server_pid(run_dir):
    """The pid of the MMS frontend started from ``run_dir`` while it runs (command line and start time checked,
    :func:`~.processes.frontend`), else ``None``."""
    return processes.frontend(run_dir).pid


def _mms(run_dir, *args, env=None):
    """Run MMS's own command line (``multi-model-server ARGS``) with its temporary directory in ``run_dir``;
    returns ``(exit status, its output)``. The output goes through ``logs/console.log``, which the frontend
    started by ``--start`` keeps writing to (a pipe would stay open while it runs)."""
    env = dict(env or os.environ, TMPDIR=run_dir)
    os.makedirs(os.path.join(run_dir, "logs"), exist_ok=True)
    log = os.path.join(run_dir, "logs", "console.log")
    with open(log, "ab") as handle:
        start = handle.tell()
        code = subprocess.call([sys.executable, "-m", "mms.model_server"] + list(args), cwd=run_dir, env=env,
                               stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT)
    with open(log, "rb") as handle:
        handle.seek(start)
        return code, handle.read().decode("utf-8", "replace")


def _port_flags(settings):
    return (("port", settings.port), ("management_port", settings.management_port))


def check_ports_free(settings):
    """:class:`OptionError` naming the port option whose loopback port another process listens on."""
    import socket

    for name, port in _port_flags(settings):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((LOOPBACK, port))
            except OSError as err:
                raise OptionError("{%s} %d is in use on %s (%s): another server listens there; choose a free port "
                                  "or stop that server" % (name, port, LOOPBACK, err.strerror)) from None


def _listening(pid, settings):
    """Whether process ``pid`` listens on both of ``settings``' ports."""
    import psutil

    try:
        ports = {conn.laddr.port for conn in psutil.Process(pid).net_connections(kind="inet")
                 if conn.status == psutil.CONN_LISTEN}
    except psutil.Error:
        return False
    return {port for _, port in _port_flags(settings)} <= ports


def wait_healthy(settings, timeout, pid=None):
    """Poll ``/ping`` until MMS answers ``Healthy`` and, with ``pid``, until that process listens on both ports
    (so that another server on a port does not pass for it); :class:`ServerError` after ``timeout`` s or when
    process ``pid`` exits."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http_json("GET", settings.inference_url + "/ping", timeout=5)
        if status == 200 and isinstance(body, dict) and body.get("status") == "Healthy" and \
                (pid is None or _listening(pid, settings)):
            return
        if pid is not None and not psutil.pid_exists(pid):
            raise ServerError("MMS exited while starting")
        time.sleep(0.25)
    raise ServerError("MMS did not answer %s/ping within %d s" % (settings.inference_url, timeout))


def _clear_run_dir(run_dir, owner):
    """Before a start from ``run_dir``, whose pid file names ``owner`` (:class:`~.processes.Frontend`, no live
    frontend): remove the pid file and kill the orphan workers a dead server left there."""
    try:
        os.remove(processes.pid_file(run_dir))
        if owner.foreign:
            logger.warning("MMS: removed the stale pid file of %s, which names another process: %s", run_dir,
                           owner.foreign)
    except FileNotFoundError:
        pass
    killed = processes.kill_orphans(run_dir)
    if killed:
        logger.warning("MMS: killed %d worker process(es) of %s left by a server that ended without them "
                       "(pids %s)", len(killed), run_dir, ", ".join(map(str, killed)))


def start(run_dir, model_store, settings, max_request_size=32 << 20):
    """Start MMS for ``model_store`` with ``settings`` (its files in ``run_dir``) and wait up to
    ``settings.start_timeout`` s until it answers; returns the frontend's pid. A stale pid file and orphan workers
    of ``run_dir`` are removed first (:mod:`.processes`). :class:`JavaMissing`, an
    :class:`~gluon_resnest.utils.errors.OptionError` naming a port in use, or :class:`ServerError` naming the log
    to read."""
    java_command()
    if not os.path.isdir(model_store):
        raise FileNotFoundError("model store %s is not a folder" % model_store)
    run_dir = os.path.abspath(run_dir)
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(run_dir, sub), exist_ok=True)
    owner = processes.frontend(run_dir)
    if owner.pid is not None:
        raise ServerError("an MMS started from %s is running (pid %d); stop it first" % (run_dir, owner.pid))
    check_ports_free(settings)
    _clear_run_dir(run_dir, owner)
    config = write_config(run_dir, settings, model_store, max_request_size)
    env = dict(os.environ, OMP_NUM_THREADS=str(settings.worker_threads), LOG_LOCATION=os.path.join(run_dir, "logs"),
               METRICS_LOCATION=os.path.join(run_dir, "logs"), TEMP=os.path.join(run_dir, "tmp"))
    code, output = _mms(run_dir, "--start", "--mms-config", config, "--model-store", os.path.abspath(model_store),
                        env=env)
    pid = server_pid(run_dir)
    if code != 0 or pid is None:
        raise ServerError("MMS did not start: %s" % output.strip()[-500:])
    try:
        wait_healthy(settings, settings.start_timeout, pid)
    except ServerError as err:
        stop(run_dir)
        raise ServerError("%s; see %s" % (err, server_log(run_dir))) from None
    return pid


def serve(run_dir, model_store, names, settings):
    """Start MMS from ``run_dir`` serving the archives ``NAME.mar`` of ``model_store`` for each of ``names`` with
    ``settings``, and return the frontend's pid once every model's workers are up; on failure MMS is stopped and
    :class:`ServerError` names the log to read."""
    from .archive import archive_config

    paths = [os.path.join(model_store, name + ".mar") for name in names]
    missing = [path for path in paths if not os.path.isfile(path)]
    if not names or missing:
        raise FileNotFoundError("model store %s has no %s: package an export with scripts/serve.py package"
                                % (model_store, ", ".join(missing) if missing else ".mar archive"))
    cap = request_size_cap(max(archive_config(path).limits.max_bytes for path in paths))
    pid = start(run_dir, model_store, settings, cap)
    try:
        for name in names:
            register(settings, name + ".mar", name)
    except ServerError as err:
        stop(run_dir)
        reason = refusal(run_dir, name)
        raise ServerError("%s%s; see %s" % (err, " (%s)" % reason if reason else "", server_log(run_dir))) from None
    return pid


def server_log(run_dir):
    """MMS's log of the server started from ``run_dir`` (its workers' output included)."""
    return os.path.join(os.path.abspath(run_dir), "logs", "mms_log.log")


def refusal(run_dir, name):
    """The reason the handler logged for refusing to load model ``name`` (the last one), or ``None``."""
    marker = "resnest: model %s refuses to load: " % name
    try:
        with open(server_log(run_dir), encoding="utf-8", errors="replace") as handle:
            found = [line.split(marker, 1)[1].strip() for line in handle if marker in line]
    except OSError:
        return None
    return found[-1] if found else None


def register(settings, archive, name=None):
    """Register ``archive`` (a ``.mar`` in the model store, by file name) with ``settings``' workers and batching,
    and wait up to ``settings.start_timeout`` s until its workers are up; :class:`ServerError` with MMS's answer
    when they do not start. The response timeout is the server's (:func:`write_config`), for every model."""
    query = {"url": archive, "batch_size": settings.batch_size, "max_batch_delay": settings.max_batch_delay,
             "initial_workers": settings.workers, "synchronous": "true"}
    if name:
        query["model_name"] = name
    status, body = http_json("POST", settings.management_url + "/models?" + urllib.parse.urlencode(query),
                             timeout=settings.start_timeout)
    if status != 200:
        message = body.get("message", body) if isinstance(body, dict) else body
        raise ServerError("MMS did not load %s (%s): %s" % (archive, status, message))
    return body


def unregister(settings, name, timeout=120):
    """Unregister model ``name`` (its workers stop)."""
    return http_json("DELETE", settings.management_url + "/models/" + urllib.parse.quote(name), timeout=timeout)


def describe(settings, name):
    """MMS's description of model ``name`` (batch settings, workers with their ids and start times)."""
    status, body = http_json("GET", settings.management_url + "/models/" + urllib.parse.quote(name))
    if status != 200:
        raise ServerError("MMS does not describe model %s (%s): %s" % (name, status, body))
    return body


def stop(run_dir, timeout=STOP_TIMEOUT):
    """Stop the MMS started from ``run_dir``: SIGTERM to its frontend (SIGKILL after ``timeout`` s), then SIGKILL
    to its workers, which the frontend leaves behind; kill the orphan workers a dead server left in the run folder
    (:func:`~.processes.kill_orphans`) and remove the pid file. A pid file that names another process (pid reuse)
    leaves that process running; the :class:`StopReport` says why."""
    import psutil

    run_dir = os.path.abspath(run_dir)
    owner = processes.frontend(run_dir)
    orphans = processes.kill_orphans(run_dir)
    if owner.pid is not None:
        own = processes.worker_processes(run_dir)
        try:
            processes.terminate([psutil.Process(owner.pid)], timeout)
        except psutil.Error:
            pass
        processes.kill(own)
    try:
        os.remove(processes.pid_file(run_dir))
    except FileNotFoundError:
        pass
    return StopReport(owner.pid, orphans + processes.kill_orphans(run_dir), owner.foreign)


def worker_pids(run_dir, name):
    """``{pid: parent pid}`` of the worker processes of model ``name`` under the MMS started from ``run_dir``
    (:func:`~.processes.workers`)."""
    return processes.workers(run_dir, name)


def free_ports(count, low=20000, rng=None):
    """``count`` distinct loopback ports in ``low``..:data:`MAX_PORT` that nothing listens on when called (below the
    ephemeral range, which MMS's port limit excludes anyway)."""
    import random
    import socket

    rng, found = rng or random.Random(), []
    for _ in range(1000):
        port = rng.randrange(low, MAX_PORT + 1)
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
        if port not in found:
            found.append(port)
        if len(found) == count:
            return found
    raise ServerError("no %d free loopback ports found in %d..%d" % (count, low, MAX_PORT))
