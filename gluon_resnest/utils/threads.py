"""CPU runtime defaults, applied when gluon_resnest is imported before MXNet.

MXNet 1.9 sizes its OpenMP pool from the physical-core count it detects; on VMs that expose hyper-threads or
vCPUs it often uses a single thread, halving convolution speed on a 2-vCPU machine. Unless the user set
``OMP_NUM_THREADS``, it is set to the number of CPUs this process may run on. The variable must be set before
libmxnet loads, so an earlier ``import mxnet`` keeps MXNet's own choice; ``GLUON_RESNEST_KEEP_THREADS=1`` also
keeps it (the benchmark uses this to measure MXNet's defaults).
"""
import os
import sys

__all__ = ["configure_threads", "available_cpus", "local_processes"]


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


def configure_threads():
    """Set ``OMP_NUM_THREADS`` to the CPUs available per local process (see :func:`local_processes`) if unset
    and MXNet is not loaded yet; return the value in effect."""
    keep = os.environ.get("GLUON_RESNEST_KEEP_THREADS") == "1"
    if not keep and "OMP_NUM_THREADS" not in os.environ and "mxnet" not in sys.modules:
        os.environ["OMP_NUM_THREADS"] = str(max(1, available_cpus() // local_processes()))
    return os.environ.get("OMP_NUM_THREADS")

