"""CPU runtime defaults, applied when gluon_resnest is imported before MXNet.

MXNet 1.9 sizes its OpenMP pool from the physical-core count it detects; on VMs that expose hyper-threads or
vCPUs it often uses a single thread, halving convolution speed on a 2-vCPU machine. Unless the user set
``OMP_NUM_THREADS``, it is set to the number of CPUs this process may run on. The variable must be set before
libmxnet loads, so ``import mxnet`` before ``import gluon_resnest`` keeps MXNet's own choice (MXNet offers no way to
resize its pool afterwards): :func:`warn_if_mxnet_threads_fixed` then says so once. ``GLUON_RESNEST_KEEP_THREADS=1``
keeps MXNet's choice silently (the benchmark uses this to measure MXNet's defaults).
"""
import ctypes
import os
import sys
import warnings

__all__ = ["configure_threads", "available_cpus", "local_processes", "mxnet_omp_threads",
           "warn_if_mxnet_threads_fixed"]


def available_cpus():
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def local_processes():
    """Processes sharing this host's CPUs: Horovod's (Gloo or MPI) local size, else 1."""
    for key in ("HOROVOD_LOCAL_SIZE", "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(key, "").isdigit():
            return max(1, int(os.environ[key]))
    return 1


def mxnet_omp_threads():
    """OpenMP threads the loaded MXNet runs with (``omp_get_max_threads`` of the OpenMP runtime it loaded, which
    MXNet sets at load time), or None when MXNet is not loaded or the runtime is not found."""
    if "mxnet" not in sys.modules:
        return None
    try:
        with open("/proc/self/maps") as handle:
            libraries = {line.split()[-1] for line in handle if "libgomp" in line or "libiomp" in line}
    except OSError:
        return None
    for library in sorted(libraries):
        try:
            return int(ctypes.CDLL(library).omp_get_max_threads())
        except (OSError, AttributeError):
            continue
    return None


def warn_if_mxnet_threads_fixed():
    """Warn (once) when MXNet was loaded before us with fewer OpenMP threads than this process's share of CPUs."""
    if os.environ.get("GLUON_RESNEST_KEEP_THREADS") == "1":
        return None
    threads, cpus = mxnet_omp_threads(), max(1, available_cpus() // local_processes())
    if threads is None or threads >= cpus:
        return None
    message = ("mxnet was imported before gluon_resnest and runs %d OpenMP thread(s) although %d CPUs are "
               "available; convolutions then run up to %d times slower (docs/gluoncv.md#import-order). "
               "Set OMP_NUM_THREADS=%d before starting Python, or import gluon_resnest before mxnet."
               % (threads, cpus, cpus // threads, cpus))
    warnings.warn(message, RuntimeWarning, stacklevel=4)  # the user's import of gluon_resnest
    return message


def configure_threads():
    """Set ``OMP_NUM_THREADS`` to the CPUs available per local process (see :func:`local_processes`) if unset
    and MXNet is not loaded yet; return the value in effect."""
    keep = os.environ.get("GLUON_RESNEST_KEEP_THREADS") == "1"
    if not keep and "OMP_NUM_THREADS" not in os.environ and "mxnet" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = str(max(1, available_cpus() // local_processes()))
    return os.environ.get("OMP_NUM_THREADS")

