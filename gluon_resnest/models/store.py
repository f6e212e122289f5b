"""Pretrained-weight store: locate, download, verify and cache the published ResNeSt ``.params`` files.

The cache follows GluonCV: files ``{root}/{name}-{sha1[:8]}.params`` where ``root`` is ``$MXNET_HOME/models``
(default ``~/.mxnet/models``), locked by ``{name}-{sha1[:8]}.lock`` (GluonCV's lock name, so GluonCV and we
exclude each other). Each catalogue record names its publisher's store (:data:`STORES`): GluonCV's for
resnest14-269 (``$MXNET_GLUON_REPO``), the official ResNeSt store for the fast variants (``$ENCODING_REPO``, as
the official package). A store's environment variable, when set, is the only place asked; otherwise its known
hosts are tried in turn. On top of that: a per-file lock so that many processes on one host (Horovod ranks)
download once, a progress bar, retries with exponential backoff, a socket timeout, download to a temporary file
then rename, a sha1 check before use (a corrupt file is fetched again once), zip members checked against path
traversal, and errors that name every URL tried and the path to place a file by hand.

A verified cached file is served without taking the lock or writing anything, so a read-only shared cache works.
Downloads are bounded: the zip and its member may not exceed :func:`max_file_bytes` (the catalogue's parameter
count as float32, plus 2% and 1 MiB for names and batch-norm statistics); the member is streamed through its sha1
before it is written, so a zip bomb or a wrong file writes nothing; and the timeouts, retries, lock wait and overall
deadline of each file come from one :class:`~gluon_resnest.models.download.DownloadPolicy` (default:
:meth:`~gluon_resnest.models.download.DownloadPolicy.from_environment`). The zip is downloaded and extracted in a
:class:`~gluon_resnest.utils.fileio.Staging` folder in the cache, which the next download or cache hit removes if
this process was killed (and never while its process lives, whatever container it runs in).
The sha1 of each published file is written in its record of :mod:`gluon_resnest.models.catalogue`.
"""
import contextlib
import dataclasses
import errno
import hashlib
import logging
import os
import re
import shutil
import zipfile
from typing import Tuple

import portalocker

from ..utils.fileio import Staging, remove_orphans
from ..utils.publish import sha1_file
from .catalogue import CATALOGUE
from .download import ENVIRONMENT, Deadline, DeadlineExceeded, DownloadPolicy, ModelFileError, TooLarge, download

