"""An export as an MMS model archive (``NAME.mar``, built by ``model-archiver``).

The archive holds the files the export's manifest (``PREFIX-meta.json``) lists, the manifest itself,
``serving.json`` (:class:`~.config.ServingConfig`, with the manifest's sha1, so that every file of the archive is
covered by a checked sha1, the class names included) and a one-line handler module that imports
:mod:`gluon_resnest.deploy.serving.handler`: the server's Python needs gluon_resnest (with mxnet, numpy, Pillow
and the runtime of the file served), not the archive's author's checkout. Before archiving, the export is loaded
once with the settings the server will use, so an archive that cannot load is never written, and its staged copy
is checked against the manifest's sha1s. The archive is built in a staging folder beside its destination
(:class:`~gluon_resnest.utils.fileio.Staging`: a killed packaging leaves nothing the next write there does not
remove) and renamed into place: it appears whole or not at all.
"""
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from typing import Optional

from ...utils.errors import ReplaceRefused, ReportableError
from ...utils.fileio import Staging, atomic_write
from ...utils.options import option
from ...utils.publish import sha1_file
from ..export_files import Export, ExportMismatchError, meta_path
from .config import CONFIG_NAME, ServingConfig
from .service import ClassifierService

__all__ = ["package_export", "ArchiveOptions", "default_name", "archive_config", "archive_members", "ArchiveError",
           "HANDLER_MODULE", "HANDLER"]

#: The handler module written into every archive, and MMS's handler entry (``module:function``).
HANDLER_MODULE = "resnest_handler"
HANDLER = HANDLER_MODULE + ":handle"
_HANDLER_SOURCE = ('"""MMS handler of a gluon_resnest model archive (scripts/serve.py package)."""\n'
                   "from gluon_resnest.deploy.serving.handler import handle  # noqa: F401\n")
#: model-archiver's rule for model names.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")


class ArchiveError(ReportableError, RuntimeError):
    """model-archiver failed, or wrote an archive without the expected files."""


@dataclasses.dataclass(frozen=True)
class ArchiveOptions:
    """Where :func:`package_export` writes the archive (``scripts/serve.py package``'s options)."""
    out: Optional[str] = option(None, "archive path (default: NAME.mar beside the export)", type=str)
    name: Optional[str] = option(None, "model name in MMS (default: the file's base name, .onnx as -onnx)",
                                 type=str)
    force: bool = option(False, "replace an existing archive")


def default_name(model):
    """The model name for serving ``model`` (an export path as ``scripts/predict.py`` takes it): its base name,
    ``.onnx`` written ``-onnx`` (``r50``, ``r50-onnx``, ``r50-int8``, ``r50-int8-onnx``)."""
    base = os.path.basename(os.path.normpath(model))
    return base[:-len(".onnx")] + "-onnx" if base.endswith(".onnx") else base


def _export_files(model):
    """``(prefix, {base name: sha1})`` of the files an archive of ``model`` holds: the manifest's files and
    itself."""
    export = Export.open(model, verify=False)
    files = export.file_sha1s()
    files[os.path.basename(export.meta_path)] = sha1_file(export.meta_path)
    return export.prefix, files


def _check_staged(prefix, files, folder):
    """``ExportMismatchError`` naming the export's file when a staged copy in ``folder`` differs from the sha1 in
    ``files`` (the export changed while it was being packaged)."""
    source = os.path.dirname(os.path.abspath(prefix))
    for name, sha1 in sorted(files.items()):
        if sha1_file(os.path.join(folder, name)) != sha1:
            raise ExportMismatchError("%s changed while it was being packaged; package it again"
                                      % os.path.join(source, name))


def _stage_export(prefix, names, folder):
    """Hard-link (else copy) the export's files ``names`` from beside ``prefix`` into ``folder``."""
    source = os.path.dirname(os.path.abspath(prefix))
    for name in names:
        src, dst = os.path.join(source, name), os.path.join(folder, name)
        if not os.path.isfile(src):
            raise FileNotFoundError("%s is missing but listed in %s; export again" % (src, meta_path(prefix)))
        try:
            os.link(src, dst)
        except OSError:
            shutil.copyfile(src, dst)


