"""Start, configure, feed and stop a Multi Model Server (MMS) on loopback, from this interpreter's environment.

A server's state lives in its run folder: ``config.properties`` (written by :func:`write_config`), MMS's pid file
(MMS keeps it in the temporary directory, which :func:`start` points at the run folder, so several servers do not
share it), ``logs/`` (``mms_log.log``, which holds the workers' output too, access and metrics logs) and ``tmp/``
(the unpacked archives). The Java
frontend runs this interpreter's Python for its workers; MMS runs each worker single-threaded unless
``OMP_NUM_THREADS`` is set, which :func:`start` sets to ``threads``.
"""
import os
import shutil
import subprocess
import sys
import time
import urllib.parse

from ...utils.errors import ReportableError
from ...utils.fileio import atomic_write
from ...utils.processes import process_alive
from ...utils.threads import available_cpus
from .client import http_request

__all__ = ["ServerSettings", "JavaMissing", "ServerError", "java_command", "request_size_cap", "write_config",
           "http_json", "server_pid", "wait_healthy", "start", "serve", "server_log", "refusal", "register",
           "unregister", "describe", "stop", "worker_pids", "free_ports", "LOOPBACK", "MAX_PORT", "JAVA_PACKAGE"]

LOOPBACK = "127.0.0.1"
#: The largest port MMS binds (it takes a port as a Java short).
MAX_PORT = 32766
#: The Debian package that provides ``java`` for MMS.
JAVA_PACKAGE = "openjdk-17-jre-headless"
_PID_FILE = ".model_server.pid"


class JavaMissing(ReportableError, RuntimeError):
    """No ``java`` to run MMS's frontend."""


class ServerError(ReportableError, RuntimeError):
    """MMS did not start, did not answer, or refused a request (the message quotes it)."""


