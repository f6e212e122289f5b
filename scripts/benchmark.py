#!/usr/bin/env python
"""Benchmark ResNeSt inference (fp32, oneDNN-fused, INT8) and training steps against GluonCV and PyTorch.

    python scripts/benchmark.py --models resnest50 --batches 1 8 16 --json bench.json --plot bench.png
    python scripts/benchmark.py --smoke          (a few seconds; no timing claims)
    python scripts/benchmark.py --ceiling        (GFLOP/s of an SGEMM and single convolutions on this machine)
    python scripts/benchmark.py --models resnest50 --profile 8   (per-operator times of the fused graph)

Import order matters: gluon_resnest is imported before MXNet so it can size MXNet's OpenMP pool.
"""
import argparse
import json
import os
import sys

import gluon_resnest  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
from gluon_resnest.benchmark import benchmark, compute_ceiling, operator_profile
from gluon_resnest.fileio import atomic_write
from gluon_resnest.variants import VARIANTS


def table(rows):
    lines = ["| model | size | mode | batch | implementation | img/s | latency (ms) | peak RSS (MB) | vs gluoncv |",
             "|---|---|---|---|---|---|---|---|---|"]
    base = {(r["model"], r["mode"], r["batch"], r["size"]): r["img_per_s"] for r in rows if r["impl"] == "gluoncv"}
    for r in rows:
        ref = base.get((r["model"], r["mode"], r["batch"], r["size"]))
        lines.append("| %s | %d | %s | %d | %s | %.2f | %.1f | %.0f | %s |" % (
            r["model"], r["size"], r["mode"], r["batch"], r["impl"], r["img_per_s"], r["latency_ms"],
            r["peak_rss_mb"], "%.2fx" % (r["img_per_s"] / ref) if ref else "-"))
    return "\n".join(lines)


def summary(rows):
    """One line per model/mode/batch: img/s of each implementation and the ratios of our best fp32 graph."""
    impls = ["ours", "ours-fused", "ours-int8", "gluoncv", "gluoncv-default-threads"]
    lines = ["| model | mode | batch | ours | ours fused | ours INT8 | GluonCV (same threads) | GluonCV (default) | "
             "PyTorch | best fp32 / GluonCV | / GluonCV default | / PyTorch | INT8 / fused fp32 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["model"], r["mode"], r["batch"]) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
    for key in keys:
        got = {r["impl"]: r["img_per_s"] for r in rows if (r["model"], r["mode"], r["batch"]) == key}
        torch_rate = next((v for k, v in got.items() if k.startswith("pytorch")), None)
        best = max(got.get("ours", 0), got.get("ours-fused", 0))

        def ratio(a, b):
            return "%.2fx" % (a / b) if a and b else "-"

        cells = ["%.2f" % got[i] if i in got else "-" for i in impls]
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
            key[0], key[1], key[2], " | ".join(cells), "%.2f" % torch_rate if torch_rate else "-",
            ratio(best, got.get("gluoncv")), ratio(best, got.get("gluoncv-default-threads")),
            ratio(best, torch_rate), ratio(got.get("ours-int8"), got.get("ours-fused"))))
    return "\n".join(lines)


def plot(rows, path):
    """Inference img/s against batch size: one panel per model, one color per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    infer = [r for r in rows if r["mode"] == "inference"]
    models = sorted({r["model"] for r in infer})
    impls = sorted({r["impl"] for r in infer})
    colors = dict(zip(impls, plt.get_cmap("tab10").colors))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models):
        for impl in impls:
            pts = sorted((r["batch"], r["img_per_s"]) for r in infer if (r["model"], r["impl"]) == (model, impl))
            if pts:
                ax.plot(*zip(*pts), "o-", color=colors[impl], label=impl)
        ax.set_title(model)
        ax.set_xlabel("batch size")
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("images / s")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(impls), fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnest50"], choices=sorted(VARIANTS))
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batches", nargs="+", type=int, default=[1, 8, 16])
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-gluoncv", dest="gluoncv", action="store_false")
    p.add_argument("--no-torch", dest="torch", action="store_false")
    p.add_argument("--no-int8", dest="int8", action="store_false")
    p.add_argument("--no-train", dest="train", action="store_false")
    p.add_argument("--smoke", action="store_true", help="resnest14 at 64 px, batches 1 and 2, one run each")
    p.add_argument("--json", help="write all rows as JSON")
    p.add_argument("--plot", help="write a throughput-vs-batch PNG")
    p.add_argument("--from-json", nargs="+", help="print the tables of earlier --json files instead of measuring")
    p.add_argument("--ceiling", action="store_true", help="only measure the GFLOP/s MXNet's kernels reach here")
    p.add_argument("--profile", type=int, metavar="BATCH",
                   help="only print MXNet profiler per-operator totals of the fused graph at this batch size")
    args = p.parse_args(argv)
    if args.smoke:
        args.models, args.size, args.batches, args.train_batch = ["resnest14"], 64, [1, 2], 2
        args.warmup, args.repeat = 1, 1
    if args.from_json:
        rows = [row for path in args.from_json for row in json.load(open(path))]
        print(table(rows) + "\n\n" + summary(rows))
        if args.plot:
            plot(rows, args.plot)
        return 0
    if args.ceiling:
        for row in compute_ceiling(repeat=args.repeat):
            print("%-45s %7.1f GFLOP/s" % (row["kernel"], row["gflops"]))
        return 0
    if args.profile:
        runs = 3
        for name in args.models:
            print("%s, batch %d, %d px, fused graph, %d forwards:\n%s" % (
                name, args.profile, args.size, runs, operator_profile(name, args.profile, args.size, runs)))
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        args.torch = False
    rows = []
    for name in args.models:
        rows += benchmark(name, args.size, args.batches, args.train_batch, args.warmup, args.repeat, args.gluoncv,
                          args.torch, args.int8, args.train)
    print("OMP_NUM_THREADS=%s, median of %d runs after %d warm-up" % (os.environ.get("OMP_NUM_THREADS"),
                                                                      args.repeat, args.warmup))
    print(table(rows))
    print()
    print(summary(rows))
    if args.json:
        atomic_write(args.json, lambda tmp: json.dump(rows, open(tmp, "w"), indent=2))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
