"""Benchmarks (developer tooling): throughput, latency and memory of ours and the peers, measured in one run.

:mod:`.measure` takes the measurements, :mod:`.child` runs those that need a fresh interpreter, :mod:`.torch_peers`
is the PyTorch reference in its configurations, :mod:`.ceiling` measures the machine's limit at each precision and
:mod:`.precisions` each row's precision and share of it, :mod:`.report` prints and plots them; :mod:`.input_pipeline` times the training input pipeline against ``ImageRecordIter`` and
:mod:`.gluoncv_named` the network a GluonCV name builds against ours at DropBlock rate 0. ``scripts/benchmark.py``
is the command line, one subcommand per measurement, with the options declared in :mod:`.settings`.
"""
