"""Bounded HTTP downloads for the model store: the download policy and a transfer that holds its deadline.

:class:`DownloadPolicy` gathers every bound of a download; :meth:`DownloadPolicy.from_environment` is the one place
the store's environment variables are read (:data:`ENVIRONMENT`).

:func:`download` fetches one URL into a file. Its :class:`Deadline` covers connecting, waiting for the response,
reading the body and the pauses between retries: a watchdog shuts the connection down when the deadline passes, so
the download ends within a second of it however slowly the server sends (a byte at a time included). Each
connection attempt and each read is also bounded by the policy's ``timeout``. Name resolution, done by the
system's resolver, is outside these bounds.
"""
import dataclasses
import http.client
import logging
import math
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Optional

__all__ = ["DownloadPolicy", "Deadline", "ModelFileError", "DeadlineExceeded", "TooLarge", "download"]

logger = logging.getLogger(__name__)

#: The environment variables of the policy's fields.
ENVIRONMENT = {"lock_timeout": "GLUON_MODEL_LOCK_TIMEOUT", "deadline": "GLUON_MODEL_DOWNLOAD_DEADLINE",
               "max_bytes": "GLUON_MODEL_MAX_BYTES"}
#: Each field's type and whether it must be above 0 (else at least 0).
_BOUNDS = {"timeout": (float, True), "retries": (int, False), "backoff": (float, False),
           "lock_timeout": (float, False), "deadline": (float, True), "max_bytes": (int, True)}
_READ = 1 << 16


class ModelFileError(OSError):
    """A pretrained file could not be obtained or failed verification."""


class DeadlineExceeded(ModelFileError):
    """The file's overall download deadline passed."""


class TooLarge(ModelFileError):
    """A download or zip member is larger than the model's bound."""


@dataclasses.dataclass(frozen=True)
class DownloadPolicy:
    """How the store downloads a file.

    ``timeout``: seconds each connection attempt and each network read may take; ``retries``: further attempts per
    URL after a transient failure, the k-th after ``backoff * 2**(k-1)`` seconds; ``lock_timeout``: seconds to
    wait for another process downloading the same file; ``deadline``: seconds the whole download of one file may
    take, across its attempts and URLs (see :class:`Deadline`); ``max_bytes``: the largest file accepted (None:
    the model's bound, :func:`~gluon_resnest.models.store.max_file_bytes`).
    """
    timeout: float = 60.0
    retries: int = 3
    backoff: float = 1.0
    lock_timeout: float = 300.0
    deadline: float = 3600.0
    max_bytes: Optional[int] = None

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value, (kind, strict) = getattr(self, field.name), _BOUNDS[field.name]
            if value is None and field.name == "max_bytes":
                continue
            number = isinstance(value, int) if kind is int else isinstance(value, (int, float))
            if isinstance(value, bool) or not number or not math.isfinite(value) or value < 0 or (strict and not value):
                raise ValueError("download policy: %s must be %s %s, got %r%s"
                                 % (field.name, "> 0" if strict else ">= 0", "(an integer)" if kind is int else
                                    "(seconds)", value, " (from $%s when set)" % ENVIRONMENT[field.name]
                                    if field.name in ENVIRONMENT else ""))

    @classmethod
    def from_environment(cls, **fields):
        """The default policy with each field of :data:`ENVIRONMENT` read from its variable when set, then
        ``fields`` on top; ``ValueError`` naming the variable when its value is not a number."""
        values = {}
        for field, variable in ENVIRONMENT.items():
            text = os.environ.get(variable, "").strip()
            if text:
                kind = _BOUNDS[field][0]
                try:
                    values[field] = kind(text)
                except ValueError:
                    raise ValueError("$%s must be %s, got %r" % (variable, "a number of bytes" if kind is int
                                                                 else "a number of seconds", text)) from None
        values.update(fields)
        return cls(**values)


class Deadline:
    """The end of one file's download: ``seconds`` after it is created."""

    def __init__(self, seconds):
        self.seconds, self.at = seconds, time.monotonic() + seconds

    def remaining(self):
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def check(self, url, received):
        """:class:`DeadlineExceeded` naming ``url``, the deadline and the ``received`` bytes once it has passed."""
        if self.remaining() <= 0:
            raise DeadlineExceeded("download of %s passed its deadline of %g s (%d bytes received); raise $%s or "
                                   "place the file by hand" % (url, self.seconds, received, ENVIRONMENT["deadline"]))


