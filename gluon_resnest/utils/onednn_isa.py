"""oneDNN's instruction-set choice in MXNet 1.9 (oneDNN 2.4) and Linux's permission for the AMX tiles.

oneDNN dispatches every primitive to the highest ISA the CPU supports under a cap. It reads the cap once, from
``DNNL_MAX_CPU_ISA``, when it creates its first primitive (not when libmxnet loads); oneDNN 2.4 reads no other
name for it (``MKLDNN_MAX_CPU_ISA`` and ``ONEDNN_MAX_CPU_ISA`` have no effect), takes only the exact upper-case
names of :data:`CAPS`, and its default cap (``ALL``) leaves AMX out. Linux (>= 5.16) gives a process the tile
state only after ``arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)``; forked children keep the permission,
``exec`` drops it, and oneDNN 2.4 never asks for it. A cap that lets oneDNN use AMX in a process without the
permission kills it with SIGILL at the first bf16 or INT8 convolution: :func:`decide_tiles` is the rule that never
sets the cap without the permission.
"""
import ctypes
import dataclasses
import errno
import os
from typing import Callable, Mapping, Optional

__all__ = ["ISA_VARIABLE", "LEGACY_ISA_VARIABLE", "AMX_CAP", "OPT_OUT_VARIABLE", "CAPS", "AMX_FLAGS", "TileDecision",
           "cpu_flags", "effective_isa", "bf16_units", "int8_units", "request_tile_permission",
           "tile_permission_granted", "decide_tiles"]

#: the variable oneDNN 2.4 reads its ISA cap from.
ISA_VARIABLE = "DNNL_MAX_CPU_ISA"
#: the pre-oneDNN name of that variable; oneDNN 2.4 ignores it, but a user who set it asked for a cap.
LEGACY_ISA_VARIABLE = "MKLDNN_MAX_CPU_ISA"
#: the cap that lets oneDNN 2.4 use AMX.
AMX_CAP = "AVX512_CORE_AMX"
#: ``GLUON_RESNEST_AMX=0`` keeps gluon_resnest from asking for the tiles (it then changes nothing).
OPT_OUT_VARIABLE = "GLUON_RESNEST_AMX"

_ARCH_PRCTL = 158  # x86-64 syscall number
_ARCH_GET_XCOMP_PERM = 0x1022
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18

# oneDNN 2.4's ISAs as sets of feature bits (an ISA may run under a cap holding all its bits) with the
# /proc/cpuinfo flags it needs, highest first: the order in which oneDNN tries them.
_AVX2 = {"sse41", "avx", "avx2"}
_AVX512 = _AVX2 | {"avx512_common"}
_CORE = _AVX512 | {"avx512_core"}
_CORE_FLAGS = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
#: the /proc/cpuinfo flags of AMX as oneDNN 2.4 uses it (tiles, bf16 and int8 products).
AMX_FLAGS = frozenset({"amx_tile", "amx_bf16", "amx_int8"})
_ISAS = (
    ("avx512_core_amx", _CORE | {"vnni", "bf16", "amx"}, _CORE_FLAGS | {"avx512_vnni", "avx512_bf16"} | AMX_FLAGS),
    ("avx512_core_bf16", _CORE | {"vnni", "bf16"}, _CORE_FLAGS | {"avx512_vnni", "avx512_bf16"}),
    ("avx512_core_vnni", _CORE | {"vnni"}, _CORE_FLAGS | {"avx512_vnni"}),
    ("avx512_core", _CORE, _CORE_FLAGS),
    ("avx512_mic_4ops", _AVX512 | {"avx512_mic", "avx512_mic_4ops"},
     {"avx512f", "avx512cd", "avx512er", "avx512pf", "avx512_4fmaps", "avx512_4vnniw"}),
    ("avx512_mic", _AVX512 | {"avx512_mic"}, {"avx512f", "avx512cd", "avx512er", "avx512pf"}),
    ("avx512_common", _AVX512, {"avx512f"}),
    ("avx2_vnni", _AVX2 | {"avx_vnni"}, {"avx2", "avx_vnni"}),
    ("avx2", _AVX2, {"avx2"}),
    ("avx", {"sse41", "avx"}, {"avx"}),
    ("sse41", {"sse41"}, {"sse4_1"}),
)
_BITS = dict((name, bits) for name, bits, _ in _ISAS)
#: the values oneDNN 2.4 takes for ``DNNL_MAX_CPU_ISA``, as the feature bits each allows; ``ALL`` is the default.
CAPS = {"ALL": set().union(*_BITS.values()) - {"amx"}, "SSE41": _BITS["sse41"], "AVX": _BITS["avx"],
        "AVX2": _BITS["avx2"], "AVX2_VNNI": _BITS["avx2_vnni"], "AVX512_MIC": _BITS["avx512_mic"],
        "AVX512_MIC_4OPS": _BITS["avx512_mic_4ops"], "AVX512_CORE": _BITS["avx512_core"],
        "AVX512_CORE_VNNI": _BITS["avx512_core_vnni"], "AVX512_CORE_BF16": _BITS["avx512_core_bf16"],
        AMX_CAP: _BITS["avx512_core_amx"]}


