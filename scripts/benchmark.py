#!/usr/bin/env python
"""Benchmark ResNeSt inference (fp32, oneDNN-fused, INT8; our ONNX export in onnxruntime and OpenVINO fp32/bf16, our
INT8 ONNX export in OpenVINO, OpenVINO's own INT8 by NNCF) and training steps against GluonCV and PyTorch.

    python scripts/benchmark.py --models resnest50 --batches 1 8 16 --json bench.json --plot bench.png
    python scripts/benchmark.py --smoke          (a few seconds; no timing claims)
    python scripts/benchmark.py --ceiling        (GFLOP/s of an SGEMM and single convolutions on this machine)
    python scripts/benchmark.py --models resnest50 --profile 8   (per-operator times of the fused graph)
    python scripts/benchmark.py --models resnest50 --train-profile 8   (per-operator times of a training step)
    python scripts/benchmark.py --models resnest50 --int8-profile 8   (per-layer times of the INT8 forms)
    python scripts/benchmark.py --models resnest50 --import-order 8   (mxnet imported before/after gluon_resnest)
    python scripts/benchmark.py --models resnest50 --gluoncv-named 8   (GluonCV's resnest50, DropBlock rate
                                 0.1, against ours at rate 0: hybridized and export_block, alternating rounds)
    python scripts/benchmark.py --input-pipeline --images 512 --passes 3 --workers 1 2 --json input.json
                                 (our loader vs mx.io.ImageRecordIter on generated 500x375 JPEGs)
    python scripts/benchmark.py --serving --models resnest50 --json serving.json
                                 (served by Multi Model Server, batching off and on, vs in-process predict.py;
                                  needs scripts/setup_env.sh --with-serving)

Import order matters: gluon_resnest is imported before MXNet so it can size MXNet's OpenMP pool.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the checkout, for tools/
import gluon_resnest  # noqa: E402  (sets OMP_NUM_THREADS before MXNet loads)
from gluon_resnest.utils.fileio import atomic_write  # noqa: E402
from tools.benchmark.gluoncv_named import gluoncv_named_rows  # noqa: E402
from tools.benchmark.input_pipeline import input_pipeline_rows, input_table  # noqa: E402
from tools.benchmark.measure import (benchmark, compute_ceiling, import_order_rows, int8_profiles,  # noqa: E402
                                     operator_profile, training_profile)
from tools.benchmark.report import plot, summary, table  # noqa: E402
from tools.interpreters import reference_python  # noqa: E402

PROFILE_RUNS = 3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnest50"], choices=gluon_resnest.list_models())
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8, 16])
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-gluoncv", dest="gluoncv", action="store_false")
    p.add_argument("--no-torch", dest="torch", action="store_false")
    p.add_argument("--no-int8", dest="int8", action="store_false")
    p.add_argument("--no-train", dest="train", action="store_false")
    p.add_argument("--no-runtimes", dest="runtimes", action="store_false",
                   help="skip our ONNX export in onnxruntime and OpenVINO (float32, bf16, INT8; OpenVINO's NNCF "
                        "INT8 needs .venv-nncf: scripts/setup_env.sh --with-nncf)")
    p.add_argument("--smoke", action="store_true", help="resnest14 at 64 px, batches 1 and 2, one run each")
    p.add_argument("--json", help="write all rows as JSON")
    p.add_argument("--plot", help="write a throughput-vs-batch PNG")
    p.add_argument("--from-json", nargs="+", help="print the tables of earlier --json files instead of measuring")
    p.add_argument("--ceiling", action="store_true", help="only measure the GFLOP/s MXNet's kernels reach here")
    p.add_argument("--profile", type=int, metavar="BATCH",
                   help="only print MXNet profiler per-operator totals of the fused graph at this batch size")
    p.add_argument("--train-profile", type=int, metavar="BATCH",
                   help="only print MXNet profiler per-operator totals of a training step (forward, backward, NAG) "
                        "at this batch size")
    p.add_argument("--int8-profile", type=int, metavar="BATCH",
                   help="only print per-layer times of our INT8 ONNX export and OpenVINO's own INT8 in OpenVINO, "
                        "and MXNet profiler totals of our INT8 model, at this batch size")
    p.add_argument("--import-order", type=int, metavar="BATCH",
                   help="only measure inference at this batch size with mxnet imported before / after us")
    p.add_argument("--gluoncv-named", type=int, metavar="BATCH",
                   help="only time the network GluonCV's name builds (rate 0.1) against ours at rate 0 at this batch size, "
                        "hybridized and as export_block files, in --repeat alternating rounds")
    p.add_argument("--input-pipeline", action="store_true",
                   help="only measure the training input pipeline against mx.io.ImageRecordIter")
    p.add_argument("--images", type=int, default=512, help="--input-pipeline: generated JPEGs (500x375)")
    p.add_argument("--input-batch", type=int, default=64, help="--input-pipeline: batch size")
    p.add_argument("--workers", nargs="+", type=int, default=[1, 2], help="--input-pipeline: worker counts")
    p.add_argument("--passes", type=int, default=3, help="--input-pipeline: epochs timed after the first batch")
    p.add_argument("--data-dir", default="runs/input-pipeline", help="--input-pipeline: where the JPEGs are kept")
    p.add_argument("--serving", action="store_true",
                   help="only measure serving through MMS (batching off and on) against in-process classification")
    p.add_argument("--serving-batch", type=int, default=8, help="--serving: MMS batch size and in-process batch")
    p.add_argument("--serving-requests", type=int, default=48, help="--serving: timed requests with batching on")
    args = p.parse_args(argv)
    if args.input_pipeline:
        return input_pipeline(args)
    if args.serving:
        return serving(args)
    if args.smoke:
        args.models, args.size, args.batches, args.train_batch = ["resnest14"], 64, [1, 2], 2
        args.warmup, args.repeat = 1, 1
    if args.from_json:
        rows = []
        for path in args.from_json:
            with open(path) as handle:
                rows += json.load(handle)
        print(table(rows) + "\n\n" + summary(rows))
        if args.plot:
            plot(rows, args.plot)
        return 0
    if args.ceiling:
        for row in compute_ceiling(repeat=args.repeat):
            print("%-45s %7.1f GFLOP/s" % (row["kernel"], row["gflops"]))
        return 0
    if args.profile:
        return print_profiles(args, args.profile, "fused graph, %d forwards", operator_profile)
    if args.train_profile:
        return print_profiles(args, args.train_profile, "training step, %d steps", training_profile)
    if args.int8_profile:
        for name in args.models:
            for kind, text in int8_profiles(name, args.int8_profile, args.size, PROFILE_RUNS):
                print("%s, batch %d, %d px, %s, %d forwards:\n%s\n" % (name, args.int8_profile, args.size, kind,
                                                                      PROFILE_RUNS, text))
        return 0
    if args.import_order:
        rows = [row for name in args.models for row in import_order_rows(name, args.import_order, args.size,
                                                                          args.repeat)]
        for row in rows:
            print("%s batch %d: %-18s %6.2f img/s (MXNet OpenMP threads: %s)" % (
                row["model"], row["batch"], row["impl"], row["img_per_s"], row["omp_threads"]))
        return 0
    if args.gluoncv_named:
        return gluoncv_named(args)
    args.torch = args.torch and reference_python() is not None
    load_before = os.getloadavg()[0]
    rows = []
    for name in args.models:
        rows += benchmark(name, args.size, args.batches, args.train_batch, args.warmup, args.repeat, args.gluoncv,
                          args.torch, args.int8, args.train, args.runtimes)
    print("OMP_NUM_THREADS=%s, median of %d runs after %d warm-up; 1-minute load average %.1f before, %.1f after on "
          "%d CPUs (figures from a machine loaded by other work are not comparable)"
          % (os.environ.get("OMP_NUM_THREADS"), args.repeat, args.warmup, load_before, os.getloadavg()[0],
             os.cpu_count() or 0))
    print(table(rows) + "\n\n" + summary(rows))
    if args.json:
        atomic_write(args.json, rows)
    if args.plot:
        plot(rows, args.plot)
    return 0


def print_profiles(args, batch, what, profile):
    """Print ``profile(name, batch, size, PROFILE_RUNS)`` (an MXNet profiler table) for each of ``--models``,
    headed by the variant, batch, size and ``what`` (with ``%d`` for the number of runs); returns 0."""
    for name in args.models:
        print("%s, batch %d, %d px, %s:\n%s" % (name, batch, args.size, what % PROFILE_RUNS,
                                               profile(name, batch, args.size, PROFILE_RUNS)))
    return 0


def gluoncv_named(args):
    for name in args.models:
        load = os.getloadavg()[0]
        rows = gluoncv_named_rows(name, args.gluoncv_named, args.size, args.repeat, args.warmup)
        print("%s, batch %d, %d px, OMP_NUM_THREADS=%s, median of %d alternating rounds after %d; 1-minute load "
              "average %.1f before, %.1f after on %d CPUs" % (
                  name, args.gluoncv_named, args.size, os.environ.get("OMP_NUM_THREADS"), args.repeat,
                  args.warmup, load, os.getloadavg()[0], os.cpu_count() or 0))
        print("%-13s %-16s %5s %5s %-32s %8s %7s %6s" % ("form", "network", "rate", "ops", "random ops", "s/batch",
                                                       "img/s", "ratio"))
        for row in rows:
            print("%-13s %-16s %5.2f %5s %-32s %8.3f %7.2f %6.3f" % (
                row["form"], row["network"], row["drop_prob"], row["ops"] or "", ",".join(row["random_ops"] or []),
                row["seconds"], row["img_per_s"], row["ratio"]))


def serving(args):
    from tools.benchmark.serving import serving_rows, serving_table

    if args.smoke:
        args.models, args.size, args.serving_batch, args.serving_requests = ["resnest14"], 64, 2, 4
    load_before = os.getloadavg()[0]
    rows = [row for name in args.models for row in serving_rows(
        name, args.size, args.serving_batch, clients=args.serving_batch, requests=args.serving_requests,
        single_requests=max(4, args.serving_requests * 5 // 8))]
    print("%d CPUs, OMP_NUM_THREADS=%s in process and in MMS's one worker per model; 1-minute load average %.1f "
          "before, %.1f after" % (os.cpu_count() or 0, os.environ.get("OMP_NUM_THREADS"), load_before,
                                  os.getloadavg()[0]))
    for name in args.models:
        print("%s, %d px, random weights, symbol/params:\n%s" % (
            name, args.size, serving_table([row for row in rows if row["model"] == name])))
    if args.json:
        atomic_write(args.json, rows)
    return 0


def input_pipeline(args):
    if args.smoke:
        rows = input_pipeline_rows(args.data_dir, count=12, size=64, batch=4, workers=[1], height=120, width=160)
    else:
        rows = input_pipeline_rows(args.data_dir, count=args.images, size=args.size, batch=args.input_batch,
                                   workers=args.workers, passes=args.passes)
    print("%d generated %.0f KB JPEGs x %d epochs, %d px crops, batch %d, %d CPUs, 1-minute load average %.1f" % (
        rows[0]["images"], rows[0]["jpeg_kb"], rows[0]["passes"], rows[0]["size"], rows[0]["batch"],
        len(os.sched_getaffinity(0)), os.getloadavg()[0]))
    print(input_table(rows))
    if args.json:
        atomic_write(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