class ServerSettings:
    """How a server runs: its ``port`` (inference API) and ``management_port``; per model ``workers``,
    ``batch_size`` and ``max_batch_delay`` (ms MMS waits to fill a batch); ``threads`` (OpenMP threads per worker,
    default: the CPUs divided among the workers); ``job_queue_size`` (requests queued per model before MMS answers
    503) and ``response_timeout`` (seconds before an unresponsive worker is restarted)."""

    def __init__(self, port=8080, management_port=8081, workers=1, batch_size=1, max_batch_delay=50, threads=None,
                 job_queue_size=100, response_timeout=120):
        values = dict(port=port, management_port=management_port, workers=workers, batch_size=batch_size,
                      job_queue_size=job_queue_size, response_timeout=response_timeout)
        for key, value in values.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError("%s must be a positive integer, got %r" % (key, value))
        if not isinstance(max_batch_delay, int) or max_batch_delay < 0:
            raise ValueError("max_batch_delay must be a non-negative integer (ms), got %r" % (max_batch_delay,))
        for key in ("port", "management_port"):
            if values[key] > MAX_PORT:
                raise ValueError("%s must be at most %d (MMS refuses larger ports), got %d" % (key, MAX_PORT,
                                                                                            values[key]))
        if port == management_port:
            raise ValueError("the inference and management ports must differ, got %d for both" % port)
        self.__dict__.update(values, max_batch_delay=max_batch_delay,
                             threads=threads or max(1, available_cpus() // workers))

    @property
    def inference_url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    @property
    def management_url(self):
        return "http://%s:%d" % (LOOPBACK, self.management_port)

    def as_dict(self):
        return dict(self.__dict__)


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
    parse a body sent as JSON or text itself, and a malformed one kills the worker."""
    lines = {
        "inference_address": settings.inference_url,
        "management_address": settings.management_url,
        "model_store": os.path.abspath(model_store),
        "default_workers_per_model": settings.workers,
        "job_queue_size": settings.job_queue_size,
        "max_request_size": max_request_size,
        "max_response_size": 1 << 20,
        "default_response_timeout": settings.response_timeout,
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
    """The pid of the MMS frontend started from ``run_dir`` while it runs, else ``None``."""
    try:
        with open(os.path.join(run_dir, _PID_FILE)) as handle:
            pid = int(handle.readline())
    except (OSError, ValueError):
        return None
    return pid if process_alive(pid) else None


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


def wait_healthy(settings, timeout, pid_alive=lambda: True):
    """Poll ``/ping`` until MMS answers ``Healthy``; :class:`ServerError` after ``timeout`` s or when
    ``pid_alive()`` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, body = http_json("GET", settings.inference_url + "/ping", timeout=5)
        if status == 200 and isinstance(body, dict) and body.get("status") == "Healthy":
            return
        if not pid_alive():
            raise ServerError("MMS exited while starting")
        time.sleep(0.25)
    raise ServerError("MMS did not answer %s/ping within %d s" % (settings.inference_url, timeout))


def start(run_dir, model_store, settings, max_request_size=32 << 20, timeout=120):
    """Start MMS for ``model_store`` with ``settings`` (its files in ``run_dir``) and wait until it answers;
    returns the frontend's pid. :class:`JavaMissing`, or :class:`ServerError` naming the log to read."""
    java_command()
    if not os.path.isdir(model_store):
        raise FileNotFoundError("model store %s is not a folder" % model_store)
    run_dir = os.path.abspath(run_dir)
    for sub in ("logs", "tmp"):
        os.makedirs(os.path.join(run_dir, sub), exist_ok=True)
    if server_pid(run_dir):
        raise ServerError("an MMS started from %s is running (pid %d); stop it first" % (run_dir,
                                                                                       server_pid(run_dir)))
    config = write_config(run_dir, settings, model_store, max_request_size)
    env = dict(os.environ, OMP_NUM_THREADS=str(settings.threads), LOG_LOCATION=os.path.join(run_dir, "logs"),
               METRICS_LOCATION=os.path.join(run_dir, "logs"), TEMP=os.path.join(run_dir, "tmp"))
    code, output = _mms(run_dir, "--start", "--mms-config", config, "--model-store", os.path.abspath(model_store),
                        env=env)
    pid = server_pid(run_dir)
    if code != 0 or pid is None:
        raise ServerError("MMS did not start: %s" % output.strip()[-500:])
    try:
        wait_healthy(settings, timeout, lambda: server_pid(run_dir) is not None)
    except ServerError as err:
        stop(run_dir)
        raise ServerError("%s; see %s" % (err, server_log(run_dir))) from None
    return pid


def serve(run_dir, model_store, names, settings, timeout=300):
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
    pid = start(run_dir, model_store, settings, cap, timeout)
    try:
        for name in names:
            register(settings, name + ".mar", name, timeout=timeout)
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


def register(settings, archive, name=None, timeout=300):
    """Register ``archive`` (a ``.mar`` in the model store, by file name) with ``settings``' workers and batching,
    and wait until its workers are up; :class:`ServerError` with MMS's answer when they do not start."""
    query = {"url": archive, "batch_size": settings.batch_size, "max_batch_delay": settings.max_batch_delay,
             "initial_workers": settings.workers, "synchronous": "true",
             "response_timeout": settings.response_timeout}
    if name:
        query["model_name"] = name
    status, body = http_json("POST", settings.management_url + "/models?" + urllib.parse.urlencode(query),
                             timeout=timeout)
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


def stop(run_dir, timeout=60):
    """Stop the MMS started from ``run_dir`` (frontend and workers) and wait until it exits; returns whether one
    was running."""
    run_dir = os.path.abspath(run_dir)
    pid = server_pid(run_dir)
    if pid is None:
        return False
    _mms(run_dir, "--stop")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
    try:
        os.remove(os.path.join(run_dir, _PID_FILE))
    except FileNotFoundError:
        pass
    return True


def worker_pids(run_dir, name):
    """``{pid: parent pid}`` of the worker processes of model ``name`` under the MMS started from ``run_dir``: each
    worker is a listening process and the process it forks per frontend connection, which loads the model and
    answers its requests."""
    import psutil

    pid = server_pid(run_dir)
    if pid is None:
        return {}
    found = {}
    for child in psutil.Process(pid).children(recursive=True):
        try:
            cmd = child.cmdline()
            if any(part.endswith("model_service_worker.py") for part in cmd) and \
                    cmd[cmd.index("--model-name") + 1] == name:
                found[child.pid] = child.ppid()
        except (psutil.Error, ValueError, IndexError):
            continue
    return found


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
