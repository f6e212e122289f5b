"""An export's manifest, ``PREFIX-meta.json``, as typed records: :class:`ExportMeta` (the input, the data config,
the classes) holding one :class:`Member` per member file set, each with the :class:`Check` records of how it was
checked. Written as JSON with ``"version": 2``; a manifest of gluon_resnest 0.2 (no version field) reads as the
same records (:func:`_from_version_1`).

The manifest is not covered by a sha1 (it holds the others'), so a hand-edited or damaged one fails with a
``ValueError`` naming the file and the field rather than an error deep in a reader. Unknown fields are ignored.
"""
import dataclasses
import json
import numbers
import os
from typing import Mapping, Optional, Tuple

from ..data.config import DataConfig
from ..data.imagenet import imagenet1k_names

__all__ = ["Check", "Member", "ExportMeta", "read_meta", "META_SUFFIX", "VERSION", "LAYOUTS"]

#: What follows the prefix in the manifest's file name.
META_SUFFIX = "-meta.json"
#: The manifest format this code writes; it reads this one and version 1 (no version field).
VERSION = 2
#: Input layouts: float32 NCHW (normalized by the caller) or uint8 NHWC with the normalization in the graph.
LAYOUTS = {"NCHW": "float32", "NHWC": "uint8"}


def _is_int(value, low=1):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low


@dataclasses.dataclass(frozen=True)
class Check:
    """How a member was checked before it was published: run in ``runtime`` at ``precision`` ("f32", "bf16",
    "int8") by ``method`` ("reload": the symbol/params reloaded without gluon_resnest; "parity": the same
    outputs as the source network; "agreement": top-1 agreement with float32 on held-out images), with its
    ``figures`` (differences, agreement, image count) and a one-line ``summary``."""
    runtime: str
    precision: str
    method: str
    figures: Mapping[str, object] = dataclasses.field(default_factory=dict)
    summary: str = ""

    def as_dict(self):
        return {"runtime": self.runtime, "precision": self.precision, "method": self.method,
                "figures": dict(self.figures), "summary": self.summary}

    @classmethod
    def from_dict(cls, data):
        return cls(str(data["runtime"]), str(data["precision"]), str(data["method"]), dict(data.get("figures", {})),
                   str(data.get("summary", "")))


