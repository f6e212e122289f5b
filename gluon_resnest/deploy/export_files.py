"""An export's file set: its members, its manifest, and the one object that opens, verifies, stages and publishes it.

An export at ``PREFIX`` is a set of **members** (:data:`MEMBER_KINDS`), each a file or a pair of files named
``PREFIX`` + the member's tag + the suffixes of its format, plus ``PREFIX-meta.json``, the manifest
(:class:`~gluon_resnest.deploy.export_meta.ExportMeta`): the description of the input, the data config, the
class names and, per member, its files with their sha1 and how it was checked (runtime and precision).

========== ========= ======== ========= ===================================== ==============================
member     tag       format   precision files                                  a user names it as
========== ========= ======== ========= ===================================== ==============================
symbol     (none)    mxnet    f32       ``PREFIX-symbol.json``, ``-0000.params`` ``PREFIX`` (the whole export)
onnx       (none)    onnx     f32       ``PREFIX.onnx``                        ``PREFIX.onnx``
int8       ``-int8`` mxnet    int8      ``PREFIX-int8-symbol.json``, ...       ``PREFIX-int8``
int8_onnx  ``-int8`` onnx     int8      ``PREFIX-int8.onnx``                   ``PREFIX-int8.onnx``
bf16       ``-bf16`` mxnet    bf16      ``PREFIX-bf16-symbol.json``, ...       ``PREFIX-bf16``
========== ========= ======== ========= ===================================== ==============================

:meth:`Export.open` takes any of those names, reads and checks the manifest and the files' sha1s;
:class:`ExportWriter` stages a new export beside the prefix and publishes it as one unit, the manifest last
(:class:`~gluon_resnest.utils.publish.StagedFiles`). Which member runs in which runtime is
:func:`~gluon_resnest.deploy.runtime_rule.choose_runtime`'s answer.
"""
import dataclasses
import os
from typing import Tuple

from ..utils.fileio import atomic_write
from ..utils.publish import StagedFiles, check_stale, sha1_file
from .export_meta import META_SUFFIX, ExportMeta, Member, read_meta

__all__ = ["MemberKind", "MEMBER_KINDS", "Export", "ExportWriter", "ExportMismatchError", "ExportMissing",
           "meta_path", "export_file_paths", "stale_files"]


@dataclasses.dataclass(frozen=True)
class MemberKind:
    """One kind of export member: ``tag`` goes after the prefix in its file names, ``format`` ("mxnet": a
    symbol/params pair, "onnx": one ONNX file) gives the suffixes, ``precision`` ("f32", "int8", "bf16") is what
    its graph computes in."""
    name: str
    tag: str
    format: str
    precision: str

    @property
    def suffixes(self) -> Tuple[str, ...]:
        """The suffixes after ``PREFIX`` of the member's files."""
        if self.format == "mxnet":
            return (self.tag + "-symbol.json", self.tag + "-0000.params")
        return (self.tag + ".onnx",)

    @property
    def path_suffix(self):
        """What a user appends to ``PREFIX`` to name this member ("" for the float32 symbol/params, which
        ``PREFIX`` itself names)."""
        return self.tag if self.format == "mxnet" else self.tag + ".onnx"


#: Every member an export may have, in the order they are written.
MEMBER_KINDS = {kind.name: kind for kind in (
    MemberKind("symbol", "", "mxnet", "f32"),
    MemberKind("onnx", "", "onnx", "f32"),
    MemberKind("int8", "-int8", "mxnet", "int8"),
    MemberKind("int8_onnx", "-int8", "onnx", "int8"),
    MemberKind("bf16", "-bf16", "mxnet", "bf16"),
)}

#: Files an export written by gluon_resnest 0.2 may hold beside its members (the INT8 member's own manifest).
_EARLIER_FILES = ("-int8" + META_SUFFIX,)


class ExportMismatchError(ValueError):
    """The files at an export prefix are not the set its manifest lists."""


class ExportMissing(FileNotFoundError):
    """No export manifest at the path given."""


def meta_path(prefix):
    """The manifest of the export at ``prefix``: ``PREFIX-meta.json``."""
    return prefix + META_SUFFIX


