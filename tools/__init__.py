"""Developer tooling beside the package: benchmarks, stress loops, generated test images, side interpreters, the
generated docs tables.

Nothing here is imported by ``gluon_resnest``; ``scripts/benchmark.py`` is the command line of :mod:`.benchmark`.
The checkout's environments import it from the checkout (``scripts/setup_env.sh`` runs :mod:`.link_checkout`).
"""