@dataclasses.dataclass(frozen=True)
class Member:
    """One member of an export (see :mod:`~gluon_resnest.deploy.export_files`): ``files`` ``{base name: sha1}``,
    ``batch_size`` its static batch (``None``: dynamic), ``checks``, and for symbol/params members whether the
    graph is oneDNN-fused (``fused``) and, for INT8 ones, the ``calibration`` mode."""
    kind: str
    files: Mapping[str, str]
    batch_size: Optional[int]
    checks: Tuple[Check, ...] = ()
    fused: bool = False
    calibration: Optional[str] = None

    def checked(self, runtime, precision):
        """Whether the member was checked in ``runtime`` at ``precision``."""
        return any(c.runtime == runtime and c.precision == precision for c in self.checks)

    def as_dict(self):
        return {"files": dict(sorted(self.files.items())), "batch_size": self.batch_size, "fused": self.fused,
                "calibration": self.calibration, "checks": [c.as_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, kind, data):
        if not isinstance(data.get("files"), dict) or not all(isinstance(v, str) for v in data["files"].values()):
            raise ValueError("member %s: files must be a {file name: sha1} object" % kind)
        batch = data.get("batch_size")
        if batch is not None and not _is_int(batch):
            raise ValueError("member %s: batch_size must be a positive integer or null, got %r" % (kind, batch))
        checks = data.get("checks", [])
        if not isinstance(checks, list):
            raise ValueError("member %s: checks must be a list" % kind)
        return cls(kind, dict(data["files"]), batch, tuple(Check.from_dict(c) for c in checks),
                   bool(data.get("fused", False)), data.get("calibration"))


@dataclasses.dataclass(frozen=True)
class ExportMeta:
    """The manifest of an export. ``layout`` "NCHW" takes normalized float32 input; "NHWC" takes uint8 0..255
    pixels, the normalization baked into the graph (``preprocessed``). ``data_config`` is the eval transform's
    record (input size, crop, interpolation, mean/std); ``class_names``, when given, names each of the
    ``num_classes`` outputs (unique). ``members``: ``{member name: Member}``."""
    model: Optional[str]
    num_classes: int
    data_config: DataConfig
    layout: str
    members: Mapping[str, Member]
    class_names: Optional[Tuple[str, ...]] = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            raise ValueError("layout must be one of %s, got %r" % (", ".join(LAYOUTS), self.layout))
        if not _is_int(self.num_classes):
            raise ValueError("num_classes must be a positive integer, got %r" % (self.num_classes,))
        if "symbol" not in self.members:
            raise ValueError("an export has a symbol member, this one has %s" % ", ".join(self.members))
        if self.class_names is not None:
            names = tuple(self.class_names)
            if not all(isinstance(n, str) for n in names):
                raise ValueError("class_names must be strings")
            if len(names) != self.num_classes:
                raise ValueError("class_names has %d names for %d classes" % (len(names), self.num_classes))
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError("class_names repeats %s; each class needs its own name" % ", ".join(repeated[:5]))
            object.__setattr__(self, "class_names", names)

    @property
    def preprocessed(self):
        return self.layout == "NHWC"

    @property
    def dtype(self):
        """The input dtype: float32 for NCHW, uint8 for NHWC."""
        return LAYOUTS[self.layout]

    def input_shape(self, member, batch=None):
        """The input shape of ``member`` at its static batch (or ``batch``, or 1 for a dynamic one)."""
        n = batch or self.members[member].batch_size or 1
        size = self.data_config.input_size
        return (n, size, size, 3) if self.preprocessed else (n, 3, size, size)

    def as_dict(self):
        return {"version": VERSION, "model": self.model, "num_classes": self.num_classes,
                "class_names": list(self.class_names) if self.class_names is not None else None,
                "data_config": self.data_config.as_dict(), "layout": self.layout, "dtype": self.dtype,
                "members": {name: member.as_dict() for name, member in self.members.items()}}

    @classmethod
    def from_dict(cls, data, base=""):
        """The manifest ``data`` (parsed JSON), version 2 or 1 (``base``: the export's base name, which version 1
        file lists start with); ``ValueError`` naming the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("it holds a %s, not an export description" % type(data).__name__)
        version = data.get("version", 1)
        if version == 1:
            data = _from_version_1(data, base)
        elif version != VERSION:
            raise ValueError("manifest version %r is not one this gluon_resnest reads (1, %d)" % (version, VERSION))
        for field in ("num_classes", "data_config", "layout", "members"):
            if field not in data:
                raise ValueError("field %r is missing" % field)
        if not isinstance(data["members"], dict):
            raise ValueError("field 'members' must be an object")
        try:
            data_config = DataConfig.from_dict(data["data_config"])
        except (TypeError, ValueError) as err:
            raise ValueError("field 'data_config': %s" % err) from None
        names = data.get("class_names")
        if names is not None and not isinstance(names, list):
            raise ValueError("field 'class_names' must be a list of names or null, got %r" % (names,))
        members = {}
        for kind, member in data["members"].items():
            if not isinstance(member, dict):
                raise ValueError("member %s must be an object" % kind)
            members[kind] = Member.from_dict(kind, member)
        return cls(data.get("model"), data["num_classes"], data_config, data["layout"], members,
                   tuple(names) if names is not None else None)


#: Version 1 manifests: the member of each file, by what follows the export's base name.
_V1_MEMBERS = {"-symbol.json": "symbol", "-0000.params": "symbol", ".onnx": "onnx", "-int8-symbol.json": "int8",
               "-int8-0000.params": "int8", "-int8" + META_SUFFIX: "int8", "-int8.onnx": "int8_onnx"}


def _from_version_1(data, base):
    """A gluon_resnest 0.2 manifest of the export named ``base`` (fields input_shape, layout, files, fused,
    int8_onnx, bf16; the INT8 member described by its own ``BASE-int8-meta.json``, which :func:`read_meta` passes
    as ``_int8_meta``) as a version 2 dict."""
    for field in ("input_shape", "layout", "files", "data_config"):
        if field not in data:
            raise ValueError("field %r is missing" % field)
    files = data["files"]
    if not isinstance(files, dict) or not files:
        raise ValueError("field 'files' lists no files; export again")
    shape = data["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 4 and all(_is_int(d) for d in shape)):
        raise ValueError("field 'input_shape' is %r, expected 4 positive integers" % (shape,))
    int8_meta = data.get("_int8_meta") or {}
    comparisons = {"onnx": (data.get("bf16"), "bf16"), "int8_onnx": (data.get("int8_onnx"), "int8")}
    members = {}
    for name, sha1 in files.items():
        kind = _V1_MEMBERS.get(name[len(base):]) if name.startswith(base) else None
        if kind is None:  # version 1 listed every file whose name starts with the base name
            continue
        member = members.setdefault(kind, {"files": {}, "batch_size": None, "checks": []})
        member["files"][name] = sha1
        comparison, precision = comparisons.get(kind, (None, None))
        if isinstance(comparison, dict) and not member["checks"]:
            member["checks"].append(_v1_check(comparison, precision))
    if "symbol" in members:
        members["symbol"].update(batch_size=shape[0], fused=bool(data.get("fused")))
    if "int8" in members:
        int8_shape = int8_meta.get("input_shape") or [None]
        members["int8"].update(batch_size=int8_shape[0], calibration=int8_meta.get("int8"))
    names = data.get("class_names")
    num_classes = data.get("num_classes") or (len(names) if names else None)
    if names == list(imagenet1k_names()["classes"]):  # version 1 recorded ImageNet's short names, some repeated
        names = None
    return {"model": data.get("model"), "num_classes": num_classes, "class_names": names,
            "data_config": data["data_config"], "layout": data["layout"], "members": members}


def _v1_check(comparison, precision):
    figures = {k: v for k, v in comparison.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"runtime": comparison.get("runtime", "onnxruntime"), "precision": precision, "method": "agreement",
            "figures": figures, "summary": comparison.get("summary", "")}


def read_meta(path):
    """The :class:`ExportMeta` in the manifest file ``path``; ``ValueError`` naming the file and the problem when it
    is not valid JSON or a field is missing or unusable."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError("%s is not valid JSON (%s); export again" % (path, err)) from None
    if isinstance(data, dict) and "version" not in data:
        int8_path = path[:-len(META_SUFFIX)] + "-int8" + META_SUFFIX
        if os.path.basename(int8_path) in (data.get("files") or {}) and os.path.isfile(int8_path):
            with open(int8_path) as handle:
                try:
                    data["_int8_meta"] = json.load(handle)
                except ValueError:
                    data["_int8_meta"] = {}
    try:
        return ExportMeta.from_dict(data, os.path.basename(path[:-len(META_SUFFIX)]))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError("%s: %s; export again" % (path, err)) from None
