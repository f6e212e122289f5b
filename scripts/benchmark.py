#!/usr/bin/env python
"""Benchmark ResNeSt inference (fp32, oneDNN-fused, INT8; our ONNX export in onnxruntime and OpenVINO fp32/bf16, our
INT8 ONNX export in OpenVINO, OpenVINO's own INT8 by NNCF) and training steps against GluonCV and PyTorch.

    python scripts/benchmark.py run --models resnest50 --batches 1 8 --train-batch 8 --json bench.json --plot bench.png
    python scripts/benchmark.py run --no-gluoncv --no-int8 --no-runtimes --torch-configs eager compile-cl-bf16
    python scripts/benchmark.py run --smoke                    (a quick run; no timing claims)
    python scripts/benchmark.py report --from-json bench.json  (the tables of a run, without measuring)
    python scripts/benchmark.py ceiling --models resnest50
    python scripts/benchmark.py profile --models resnest50 --batch 8 --graph training
    python scripts/benchmark.py import-order --models resnest50 --batch 8
    python scripts/benchmark.py gluoncv-named --models resnest50 --batch 8 --repeat 15
    python scripts/benchmark.py input-pipeline --images 512 --passes 3 --workers 1 2 --json input.json
    python scripts/benchmark.py serving --models resnest50 --json serving.json

Run it with the checkout's .venv (scripts/setup_env.sh makes the checkout's tools/ importable there; see
docs/contributing.md#environments-and-the-two-commands). Import order matters: gluon_resnest is imported before
MXNet so it can size MXNet's OpenMP pool.
"""
import argparse
import os
import sys

import gluon_resnest  # (first: sets OMP_NUM_THREADS and oneDNN's ISA before MXNet loads)
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.errors import ReportableError
from gluon_resnest.utils.fileio import atomic_write
from gluon_resnest.utils.native_notices import notices_filtered
from gluon_resnest.utils.options import add_arguments

try:
    from tools.benchmark.settings import (Batch, CeilingKernels, Comparison, InputPipeline, InputSize, JsonOutput,
                                          Plot, Profile, Report, Serving, Smoke, Timing, Variants, resolve)
    from tools.benchmark.ceiling import measure_ceiling
    from tools.benchmark.gluoncv_named import gluoncv_named_rows
    from tools.benchmark.input_pipeline import input_pipeline_rows, input_table
    from tools.benchmark.measure import (benchmark, import_order_rows, int8_profiles, operator_profile,
                                         training_profile)
    from tools.benchmark.precisions import attach_limits
    from tools.benchmark.report import (ceiling_table, limits_table, plot, read_runs, run_header, run_record,
                                        summary, table)
    from tools.interpreters import reference_python
except ModuleNotFoundError as err:
    if err.name != "tools":
        raise
    print("error: the checkout's tools package is not importable: run scripts/benchmark.py with the checkout's "
          ".venv after bash scripts/setup_env.sh, or with PYTHONPATH set to the checkout", file=sys.stderr)
    sys.exit(2)


def _load_note(before):
    return "1-minute load average %.1f before, %.1f after on %d CPUs" % (before, os.getloadavg()[0],
                                                                        os.cpu_count() or 0)


def _write(rows, args, record=None):
    if args.json:
        atomic_write(args.json, rows if record is None else record)
    if getattr(args, "plot", ""):
        plot(rows, args.plot)


def run(args):
    load_before = os.getloadavg()[0]
    runtime = str(gluon_resnest.cpu_runtime())
    ceiling_rows = measure_ceiling(args.gemm_size, args.convs, args.warmup, args.repeat) if args.ceiling else []
    torch = args.torch and reference_python() is not None
    rows = attach_limits([row for name in args.models for row in benchmark(
        name, args.size, args.batches, args.train_batch, args.warmup, args.repeat, args.gluoncv, torch, args.int8,
        args.train, args.runtimes, args.torch_configs, args.torch_compile_cache, args.torch_timeout, args.bf16)],
        ceiling_rows)
    print("OMP_NUM_THREADS=%s, median of %d runs after %d warm-up; %s (figures from a machine loaded by other work "
          "are not comparable)" % (os.environ.get("OMP_NUM_THREADS"), args.repeat, args.warmup,
                                   _load_note(load_before)))
    print("\n".join(run_header(runtime, ceiling_rows, rows)))
    if ceiling_rows:
        print("\n" + ceiling_table(ceiling_rows) + "\n\n" + limits_table(ceiling_rows, args.models, args.size))
    print("\n" + table(rows) + "\n\n" + summary(rows))
    _write(rows, args, run_record(runtime, ceiling_rows, rows))


def report(args):
    rows = []
    for path, record in read_runs(args.from_json):
        print("%s:\n%s\n" % (path, "\n".join(run_header(record["cpu_runtime"], record["ceiling"], record["rows"]))))
        rows += record["rows"]
    print(table(rows) + "\n\n" + summary(rows))
    if args.plot:
        plot(rows, args.plot)


def ceiling(args):
    load_before = os.getloadavg()[0]
    rows = measure_ceiling(args.gemm_size, args.convs, args.warmup, args.repeat)
    if not rows:
        raise ReportableError("the ceiling measurement failed (its reason is above)")
    print("%s; %s\n\n%s\n\n%s" % (gluon_resnest.cpu_runtime(), _load_note(load_before), ceiling_table(rows),
                                  limits_table(rows, args.models, args.size)))
    _write(rows, args)