def archive_config(path):
    """The :class:`~.config.ServingConfig` inside the archive at ``path``; ``ValueError`` naming it when it has
    none (not an archive of :func:`package_export`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read(CONFIG_NAME).decode("utf-8"))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as err:
        raise ValueError("%s is not an archive of scripts/serve.py package (%s)" % (path, err)) from None
    try:
        return ServingConfig.from_dict(data)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError("%s holds a malformed %s (%s)" % (path, CONFIG_NAME, err)) from None


def archive_members(path):
    """Sorted member names of the archive at ``path``."""
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


def _run_archiver(name, model_dir, export_dir):
    """``model-archiver`` (this interpreter's) of ``model_dir`` as ``export_dir/NAME.mar``; returns its path."""
    cmd = [sys.executable, "-m", "model_archiver.model_packaging", "--model-name", name, "--model-path", model_dir,
           "--handler", HANDLER, "--runtime", "python", "--export-path", export_dir]
    result = subprocess.run(cmd, capture_output=True, text=True)
    built = os.path.join(export_dir, name + ".mar")
    if result.returncode != 0 or not os.path.isfile(built):
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ArchiveError("model-archiver failed (exit %d): %s" % (result.returncode,
                                                                    lines[-1] if lines else "no output"))
    return built


def package_export(model, out=None, name=None, config=None, force=False):
    """Write the MMS archive of ``model`` (``PREFIX``, ``PREFIX-int8``, ``PREFIX.onnx`` or ``PREFIX-int8.onnx``)
    to ``out`` (default ``NAME.mar`` beside the export) and return its path.

    ``name`` is the model's name in MMS (default :func:`default_name`); ``config`` a
    :class:`~.config.ServingConfig` whose ``model`` and ``meta_sha1`` are replaced by ``model``'s base name and
    the sha1 of its export's manifest (default: the export's defaults). An existing ``out`` is replaced only with
    ``force`` (``FileExistsError`` otherwise). ``ExportMismatchError`` when a file differs from the manifest's sha1
    or is not part of the export; ``ValueError`` for settings the export cannot be served with. Errors name the
    export's own files.
    """
    name = name or default_name(model)
    if not _NAME.match(name):
        raise ValueError("model name %r may hold only letters, digits, '_', '-' and '.', and must start with a "
                         "letter or digit" % name)
    out = os.path.abspath(out or os.path.join(os.path.dirname(os.path.abspath(model)), name + ".mar"))
    if not out.endswith(".mar"):
        raise ValueError("the archive's file name must end in .mar, got %s" % out)
    if os.path.exists(out) and not force:
        raise ReplaceRefused("%s exists; remove it or pass {force} to replace it" % out)
    prefix, files = _export_files(model)
    names = sorted(files)
    base = os.path.basename(model)
    config = dataclasses.replace(config or ServingConfig(base), model=base,
                                 meta_sha1=files[os.path.basename(meta_path(prefix))])
    ClassifierService(os.path.dirname(os.path.abspath(model)), config)
    stage = Staging(out).open()
    model_dir, export_dir = os.path.join(stage.folder, "model"), os.path.join(stage.folder, "archive")
    try:
        os.mkdir(model_dir)
        os.mkdir(export_dir)
        _stage_export(prefix, names, model_dir)
        _check_staged(prefix, files, model_dir)
        atomic_write(os.path.join(model_dir, CONFIG_NAME), config.as_dict())
        atomic_write(os.path.join(model_dir, HANDLER_MODULE + ".py"), _HANDLER_SOURCE)
        built = _run_archiver(name, model_dir, export_dir)
        expected = sorted(names + [CONFIG_NAME, HANDLER_MODULE + ".py", "MAR-INF/MANIFEST.json"])
        if archive_members(built) != expected:
            raise ArchiveError("model-archiver wrote %s with members %s, expected %s"
                               % (built, archive_members(built), expected))
        os.replace(built, out)
    finally:
        stage.close()
    return out