__all__ = ["STORES", "Store", "DEFAULT_REPO", "ModelFileError", "DownloadPolicy", "default_root", "store_of",
           "check_sha1", "get_model_file", "read_model_file", "purge", "max_file_bytes", "is_sha1_tag"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Store:
    """Where a publisher serves its ``{name}-{sha1[:8]}.zip`` files: ``url_format`` has ``{base}`` (ending in
    '/') and ``{stem}``; ``env`` names the variable that replaces ``hosts`` (known bases, newest first)."""
    name: str
    env: str
    url_format: str
    hosts: Tuple[str, ...]

    def urls(self, stem):
        """The URLs to try, in order, for the zip of ``{stem}.params``."""
        bases = [os.environ[self.env]] if os.environ.get(self.env) else list(self.hosts)
        return [self.url_format.format(base=b if b.endswith("/") else b + "/", stem=stem) for b in bases]


#: GluonCV's model zoo bucket (default endpoint first, then other endpoints of the same bucket).
DEFAULT_REPO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"

#: The stores of the catalogue's ``store`` field.
STORES = {
    "gluoncv": Store("gluoncv", "MXNET_GLUON_REPO", "{base}gluon/models/{stem}.zip",
                     (DEFAULT_REPO, "https://apache-mxnet.s3-accelerate.amazonaws.com/",
                      "https://apache-mxnet.s3.amazonaws.com/")),
    "resnest": Store("resnest", "ENCODING_REPO", "{base}{stem}.zip",
                     ("https://github.com/zhanghang1989/ResNeSt/releases/download/weights_step2/",
                      "https://s3.us-west-1.wasabisys.com/resnest/gluon/",
                      "https://hangzh.s3-us-west-1.amazonaws.com/gluon/models/")),
}

_HEX = re.compile(r"^[0-9a-f]{8,40}$")


def default_root():
    """``$MXNET_HOME/models``, or ``~/.mxnet/models`` when MXNET_HOME is unset."""
    return os.path.join(os.path.expanduser(os.environ.get("MXNET_HOME", os.path.join("~", ".mxnet"))), "models")


def store_of(name):
    """The :class:`Store` publishing variant ``name`` (GluonCV's for names outside the catalogue)."""
    return STORES[CATALOGUE[name].pretrained.store if name in CATALOGUE else "gluoncv"]


def _sha1_matches(hexdigest, sha1):
    return hexdigest.startswith(sha1.lower())


def check_sha1(path, sha1):
    """True if the file's sha1 starts with ``sha1`` (a full digest or a prefix of at least 8 digits)."""
    return _sha1_matches(sha1_file(path), sha1)


def _read_verified(path, sha1):
    """The bytes of ``path`` if their sha1 starts with ``sha1``, else ``None`` (one read of the file)."""
    with open(path, "rb") as handle:
        data = handle.read()
    return data if _sha1_matches(hashlib.sha1(data).hexdigest(), sha1) else None


def max_file_bytes(name, policy=None):
    """The largest ``.params`` file (and zip) of variant ``name`` the store accepts, from its catalogue parameter
    count; the policy's ``max_bytes`` (default :meth:`DownloadPolicy.from_environment`: ``$GLUON_MODEL_MAX_BYTES``)
    overrides it (and bounds names outside the catalogue, default 2 GiB)."""
    policy = policy or DownloadPolicy.from_environment()
    if policy.max_bytes:
        return policy.max_bytes
    if name not in CATALOGUE:
        return 2 << 30
    return int(CATALOGUE[name].params * 4 * 1.02) + (1 << 20)


def _member_sha1(archive, member, limit, zip_path):
    """Hex sha1 of ``member`` of ``archive``, read in blocks; :class:`ModelFileError` past ``limit`` bytes."""
    digest, size = hashlib.sha1(), 0
    with archive.open(member) as src:
        for block in iter(lambda: src.read(1 << 20), b""):
            size += len(block)
            if size > limit:
                raise TooLarge("zip %s: member %s expands beyond the %d bytes a file of this model may have; "
                               "refused before writing it" % (zip_path, member, limit))
            digest.update(block)
    return digest.hexdigest()


def _extract_params(zip_path, member, dest, sha1, limit):
    """Extract the single expected member of ``zip_path`` to the file ``dest`` if its sha1 starts with ``sha1``
    (True), refusing any other layout and members over ``limit`` bytes; False (nothing written) on a mismatch."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            for name in names:
                if name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name:
                    raise ModelFileError("refusing zip %s: unsafe member path %r" % (zip_path, name))
            if member not in names:
                raise ModelFileError("zip %s does not contain %s (members: %s)" % (zip_path, member, names))
            if not _sha1_matches(_member_sha1(archive, member, limit, zip_path), sha1):
                return False
            with open(dest, "wb") as out, archive.open(member) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            return True
    except zipfile.BadZipFile as err:
        raise ModelFileError("downloaded file %s is not a valid zip: %s" % (zip_path, err)) from None


def is_sha1_tag(text):
    """True when ``text`` can be a ``tag``: a sha1 or a prefix of at least 8 hex digits."""
    return bool(_HEX.match(text.lower()))


def _resolve_sha1(name, tag):
    if tag is None:
        if name not in CATALOGUE:
            raise ValueError("no pretrained weights for %r; available: %s" % (name, ", ".join(CATALOGUE)))
        return CATALOGUE[name].pretrained.sha1
    sha1 = tag.lower()
    if not is_sha1_tag(sha1):
        raise ValueError("tag must be a sha1 or a prefix of at least 8 hex digits, got %r" % (tag,))
    published = CATALOGUE[name].pretrained.sha1 if name in CATALOGUE else None
    if published and published.startswith(sha1):
        return published
    return sha1


def _download_params(urls, stem, path, sha1, policy, limit, deadline):
    """``(url, matched)``: download the zip of ``{stem}.params`` from the first of ``urls`` that serves it, in a
    staging folder beside ``path``, and rename its member to ``path`` when its sha1 matches (``matched``); the
    error names every URL tried."""
    failures = []
    with Staging(path) as stage:
        zip_path = os.path.join(stage.folder, stem + ".zip")
        for url in urls:
            try:
                download(url, zip_path, policy, limit, deadline)
                matched = _extract_params(zip_path, stem + ".params", stage.path, sha1, limit)
                if matched:
                    stage.rename_into_place()
                return url, matched
            except ModelFileError as err:
                failures.append("%s: %s" % (url, err))
                if isinstance(err, DeadlineExceeded):
                    break
    raise ModelFileError("could not download %s.params from any of %d URLs:\n  %s"
                         % (stem, len(urls), "\n  ".join(failures)))


def _cached(path, sha1, verify):
    """``verify(path, sha1)`` of a cached file, or ``None`` when there is none (nothing is written)."""
    if not os.path.isfile(path):
        return None
    try:
        return verify(path, sha1)
    except OSError:
        return None


@contextlib.contextmanager
def _file_lock(lock_path, lock_timeout, wanted):
    """Hold the store's lock file ``lock_path``; :class:`ModelFileError` naming it after ``lock_timeout`` s, or when
    the cache folder is not writable (it then lacks ``wanted``, the verified file)."""
    lock = portalocker.Lock(lock_path, timeout=lock_timeout)
    try:
        lock.acquire()
    except portalocker.exceptions.LockException:
        raise ModelFileError("timed out after %g s waiting for the lock %s, held by another process downloading "
                             "the same file (set $%s to wait longer)"
                             % (lock_timeout, lock_path, ENVIRONMENT["lock_timeout"])) from None
    except OSError as err:
        if err.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise ModelFileError("the model cache %s is not writable (%s) and holds no verified %s; place the file "
                             "there, or set MXNET_HOME to a writable folder" % (os.path.dirname(lock_path),
                                                                                err.strerror, wanted)) from None
    try:
        yield
    finally:
        lock.release()


def _obtain(name, tag, root, verify, policy):
    """``(path, verify(path, sha1))`` of the cached or freshly downloaded file, downloading under ``policy``
    (default :meth:`DownloadPolicy.from_environment`) while ``verify`` returns a falsy value (at most twice). A
    verified cached file is returned without locking or writing, once the staging folders of dead downloads beside
    it are removed."""
    sha1, policy = _resolve_sha1(name, tag), policy or DownloadPolicy.from_environment()
    root = os.path.expanduser(root) if root is not None else default_root()
    stem = "%s-%s" % (name, sha1[:8])
    path = os.path.join(root, stem + ".params")
    verified = _cached(path, sha1, verify)
    if verified:
        remove_orphans(root)
        return path, verified
    store = store_of(name)
    urls = store.urls(stem)
    os.makedirs(root, exist_ok=True)
    limit, deadline = max_file_bytes(name, policy), Deadline(policy.deadline)
    with _file_lock(os.path.join(root, stem + ".lock"), policy.lock_timeout, path):
        if os.path.exists(path):
            verified = verify(path, sha1)
            if verified:
                return path, verified
            logger.warning("cached %s does not match sha1 %s; downloading it again", path, sha1)
        for attempt in range(2):
            try:
                url, matched = _download_params(urls, stem, path, sha1, policy, limit, deadline)
            except ModelFileError as err:
                raise ModelFileError(
                    "%s\nTo use %s offline, download one of these yourself and place %s.params (sha1 %s) at %s, or "
                    "set %s to a mirror (it must serve %s)."
                    % (err, name, stem, sha1, path, store.env, store.url_format.format(base="<mirror>/", stem=stem))
                ) from None
            verified = matched and verify(path, sha1)
            if verified:
                return path, verified
            if matched:
                os.remove(path)
            logger.warning("downloaded %s does not match sha1 %s (attempt %d of 2)", url, sha1, attempt + 1)
        raise ModelFileError("file downloaded from %s failed its sha1 check twice (expected %s); the server's copy "
                             "is corrupt or not the published file. Place a verified %s.params at %s by hand."
                             % (url, sha1, stem, path))


def get_model_file(name, tag=None, root=None, policy=None):
    """Path of the verified ``.params`` file of ``name``, downloading it if needed.

    ``tag`` selects a file other than the published one by its sha1 (prefix of at least 8 hex digits); by default
    the published sha1 of ``name`` is used. ``root`` defaults to :func:`default_root`. ``policy`` (a
    :class:`~gluon_resnest.models.download.DownloadPolicy`; default :meth:`DownloadPolicy.from_environment`) bounds
    each network read, the whole download of the file and the wait for another process downloading it. Raises
    :class:`ModelFileError` (naming the URL tried and where to place the file by hand, or the lock file) when it
    cannot be obtained.
    """
    return _obtain(name, tag, root, check_sha1, policy)[0]


def read_model_file(name, tag=None, root=None, policy=None):
    """``(path, bytes)`` of the verified file, as :func:`get_model_file`, reading the file once: the bytes whose
    sha1 was checked are the bytes returned."""
    return _obtain(name, tag, root, _read_verified, policy)


def purge(root=None):
    """Delete the cached ResNeSt files (and their lock files) under ``root``; returns the paths removed."""
    root = os.path.expanduser(root) if root is not None else default_root()
    if not os.path.isdir(root):
        return []
    pattern = re.compile(r"^(%s)-[0-9a-f]{8}\.(params|lock)$" % "|".join(map(re.escape, CATALOGUE)))
    removed = []
    for entry in sorted(os.listdir(root)):
        if pattern.match(entry):
            os.remove(os.path.join(root, entry))
            removed.append(os.path.join(root, entry))
    return removed
