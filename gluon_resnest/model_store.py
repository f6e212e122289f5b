"""Pretrained-weight store: locate, download, verify and cache the published ResNeSt ``.params`` files.

Layout and URLs follow GluonCV: files ``{root}/{name}-{sha1[:8]}.params`` where ``root`` is
``$MXNET_HOME/models`` (default ``~/.mxnet/models``), fetched as
``{MXNET_GLUON_REPO}gluon/models/{name}-{sha1[:8]}.zip``. On top of that: a per-file lock so that many processes
on one host (Horovod ranks) download once, a progress bar, retries with exponential backoff, a socket timeout,
download to a temporary file then rename, a sha1 check before use (a corrupt file is fetched again once), zip
members checked against path traversal, and errors that name the URL tried and the path to place a file by hand.
"""
import hashlib
import logging
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

import portalocker

from .fileio import atomic_write

__all__ = ["SHA1", "DEFAULT_REPO", "ModelFileError", "default_root", "repo_url", "short_hash", "file_url",
           "check_sha1", "get_model_file", "purge"]

logger = logging.getLogger(__name__)

#: sha1 of each published file: resnest14-269 from the GluonCV model zoo, the fast variants from the official repo.
SHA1 = {
    "resnest14": "7e0b0cae2fd7e9084d1e498b858af1429a6eb1cb",
    "resnest26": "364590740605b6a2b95f5bb77436d781a817436f",
    "resnest50": "bcfefe1dd1dd1ef5cfed5563123c1490ea37b42e",
    "resnest101": "5da943b3230f071525a98639945a6b3b3a45ac95",
    "resnest200": "0c5d117df664ace220aa6fc2922c094bb079d381",
    "resnest269": "11ae7f5da2bcdbad05ba7e84f9b74383e717f3e3",
    "resnest50_fast_1s1x64d": "5e16dbe56f1fba8e1bc2faddd91f874bfbd74193",
    "resnest50_fast_2s1x64d": "85eb779a5e313d74b5e5390dae02aa8082a0f469",
    "resnest50_fast_4s1x64d": "3f215532c6d8e07a10df116309993d4479fc3e4b",
    "resnest50_fast_1s2x40d": "af3514c2ec757a3a9666a75b82f142ed47d55bee",
    "resnest50_fast_2s2x40d": "2db13245aa4967cf5e8617cb4911880dd41628a4",
    "resnest50_fast_4s2x40d": "b24d515797832e02da4da9c8a15effd5e44cfb56",
    "resnest50_fast_1s4x24d": "7318153ddb5e542a20cc6c58192f3c6209cff9ed",
}

DEFAULT_REPO = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
_HEX = re.compile(r"^[0-9a-f]{8,40}$")


class ModelFileError(OSError):
    """A pretrained file could not be obtained or failed verification."""


def default_root():
    """``$MXNET_HOME/models``, or ``~/.mxnet/models`` when MXNET_HOME is unset."""
    return os.path.join(os.path.expanduser(os.environ.get("MXNET_HOME", os.path.join("~", ".mxnet"))), "models")


def repo_url():
    """The download repository: ``$MXNET_GLUON_REPO`` (with a trailing '/') or GluonCV's default."""
    url = os.environ.get("MXNET_GLUON_REPO", DEFAULT_REPO)
    return url if url.endswith("/") else url + "/"


def short_hash(name):
    """First 8 hex digits of the published sha1 of ``name``."""
    if name not in SHA1:
        raise ValueError("no pretrained weights for %r; available: %s" % (name, ", ".join(SHA1)))
    return SHA1[name][:8]


def file_url(file_stem):
    """URL of the zip holding ``{file_stem}.params``."""
    return "%sgluon/models/%s.zip" % (repo_url(), file_stem)


