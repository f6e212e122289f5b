"""MXNet's CPU runtime, set up by ``import gluon_resnest``: OpenMP threads and oneDNN's ISA (the AMX tiles).

:func:`configure_cpu_runtime` runs first in ``import gluon_resnest``. It sizes MXNet's OpenMP pool
(:mod:`gluon_resnest.utils.threads`) and, on a CPU with AMX whose Linux grants the tile permission, lets oneDNN use
AMX for bf16 and INT8 (the rule: :func:`gluon_resnest.utils.onednn_isa.decide_tiles`; ``GLUON_RESNEST_AMX=0``
opts out, a user-set ``DNNL_MAX_CPU_ISA`` is left alone). Both must happen before libmxnet loads; when mxnet was
imported first, each says so once.

The AMX cap lives in this process only: ``DNNL_MAX_CPU_ISA`` is set, one 1x1 convolution makes oneDNN read it, and
the variable is removed from the environment again. A program started from this one (``exec`` drops the tile
permission) thus never inherits a cap without the permission; one that imports gluon_resnest asks for its own.
:func:`cpu_runtime` reports what the process runs with.
"""
import dataclasses
import os
import sys
import warnings
from typing import Optional

from . import onednn_isa
from .threads import configure_threads, mxnet_omp_threads, warn_if_mxnet_threads_fixed

__all__ = ["CpuRuntime", "configure_cpu_runtime", "cpu_runtime"]

_DECISION = []


def _fix_isa_cap(cap):
    """Make oneDNN read ``DNNL_MAX_CPU_ISA=cap`` here (it reads it once, at its first primitive), then remove the
    variable from the environment."""
    os.environ[onednn_isa.ISA_VARIABLE] = cap
    try:
        import mxnet as mx

        x = mx.nd.zeros((1, 1, 1, 1))
        mx.nd.Convolution(x, x, kernel=(1, 1), num_filter=1, no_bias=True).wait_to_read()
    finally:
        del os.environ[onednn_isa.ISA_VARIABLE]


def configure_cpu_runtime():
    """Set up MXNet's CPU runtime for this process (once; later calls return the first result): OpenMP threads
    (:func:`~gluon_resnest.utils.threads.configure_threads`, with its warning when mxnet was loaded first) and
    oneDNN's AMX cap. Returns the :class:`~gluon_resnest.utils.onednn_isa.TileDecision`; its warning, if any, is
    issued once as a ``RuntimeWarning``."""
    if _DECISION:
        return _DECISION[0]
    warn_if_mxnet_threads_fixed()
    configure_threads()
    decision = onednn_isa.decide_tiles(onednn_isa.cpu_flags(), os.environ, "mxnet" in sys.modules)
    if decision.set_cap:
        _fix_isa_cap(decision.set_cap)
    _DECISION.append(decision)
    if decision.warning:
        warnings.warn(decision.warning, RuntimeWarning, stacklevel=3)  # the user's import of gluon_resnest
    return decision


@dataclasses.dataclass(frozen=True)
class CpuRuntime:
    """What MXNet's CPU runtime runs with in this process.

    ``omp_threads``: MXNet's OpenMP threads (None before libmxnet loads). ``isa``: the ISA oneDNN dispatches to
    (as its kernel names write it, e.g. ``avx512_core_bf16``); ``isa_cap``: the ``DNNL_MAX_CPU_ISA`` cap in effect
    (``ALL``, oneDNN 2.4's default, leaves AMX out). ``amx``: oneDNN runs AMX kernels; ``amx_cause`` and
    ``amx_reason``: why or why not (see :class:`~gluon_resnest.utils.onednn_isa.TileDecision`). ``bf16`` and
    ``int8``: the units that run bf16 convolutions and INT8 dot products (``"none"`` or ``"no VNNI"`` without).
    ``str()`` of the record is one line for logs."""
    omp_threads: Optional[int]
    isa: str
    isa_cap: str
    amx: bool
    amx_cause: str
    amx_reason: str
    bf16: str
    int8: str

    @property
    def native_bf16(self):
        """oneDNN runs bf16 convolutions on bf16 units here (AMX or AVX512_BF16), not emulated or not at all."""
        return self.bf16 in ("AMX", "AVX512_BF16")

    def __str__(self):
        return ("CPU runtime: OpenMP threads %s; oneDNN ISA %s (cap %s); AMX %s: %s; bf16: %s; INT8: %s"
                % (self.omp_threads if self.omp_threads is not None else "not loaded", self.isa, self.isa_cap,
                   "on" if self.amx else "off", self.amx_reason, self.bf16, self.int8))


def cpu_runtime():
    """The :class:`CpuRuntime` of this process."""
    decision = configure_cpu_runtime()
    isa = onednn_isa.effective_isa(onednn_isa.cpu_flags(), decision.cap)
    amx = isa == "avx512_core_amx" and onednn_isa.tile_permission_granted()
    return CpuRuntime(omp_threads=mxnet_omp_threads(), isa=isa, isa_cap=decision.cap, amx=amx,
                      amx_cause=decision.cause, amx_reason=decision.reason, bf16=onednn_isa.bf16_units(isa),
                      int8=onednn_isa.int8_units(isa))