def export_file_paths(prefix):
    """Every path an export at ``prefix`` may own (all members' files, its manifest and files of exports written
    by gluon_resnest 0.2): re-exporting there replaces or removes them."""
    suffixes = [s for kind in MEMBER_KINDS.values() for s in kind.suffixes] + [META_SUFFIX] + list(_EARLIER_FILES)
    return [prefix + suffix for suffix in suffixes]


def _produced(prefix, kinds):
    return [prefix + s for name in kinds for s in MEMBER_KINDS[name].suffixes] + [meta_path(prefix)]


def stale_files(prefix, kinds, force=True):
    """The existing files at ``prefix`` that an export with the members ``kinds`` would leave behind (files of an
    export already there that this one does not produce), which publishing it removes; without ``force`` their
    existence is a :class:`~gluon_resnest.utils.publish.StaleFilesError`."""
    prefix = os.path.abspath(prefix)
    return check_stale(export_file_paths(prefix), _produced(prefix, kinds), force)


def _resolve(path):
    """``(prefix, member name or None, its ExportMeta)`` of an export path: ``PREFIX.onnx`` names the ONNX member
    of the export at ``PREFIX`` when its manifest lists one (else ``PREFIX.onnx`` may be the prefix of an export of
    its own, such as ``a-int8`` for ``a-int8.onnx``); the longest member suffix is tried first.
    :class:`ExportMismatchError` when the path names a member the export at its prefix lacks; :class:`ExportMissing`
    when no manifest is found."""
    kinds = sorted((k for k in MEMBER_KINDS.values() if k.path_suffix), key=lambda k: -len(k.path_suffix))
    lacking, guess = None, None
    for kind in kinds:
        if path.endswith(kind.path_suffix) and len(path) > len(kind.path_suffix):
            prefix = path[:-len(kind.path_suffix)]
            guess = guess or prefix
            if os.path.isfile(meta_path(prefix)):
                meta = read_meta(meta_path(prefix))
                if kind.name in meta.members:
                    return prefix, kind.name, meta
                lacking = lacking or (kind, prefix)
    if os.path.isfile(meta_path(path)):
        return path, None, read_meta(meta_path(path))
    if lacking:
        kind, prefix = lacking
        raise ExportMismatchError("%s is not part of the export described by %s (it has no %s member); export again "
                                  "with the option that writes it" % (path, meta_path(prefix), kind.name))
    raise ExportMissing("%s is missing: export with scripts/export.py, which writes it (an export interrupted while "
                        "publishing has none)" % meta_path(guess or path))


class Export:
    """A published export: its ``prefix``, its :class:`~gluon_resnest.deploy.export_meta.ExportMeta` ``meta``,
    and ``designated``, the member a path named (``None`` for the prefix itself: the export as a whole)."""

    def __init__(self, prefix, meta, designated=None):
        self.prefix, self.meta, self.designated = os.path.abspath(prefix), meta, designated

    @classmethod
    def open(cls, path, verify=True):
        """The export ``path`` names (``PREFIX``, ``PREFIX.onnx``, ``PREFIX-int8``, ``PREFIX-int8.onnx``; see the
        module table). :class:`ExportMissing` without a manifest; ``ValueError`` naming the manifest when it is
        malformed; with ``verify``, :meth:`verify`."""
        prefix, designated, meta = _resolve(path)
        export = cls(prefix, meta, designated)
        if verify:
            export.verify()
        return export

    @property
    def meta_path(self):
        return meta_path(self.prefix)

    def member(self, name):
        """The :class:`~gluon_resnest.deploy.export_meta.Member` ``name`` (``KeyError`` when absent)."""
        return self.meta.members[name]

    def files(self, name):
        """Absolute paths of member ``name``'s files (those its kind defines, in order)."""
        return [self.prefix + suffix for suffix in MEMBER_KINDS[name].suffixes]

    def member_prefix(self, name):
        """``PREFIX`` + the member's tag: what MXNet's ``export``/``imports`` take for a symbol/params member."""
        return self.prefix + MEMBER_KINDS[name].tag

    def file_sha1s(self):
        """``{base name: sha1}`` of every member file the manifest lists."""
        return {name: sha1 for member in self.meta.members.values() for name, sha1 in member.files.items()}

    def file_names(self):
        """Base names of every file of the export, the manifest last."""
        listed = sorted(name for member in self.meta.members.values() for name in member.files)
        return listed + [os.path.basename(self.meta_path)]

    def verify(self):
        """Raise :class:`ExportMismatchError` unless every file the manifest lists is present with its sha1."""
        directory = os.path.dirname(self.prefix)
        for member in self.meta.members.values():
            for name, sha1 in sorted(member.files.items()):
                path = os.path.join(directory, name)
                if not os.path.isfile(path):
                    raise ExportMismatchError("%s is missing but listed in %s; the export is incomplete, export "
                                              "again" % (path, self.meta_path))
                if sha1_file(path) != sha1:
                    raise ExportMismatchError("%s does not match the sha1 listed in %s: the files at %s come from "
                                              "different exports; export again" % (path, self.meta_path,
                                                                                     self.prefix))
        return self