class _Watchdog:
    """Shuts down the sockets of one download attempt when its deadline passes (a timer thread), and opens URLs
    through connections that register their sockets and connect within the time left."""

    def __init__(self, deadline):
        self.deadline, self.fired, self._sockets = deadline, False, []
        self._guard = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline.remaining()), self._fire)
        self._timer.daemon = True
        self.opener = urllib.request.build_opener(self._handler(urllib.request.HTTPHandler, "http_open",
                                                                http.client.HTTPConnection),
                                                  self._handler(urllib.request.HTTPSHandler, "https_open",
                                                                http.client.HTTPSConnection))

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()
        return False

    def _watch(self, sock):
        with self._guard:
            self._sockets.append(sock)
            fired = self.fired
        if fired:
            _shut_down(sock)

    def _fire(self):
        with self._guard:
            self.fired, sockets = True, list(self._sockets)
        for sock in sockets:
            _shut_down(sock)

    def _handler(self, handler, method, connection):
        watchdog = self

        class Watched(connection):
            def connect(self):
                self.timeout = max(0.01, min(self.timeout, watchdog.deadline.remaining()))
                super().connect()
                watchdog._watch(self.sock)

        def open_url(self, req):
            return self.do_open(Watched, req)
        return type("Watched" + handler.__name__, (handler,), {method: open_url})


def _shut_down(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _read(response, url, deadline, received):
    """The next bytes of ``response`` (whatever has arrived, at most 64 KiB; ``b""`` at the end); a failure after
    the deadline (the watchdog shut the connection) is :class:`DeadlineExceeded`."""
    try:
        return response.read1(_READ)
    except (OSError, http.client.HTTPException):
        deadline.check(url, received)
        raise


def _stream(response, path, url, limit, deadline):
    """Copy an HTTP ``response`` body to ``path`` with a progress bar; a body shorter than its Content-Length, or
    longer than ``limit`` bytes, or still arriving after ``deadline`` raises :class:`ModelFileError`."""
    from tqdm import tqdm

    expected = response.headers.get("Content-Length")
    expected = int(expected) if expected is not None else None
    if expected is not None and expected > limit:
        raise TooLarge("%s is %d bytes, more than the %d bytes a file of this model may have" % (url, expected, limit))
    received = 0
    with open(path, "wb") as out, tqdm(total=expected, unit="B", unit_scale=True, file=sys.stderr,
                                       desc=os.path.basename(url), leave=False) as bar:
        for chunk in iter(lambda: _read(response, url, deadline, received), b""):
            received += len(chunk)
            if received > limit:
                raise TooLarge("%s sends more than the %d bytes a file of this model may have" % (url, limit))
            deadline.check(url, received)
            out.write(chunk)
            bar.update(len(chunk))
    deadline.check(url, received)
    if expected is not None and received != expected:
        raise ModelFileError("truncated transfer from %s: got %d of %d bytes" % (url, received, expected))


def download(url, dest, policy, limit, deadline):
    """Fetch ``url`` into the file ``dest`` under ``policy`` (a :class:`DownloadPolicy`), at most ``limit`` bytes,
    retrying transient failures until ``deadline`` (a :class:`Deadline`); :class:`ModelFileError` naming ``url``
    otherwise."""
    last_error = None
    for attempt in range(policy.retries + 1):
        if attempt:
            time.sleep(min(policy.backoff * 2 ** (attempt - 1), max(0.0, deadline.remaining())))
        deadline.check(url, 0)
        try:
            with _Watchdog(deadline) as watchdog, watchdog.opener.open(url, timeout=policy.timeout) as response:
                _stream(response, dest, url, limit, deadline)
            return
        except (TooLarge, DeadlineExceeded):
            raise
        except urllib.error.HTTPError as err:
            last_error = err
            if err.code in (400, 401, 403, 404):
                break
        except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
            deadline.check(url, 0)
            last_error = err
        logger.warning("download of %s failed (attempt %d of %d): %s", url, attempt + 1, policy.retries + 1,
                       last_error)
    raise ModelFileError("could not download %s: %s" % (url, last_error))