def profile(args):
    for name in args.models:
        head = "%s, batch %d, %d px" % (name, args.batch, args.size)
        if args.graph == "int8":
            for kind, text in int8_profiles(name, args.batch, args.size, args.runs):
                print("%s, %s, %d forwards:\n%s\n" % (head, kind, args.runs, text))
        elif args.graph == "training":
            print("%s, training step, %d steps:\n%s" % (head, args.runs, training_profile(
                name, args.batch, args.size, args.runs)))
        else:
            print("%s, fused graph, %d forwards:\n%s" % (head, args.runs, operator_profile(
                name, args.batch, args.size, args.runs)))


def import_order(args):
    for name in args.models:
        for row in import_order_rows(name, args.batch, args.size, args.repeat, args.warmup):
            print("%s batch %d: %-18s %6.2f img/s (MXNet OpenMP threads: %s)" % (
                row["model"], row["batch"], row["impl"], row["img_per_s"], row["omp_threads"]))


def gluoncv_named(args):
    for name in args.models:
        load_before = os.getloadavg()[0]
        rows = gluoncv_named_rows(name, args.batch, args.size, args.repeat, args.warmup)
        print("%s, batch %d, %d px, OMP_NUM_THREADS=%s, median of %d alternating rounds after %d; %s" % (
            name, args.batch, args.size, os.environ.get("OMP_NUM_THREADS"), args.repeat, args.warmup,
            _load_note(load_before)))
        print("%-13s %-16s %5s %5s %-32s %8s %7s %6s" % ("form", "network", "rate", "ops", "random ops", "s/batch",
                                                       "img/s", "ratio"))
        for row in rows:
            print("%-13s %-16s %5.2f %5s %-32s %8.3f %7.2f %6.3f" % (
                row["form"], row["network"], row["drop_prob"], row["ops"] or "", ",".join(row["random_ops"] or []),
                row["seconds"], row["img_per_s"], row["ratio"]))


def input_pipeline(args):
    rows = input_pipeline_rows(args.data_dir, count=args.images, size=args.size, batch=args.batch,
                               workers=args.workers, height=args.jpeg_height, width=args.jpeg_width,
                               passes=args.passes)
    print("%d generated %.0f KB JPEGs x %d epochs, %d px crops, batch %d, %d CPUs, 1-minute load average %.1f" % (
        rows[0]["images"], rows[0]["jpeg_kb"], rows[0]["passes"], rows[0]["size"], rows[0]["batch"],
        len(os.sched_getaffinity(0)), os.getloadavg()[0]))
    print(input_table(rows))
    _write(rows, args)


def serving(args):
    from tools.benchmark.serving import serving_rows, serving_table

    load_before = os.getloadavg()[0]
    rows = [row for name in args.models for row in serving_rows(
        name, args.size, args.batch, clients=args.batch, requests=args.requests,
        single_requests=max(4, args.requests * 5 // 8))]
    print("OMP_NUM_THREADS=%s in process and in MMS's one worker per model; %s" % (
        os.environ.get("OMP_NUM_THREADS"), _load_note(load_before)))
    for name in args.models:
        print("%s, %d px, random weights, symbol/params:\n%s" % (
            name, args.size, serving_table([row for row in rows if row["model"] == name])))
    _write(rows, args)


#: ``{subcommand: (function, help, option groups)}``.
COMMANDS = {
    "run": (run, "every implementation and runtime against each other: throughput, latency, peak memory, share of "
                 "the machine's limit at each row's precision",
            (Variants, InputSize, Comparison, CeilingKernels, Timing, JsonOutput, Plot, Smoke)),
    "report": (report, "print the tables of JSON files written by run --json, without measuring", (Report, Plot)),
    "ceiling": (ceiling, "the machine's limits: GFLOP/s of MXNet's oneDNN GEMM and resnest50 convolutions at fp32, "
                         "bf16 and int8 (with the kernels oneDNN ran), and the img/s they allow each model",
                (Variants, InputSize, CeilingKernels, Timing, JsonOutput, Smoke)),
    "profile": (profile, "where the time of one graph goes: per-operator (or per-layer) totals",
                (Variants, InputSize, Batch, Profile)),
    "import-order": (import_order, "inference with mxnet imported before and after gluon_resnest, each in a fresh "
                                   "interpreter without OMP_NUM_THREADS", (Variants, InputSize, Batch, Timing)),
    "gluoncv-named": (gluoncv_named, "the network GluonCV's name builds (DropBlock rate 0.1) against ours at rate 0, "
                                     "hybridized and as export_block files, in alternating rounds",
                      (Variants, InputSize, Batch, Timing)),
    "input-pipeline": (input_pipeline, "our training input pipeline against mx.io.ImageRecordIter on generated "
                                       "JPEGs", (InputSize, InputPipeline, JsonOutput, Smoke)),
    "serving": (serving, "Multi Model Server (batching off and on) against in-process classification; needs "
                         "scripts/setup_env.sh --with-serving", (Variants, InputSize, Serving, JsonOutput, Smoke)),
}


def parser():
    """The command line: one subcommand per measurement, each with the option groups it takes."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="{%s}" % ",".join(COMMANDS))
    for name, (_, text, groups) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=text, description=text), groups, defaults_in_help=True)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    function, _, groups = COMMANDS[args.command]
    values = resolve(args, groups)
    with notices_filtered():
        function(values)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
