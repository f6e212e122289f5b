"""Utilities shared by every layer: atomic file writing, multi-file publishing and MXNet's CPU runtime (thread
sizing, oneDNN's ISA)."""
from .fileio import atomic_write
from .threads import available_cpus, configure_threads, local_processes

__all__ = ["atomic_write", "configure_threads", "available_cpus", "local_processes"]