def cpu_flags(path="/proc/cpuinfo"):
    """The feature flags of this machine's first CPU in ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def effective_isa(flags, cap="ALL"):
    """The ISA oneDNN 2.4 dispatches to (its lower-case name, as in ``DNNL_VERBOSE`` kernel names) on a CPU with
    ``flags`` under ``cap`` (a ``DNNL_MAX_CPU_ISA`` value; one oneDNN does not take counts as ``ALL``), or
    ``"none"`` below SSE4.1."""
    allowed = CAPS.get(cap, CAPS["ALL"])
    for name, bits, needs in _ISAS:
        if bits <= allowed and needs <= flags:
            return name
    return "none"


def _first_unit(isa, units, otherwise):
    bits = _BITS.get(isa, set())
    return next((name for bit, name in units if bit in bits), otherwise)


def bf16_units(isa):
    """What runs oneDNN's bf16 convolutions under ``isa``: ``"AMX"``, ``"AVX512_BF16"``, ``"AVX-512
    (emulated)"`` (bf16 arithmetic emulated with AVX-512 instructions) or ``"none"`` (no bf16 convolutions)."""
    return _first_unit(isa, (("amx", "AMX"), ("bf16", "AVX512_BF16"), ("avx512_core", "AVX-512 (emulated)")), "none")


def int8_units(isa):
    """What runs oneDNN's INT8 dot products under ``isa``: ``"AMX"``, ``"AVX512_VNNI"``, ``"AVX2_VNNI"`` or
    ``"no VNNI"`` (multiply-add sequences without the dot-product instructions)."""
    return _first_unit(isa, (("amx", "AMX"), ("vnni", "AVX512_VNNI"), ("avx_vnni", "AVX2_VNNI")), "no VNNI")