class ExportWriter:
    """Stages a new export at ``prefix`` with the members ``kinds`` and publishes it as one unit.

    Constructing it refuses (:class:`~gluon_resnest.utils.publish.StaleFilesError`) when files already
    at the prefix would survive (a member this one lacks), unless ``force``, so the refusal comes before any work.
    Inside ``with``: write each member's files at :meth:`staged_prefix` / :meth:`staged_path`, record it with
    :meth:`add`, then :meth:`publish` the manifest. Leaving the block without publishing publishes nothing.
    """

    def __init__(self, prefix, kinds, force=False):
        unknown = [name for name in kinds if name not in MEMBER_KINDS]
        if unknown or "symbol" not in kinds:
            raise ValueError("an export has the symbol member and any of %s, got %s" % (", ".join(MEMBER_KINDS),
                                                                                      list(kinds)))
        self.prefix, self.kinds, self.force = os.path.abspath(prefix), tuple(kinds), force
        stale_files(self.prefix, self.kinds, force)
        self.members = {}
        self._stage = None

    def __enter__(self):
        self._stage = StagedFiles(self.prefix).__enter__()
        return self

    def __exit__(self, *exc):
        return self._stage.__exit__(*exc)

    def staged_prefix(self, name):
        """Where MXNet's ``export`` writes member ``name`` (a symbol/params member) in the staging folder."""
        return self._stage.prefix + MEMBER_KINDS[name].tag

    def staged_path(self, name):
        """The staged path of member ``name``'s single file (an ONNX member)."""
        suffixes = MEMBER_KINDS[name].suffixes
        if len(suffixes) != 1:
            raise ValueError("member %s has %d files; use staged_prefix" % (name, len(suffixes)))
        return self._stage.prefix + suffixes[0]

    def add(self, name, batch_size, checks=(), **details):
        """Record member ``name`` (its staged files must exist): ``batch_size`` is its static batch (``None`` for a
        dynamic one), ``checks`` the :class:`~gluon_resnest.deploy.export_meta.Check` records of how it was
        checked, ``details`` the member's other fields (``fused``, ``calibration``). Returns the member."""
        if name not in self.kinds:
            raise ValueError("member %s was not announced to the writer (%s)" % (name, ", ".join(self.kinds)))
        files = {}
        for suffix in MEMBER_KINDS[name].suffixes:
            path = self._stage.prefix + suffix
            if not os.path.isfile(path):
                raise FileNotFoundError("member %s of the export at %s lacks its file %s" % (name, self.prefix,
                                                                                            os.path.basename(path)))
            files[os.path.basename(path)] = sha1_file(path)
        self.members[name] = Member(name, files, batch_size, tuple(checks), **details)
        return self.members[name]

    def add_check(self, name, check):
        """Record one more :class:`~gluon_resnest.deploy.export_meta.Check` of member ``name``."""
        member = self.members[name]
        self.members[name] = dataclasses.replace(member, checks=member.checks + (check,))

    def publish(self, **description):
        """Write the manifest (``description``: the :class:`~gluon_resnest.deploy.export_meta.ExportMeta` fields
        other than ``members``) and publish every staged file, the manifest last; files already at the prefix that
        this one lacks are removed (``force``) or refused. Returns the published :class:`Export`."""
        missing = [name for name in self.kinds if name not in self.members]
        if missing:
            raise ValueError("the export at %s lacks the members %s it announced" % (self.prefix, ", ".join(missing)))
        meta = ExportMeta(members=dict(self.members), **description)
        atomic_write(meta_path(self._stage.prefix), meta.as_dict())
        self._stage.publish(os.path.basename(meta_path(self.prefix)), export_file_paths(self.prefix), self.force)
        return Export(self.prefix, meta)
