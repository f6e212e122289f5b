"""Publish a set of files under one path prefix as a unit.

Files are written into a hidden staging folder beside the prefix (``.NAME.staging-HOST-PID-RANDOM``), then renamed
into place together; the file named ``last`` (a manifest) is removed first and renamed in last, so a set interrupted
between renames has no manifest. Files a set at the prefix may have that the new one does not produce are removed
(or, without ``force``, the publish is refused naming them). Staging folders of crashed runs on this host (their
process is gone; also those named ``.NAME.staging-PID``, without a host) are removed when the next staging starts;
other hosts' folders on a shared filesystem are left alone. Several processes may publish the same bytes at once
(one per host on a shared filesystem): each rename is atomic and a file another publisher already removed is not an
error; publishers of different bytes at once may leave a mixture.
"""
import hashlib
import os
import secrets
import shutil

from .errors import ReplaceRefused
from .processes import host_tag as _host_tag
from .processes import process_alive as _process_alive

__all__ = ["StaleFilesError", "StagedFiles", "check_stale", "sha1_file"]

_STAGING = ".staging-"


class StaleFilesError(ReplaceRefused):
    """Files already at the prefix that the new set does not produce would survive the publish (the message names
    them)."""


def sha1_file(path, chunk=1 << 20):
    """Hex sha1 of the file at ``path`` (read in ``chunk``-byte blocks)."""
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def check_stale(owned, produced, force=False):
    """The paths in ``owned`` (every file a set may have) that exist but are not in ``produced`` (the new set's
    final paths): returned with ``force``, else :class:`StaleFilesError` names them."""
    produced = {os.path.abspath(path) for path in produced}
    stale = sorted(path for path in {os.path.abspath(p) for p in owned}
                   if os.path.lexists(path) and path not in produced)
    if stale and not force:
        raise StaleFilesError("%s holds files of an export that this one does not produce: %s; remove them or "
                              "pass {force} to replace the whole set"
                              % (os.path.dirname(stale[0]), ", ".join(stale)))
    return stale


def _remove_if_present(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _remove_crashed_staging(directory, base):
    """Remove this host's ``.BASE.staging-HOST-PID-RANDOM`` folders (and ``.BASE.staging-PID`` ones, without a host)
    in ``directory`` whose process has exited; returns their paths."""
    legacy, ours = "." + base + _STAGING, "." + base + _STAGING + _host_tag() + "-"
    removed = []
    for entry in os.listdir(directory):
        if entry.startswith(ours):
            pid = entry[len(ours):].split("-")[0]
        elif entry.startswith(legacy):
            pid = entry[len(legacy):]
        else:
            continue
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(os.path.join(directory, entry), ignore_errors=True)
            removed.append(os.path.join(directory, entry))
    return removed


class StagedFiles:
    """Context manager staging the files of one set for ``prefix`` (a path such as ``out/resnest50``).

    Inside the ``with`` block write files under :attr:`prefix` (the staged twin of ``prefix``: same base name, in
    the staging folder) and call :meth:`publish`. On leaving, the staging folder is removed whether or not the set
    was published, so an exception publishes nothing.
    """

    def __init__(self, prefix):
        self.final_prefix = os.path.abspath(prefix)
        self.directory, self.base = os.path.split(self.final_prefix)
        self.root = os.path.join(self.directory, "." + self.base + _STAGING
                                 + "%s-%d-%s" % (_host_tag(), os.getpid(), secrets.token_hex(4)))
        self.prefix = os.path.join(self.root, self.base)

    def __enter__(self):
        os.makedirs(self.directory, exist_ok=True)
        _remove_crashed_staging(self.directory, self.base)
        os.mkdir(self.root)
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.root, ignore_errors=True)
        return False

    def staged_names(self):
        """Base names of the files staged so far, sorted."""
        return sorted(name for name in os.listdir(self.root) if os.path.isfile(os.path.join(self.root, name)))

    def publish(self, last, owned=(), force=False):
        """Rename every staged file into place, ``last`` (a base name) after all others; returns the final paths.

        ``owned`` lists the final paths a set at this prefix may have: those that exist and are not being
        published are stale. They are removed with ``force``; otherwise :class:`StaleFilesError` names them and
        nothing is published.
        """
        names = self.staged_names()
        if last not in names:
            raise ValueError("staged set for %s lacks its manifest %s" % (self.final_prefix, last))
        published = {os.path.join(self.directory, name) for name in names}
        stale = check_stale(owned, published, force)
        manifest = os.path.join(self.directory, last)
        _remove_if_present(manifest)
        for name in names:
            if name != last:
                os.replace(os.path.join(self.root, name), os.path.join(self.directory, name))
        for path in stale:
            _remove_if_present(path)
        os.replace(os.path.join(self.root, last), manifest)
        return sorted(published)
