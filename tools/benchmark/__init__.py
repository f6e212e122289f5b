"""Benchmarks (developer tooling): throughput, latency and memory of ours and the peers, measured in one run.

:mod:`.measure` takes the measurements, :mod:`.child` runs those that need a fresh interpreter, :mod:`.report`
prints and plots them. ``scripts/benchmark.py`` is the command line.
"""
