"""Developer tooling beside the package: benchmarks, stress loops, generated test images, side interpreters.

Nothing here is imported by ``gluon_resnest``; ``scripts/benchmark.py`` is the command line of :mod:`.benchmark`.
"""
