"""Publish a set of files under one path prefix as a unit.

Files are written into the staging folder of a :class:`~.fileio.Staging` for the prefix (owned by this process,
removed on leaving the ``with`` block; the staging folders of writers that died are removed by the next staging
beside them, see :mod:`.fileio`), then renamed into place together; the file named ``last`` (a manifest) is removed
first and renamed in last, so a set interrupted between renames has no manifest. Files a set at the
prefix may have that the new one does not produce are removed (or, without ``force``, the publish is refused naming
them). Several processes may publish the same bytes at once (one per host on a shared filesystem): each rename is
atomic and a file another publisher already removed is not an error; publishers of different bytes at once may
leave a mixture.
"""
import hashlib
import os

from .errors import ReplaceRefused
from .fileio import Staging

__all__ = ["StaleFilesError", "StagedFiles", "check_stale", "sha1_file"]


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


class StagedFiles(Staging):
    """Context manager staging the files of one set for ``prefix`` (a path such as ``out/resnest50``).

    Inside the ``with`` block write files under :attr:`prefix` (the staged twin of ``prefix``: same base name, in
    the staging folder) and call :meth:`publish`. On leaving, the staging folder is removed whether or not the set
    was published, so an exception publishes nothing.
    """

    @property
    def prefix(self):
        """The staged twin of the prefix (in the staging folder, while it is open)."""
        return self.path

    def publish(self, last, owned=(), force=False):
        """Rename every staged file into place, ``last`` (a base name) after all others; returns the final paths.

        ``owned`` lists the final paths a set at this prefix may have: those that exist and are not being
        published are stale. They are removed with ``force``; otherwise :class:`StaleFilesError` names them and
        nothing is published.
        """
        names = self.staged_names()
        if last not in names:
            raise ValueError("staged set for %s lacks its manifest %s" % (self.target, last))
        published = {os.path.join(self.directory, name) for name in names}
        stale = check_stale(owned, published, force)
        manifest = os.path.join(self.directory, last)
        _remove_if_present(manifest)
        for name in names:
            if name != last:
                self.rename_into_place(name)
        for path in stale:
            _remove_if_present(path)
        self.rename_into_place(last)
        return sorted(published)