def check_sha1(path, sha1):
    """True if the file's sha1 starts with ``sha1`` (a full digest or a prefix of at least 8 digits)."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest().startswith(sha1.lower())


def _download(url, dest, timeout, retries, backoff):
    """Fetch ``url`` into ``dest`` (complete or not at all), retrying transient failures."""
    from tqdm import tqdm

    last_error = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        tmp = None
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                expected = response.headers.get("Content-Length")
                expected = int(expected) if expected is not None else None
                fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=".download-", suffix=".part")
                received = 0
                with os.fdopen(fd, "wb") as out, tqdm(total=expected, unit="B", unit_scale=True, file=sys.stderr,
                                                      desc=os.path.basename(url), leave=False) as bar:
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
            if expected is not None and received != expected:
                raise ModelFileError("truncated transfer from %s: got %d of %d bytes" % (url, received, expected))
            os.replace(tmp, dest)
            return
        except urllib.error.HTTPError as err:
            last_error = err
            if err.code in (400, 401, 403, 404):
                break
        except (urllib.error.URLError, OSError) as err:
            last_error = err
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
        logger.warning("download of %s failed (attempt %d of %d): %s", url, attempt + 1, retries + 1, last_error)
    raise ModelFileError("could not download %s: %s" % (url, last_error))


def _extract_params(zip_path, member, dest):
    """Extract the single expected member of ``zip_path`` to ``dest`` atomically, refusing any other layout."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = archive.namelist()
            for name in names:
                if name.startswith(("/", "\\")) or ".." in re.split(r"[/\\]", name) or ":" in name:
                    raise ModelFileError("refusing zip %s: unsafe member path %r" % (zip_path, name))
            if member not in names:
                raise ModelFileError("zip %s does not contain %s (members: %s)" % (zip_path, member, names))
            def write(tmp):
                with open(tmp, "wb") as out, archive.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            atomic_write(dest, write)
    except zipfile.BadZipFile as err:
        raise ModelFileError("downloaded file %s is not a valid zip: %s" % (zip_path, err)) from None


def get_model_file(name, tag=None, root=None, timeout=60.0, retries=3, backoff=1.0, lock_timeout=None):
    """Path of the verified ``.params`` file of ``name``, downloading it if needed.

    ``tag`` selects a file other than the published one by its sha1 (prefix of at least 8 hex digits); by default
    the published sha1 of ``name`` is used. ``root`` defaults to :func:`default_root`. Raises
    :class:`ModelFileError` when the file cannot be fetched or fails its sha1 check twice; the message names the
    URL tried and where to place the file by hand.
    """
    if tag is None:
        sha1 = SHA1.get(name)
        if sha1 is None:
            raise ValueError("no pretrained weights for %r; available: %s" % (name, ", ".join(SHA1)))
    else:
        sha1 = tag.lower()
        if not _HEX.match(sha1):
            raise ValueError("tag must be a sha1 or a prefix of at least 8 hex digits, got %r" % (tag,))
        if name in SHA1 and SHA1[name].startswith(sha1):
            sha1 = SHA1[name]
    root = os.path.expanduser(root) if root is not None else default_root()
    stem = "%s-%s" % (name, sha1[:8])
    path = os.path.join(root, stem + ".params")
    url = file_url(stem)
    os.makedirs(root, exist_ok=True)
    if lock_timeout is None:
        lock_timeout = float(os.environ.get("GLUON_MODEL_LOCK_TIMEOUT", 300))
    with portalocker.Lock(path + ".lock", timeout=lock_timeout):
        if os.path.exists(path):
            if check_sha1(path, sha1):
                return path
            logger.warning("cached %s does not match sha1 %s; downloading it again", path, sha1)
        for attempt in range(2):
            zip_path = os.path.join(root, ".%s.zip" % stem)
            try:
                _download(url, zip_path, timeout, retries, backoff)
                _extract_params(zip_path, stem + ".params", path)
            except ModelFileError as err:
                raise ModelFileError(
                    "%s\nTo use %s offline, download %s yourself and place %s.params (sha1 %s) at %s, or set "
                    "MXNET_GLUON_REPO to a mirror (it must serve gluon/models/%s.zip)."
                    % (err, name, url, stem, sha1, path, stem)) from None
            finally:
                if os.path.exists(zip_path):
                    os.remove(zip_path)
            if check_sha1(path, sha1):
                return path
            os.remove(path)
            logger.warning("downloaded %s does not match sha1 %s (attempt %d of 2)", url, sha1, attempt + 1)
        raise ModelFileError("file downloaded from %s failed its sha1 check twice (expected %s); the server's copy "
                             "is corrupt or not the published file. Place a verified %s.params at %s by hand."
                             % (url, sha1, stem, path))


def purge(root=None):
    """Delete the cached ResNeSt files (and their lock files) under ``root``; returns the paths removed."""
    root = os.path.expanduser(root) if root is not None else default_root()
    if not os.path.isdir(root):
        return []
    pattern = re.compile(r"^(%s)-[0-9a-f]{8}\.params(\.lock)?$" % "|".join(map(re.escape, SHA1)))
    removed = []
    for entry in sorted(os.listdir(root)):
        if pattern.match(entry):
            os.remove(os.path.join(root, entry))
            removed.append(os.path.join(root, entry))
    return removed