def _arch_prctl(code, argument):
    """``arch_prctl(code, argument)``: 0, or the errno of the failure."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.syscall(ctypes.c_long(_ARCH_PRCTL), ctypes.c_long(code), argument)
    except (OSError, AttributeError):
        return errno.ENOSYS
    return 0 if result == 0 else (ctypes.get_errno() or errno.EINVAL)


def request_tile_permission():
    """Ask Linux for this process's AMX tile-data permission: 0 when granted (or already held), else the errno
    (``EOPNOTSUPP``/``EINVAL`` without AMX or on Linux < 5.16, ``ENOSPC`` when a thread's signal stack is too small
    for the tile state, ``EPERM`` or another under a seccomp policy that refuses it)."""
    return _arch_prctl(_ARCH_REQ_XCOMP_PERM, ctypes.c_long(_XFEATURE_XTILEDATA))


def tile_permission_granted():
    """True when this process holds the AMX tile-data permission."""
    mask = ctypes.c_uint64(0)
    return _arch_prctl(_ARCH_GET_XCOMP_PERM, ctypes.byref(mask)) == 0 and bool(mask.value >> _XFEATURE_XTILEDATA & 1)


@dataclasses.dataclass(frozen=True)
class TileDecision:
    """What ``import gluon_resnest`` does about AMX, and why.

    ``cause``: ``"enabled"`` (permission granted, cap set), ``"no-amx-cpu"``, ``"opted-out"``, ``"user-cap"`` (the
    user set the ISA variable), ``"mxnet-first"`` (libmxnet was loaded before gluon_resnest) or ``"refused"``
    (Linux refused the permission; ``errno`` says how). ``set_cap``: the ``DNNL_MAX_CPU_ISA`` value to set (only
    with the permission granted), else None. ``cap``: the cap oneDNN reads (``"ALL"`` is its default).
    ``reason``: one line for people. ``warning``: a line to warn with, or None."""
    cause: str
    reason: str
    cap: str = "ALL"
    set_cap: Optional[str] = None
    errno: Optional[int] = None
    warning: Optional[str] = None


def _errno_text(code):
    return "%s: %s" % (errno.errorcode.get(code, "errno %d" % code), os.strerror(code))


def decide_tiles(flags, environ: Mapping[str, str], mxnet_loaded: bool,
                 request_permission: Callable[[], int] = request_tile_permission,
                 permission_held: Callable[[], bool] = tile_permission_granted):
    """The AMX rule of ``import gluon_resnest``, as a pure function of its inputs: the CPU's ``flags``, the
    ``environ``, whether libmxnet is loaded, and the two permission calls (asked only when the rule needs them).

    In order: a CPU without AMX, or ``GLUON_RESNEST_AMX=0``, changes nothing. A user-set ``DNNL_MAX_CPU_ISA`` (or
    ``MKLDNN_MAX_CPU_ISA``) is left as it is; where it lets oneDNN use AMX the permission is asked for, and a
    refusal is a warning (SIGILL ahead). With libmxnet loaded first nothing changes (oneDNN may have read its cap
    already). Otherwise the permission is asked for, and only when granted is the cap set to ``AVX512_CORE_AMX``.
    """
    user = [(name, environ[name]) for name in (ISA_VARIABLE, LEGACY_ISA_VARIABLE) if name in environ]
    cap = environ.get(ISA_VARIABLE, "ALL")
    cap = cap if cap in CAPS else "ALL"
    wants_amx = "amx" in CAPS[cap]
    if not AMX_FLAGS <= flags:
        return TileDecision("no-amx-cpu", "no AMX on this CPU", cap)
    opted_out = environ.get(OPT_OUT_VARIABLE) == "0"
    if user and not opted_out:
        name, value = user[0]
        if not wants_amx:
            ignored = "" if name == ISA_VARIABLE and value in CAPS else " (not a cap oneDNN 2.4 reads)"
            return TileDecision("user-cap", "%s=%s set by the user%s" % (name, value, ignored), cap)
        code = request_permission()
        if code == 0:
            return TileDecision("user-cap", "%s=%s set by the user, tile permission granted" % (name, value), cap)
        why = _errno_text(code)
        return TileDecision("user-cap", "%s=%s set by the user, tile permission refused (%s)" % (name, value, why),
                            cap, errno=code,
                            warning=_sigill_warning(value, "Linux refused the tile permission (%s)" % why))
    if opted_out:
        warning = None
        if wants_amx and not permission_held():
            warning = _sigill_warning(environ[ISA_VARIABLE], "%s=0 keeps gluon_resnest from asking for the tile "
                                      "permission" % OPT_OUT_VARIABLE)
        return TileDecision("opted-out", "%s=0" % OPT_OUT_VARIABLE, cap, warning=warning)
    if mxnet_loaded:
        return TileDecision("mxnet-first", "mxnet was imported before gluon_resnest", cap, warning=(
            "mxnet was imported before gluon_resnest, so oneDNN's AMX kernels stay off on this AMX CPU: bf16 and "
            "INT8 run without the matrix units. Import gluon_resnest before mxnet."))
    code = request_permission()
    if code != 0:
        return TileDecision("refused", "tile permission refused (%s)" % _errno_text(code), cap, errno=code)
    return TileDecision("enabled", "tile permission granted, %s=%s" % (ISA_VARIABLE, AMX_CAP), AMX_CAP,
                        set_cap=AMX_CAP)


def _sigill_warning(value, why):
    return ("%s=%s lets oneDNN use AMX, but %s: the first bf16 or INT8 convolution will kill the process with "
            "SIGILL. Unset %s." % (ISA_VARIABLE, value, why, ISA_VARIABLE))
