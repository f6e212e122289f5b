"""Benchmark reports: the header of a run (its CPU runtime line, the PyTorch runtime, the machine's limits), the
full table, the per-model summary with ratios against the peers, and the plot.

``run --json`` writes one JSON object, :func:`run_record`: ``cpu_runtime`` (``str(gluon_resnest.cpu_runtime())``),
``ceiling`` (the kernels of :mod:`tools.benchmark.ceiling`) and ``rows``; :func:`read_runs` also reads a JSON
list of rows alone.
"""
import json

from gluon_resnest.utils.fileio import atomic_write

from .precisions import PRECISIONS, limit_img_per_s, limit_share, limits, row_precision

__all__ = ["table", "summary", "plot", "run_record", "read_runs", "run_header", "ceiling_table", "limits_table",
           "row_groups", "SUMMARY_IMPLS", "SUMMARY_RATIOS"]


def run_record(cpu_runtime, ceiling, rows):
    """The JSON object ``run --json`` writes."""
    return {"cpu_runtime": cpu_runtime, "ceiling": ceiling, "rows": rows}


def read_runs(paths):
    """``[(path, record)]`` of JSON files written by ``run --json`` (a :func:`run_record`, or a list of rows, read
    as a record without runtime line and ceiling); a file that is neither is a ``ValueError`` naming it."""
    runs = []
    for path in paths:
        with open(path) as handle:
            try:
                record = json.load(handle)
            except ValueError as err:
                raise ValueError("%s is not a JSON file of benchmark rows: %s" % (path, err)) from None
        if isinstance(record, list):
            record = run_record(None, [], record)
        if not isinstance(record, dict) or not isinstance(record.get("rows"), list):
            raise ValueError("%s is not a JSON file of benchmark rows: no list of rows" % path)
        runs.append((path, record))
    return runs


def _pytorch(row):
    """True for a row of the PyTorch reference: ``framework`` ``"pytorch"``, or, in a rows file without the
    ``framework`` field, an impl named ``pytorch-*``."""
    return row.get("framework") == "pytorch" or row["impl"].startswith("pytorch-")


def run_header(cpu_runtime, ceiling, rows):
    """The lines that open a run's report: the CPU runtime line, each PyTorch runtime its rows name (version,
    threads, the units of each precision) and the machine's limit at each precision (:func:`limits`)."""
    lines = [cpu_runtime or "CPU runtime: not recorded"]
    torch = {}
    for row in rows:
        if _pytorch(row) and row.get("torch_version"):
            key = (row["torch_version"], row.get("threads"))
            torch.setdefault(key, {})[row_precision(row)] = row.get("units")
    for (version, threads), units in sorted(torch.items()):
        lines.append("PyTorch: torch %s, %s threads; %s" % (version, threads, ", ".join(
            "%s on %s" % (precision, units[precision]) for precision in PRECISIONS if precision in units)))
    best = limits(ceiling)
    if best:
        lines.append("Limits (fastest ceiling kernel of each precision): " + "; ".join(
            "%s %.0f GFLOP/s (%s, %s)" % (precision, row["limit_gflops"], row["kernel"],
                                         ", ".join(row.get("implementations") or ["graph time"]))
            for precision, row in best.items()))
    else:
        lines.append("Limits: not measured")
    return lines


def ceiling_table(ceiling):
    """The ceiling kernels as a Markdown table: precision, kernel, oneDNN's implementations, GFLOP/s of the whole
    graph and of oneDNN's kernel alone (or the error of a kernel MXNet could not run)."""
    lines = ["| precision | kernel | oneDNN kernels | graph GFLOP/s | kernel GFLOP/s |", "|---|---|---|---|---|"]
    for row in ceiling:
        if "error" in row:
            lines.append("| %s | %s | failed: %s | - | - |" % (row["precision"], row["kernel"], row["error"]))
            continue
        lines.append("| %s | %s | %s | %.1f | %s |" % (
            row["precision"], row["kernel"], ", ".join(row.get("implementations") or ["-"]), row["gflops"],
            "%.1f" % row["kernel_gflops"] if row.get("kernel_gflops") else "-"))
    return "\n".join(lines)


def limits_table(ceiling, models, size):
    """The machine's limit for each of ``models`` at ``size`` px as a Markdown table: per precision, the limit in
    GFLOP/s and in img/s for inference and a training step (:func:`~tools.benchmark.precisions.limit_img_per_s`)."""
    lines = ["| model | size | precision | limit GFLOP/s | inference img/s | training step img/s |",
             "|---|---|---|---|---|---|"]
    for model in models:
        for precision, row in limits(ceiling).items():
            lines.append("| %s | %d | %s | %.0f | %.1f | %.1f |" % (
                model, size, precision, row["limit_gflops"],
                limit_img_per_s(row["limit_gflops"], model, size, "inference"),
                limit_img_per_s(row["limit_gflops"], model, size, "train")))
    return "\n".join(lines)


def _notes(row):
    """What follows a row's implementation in parentheses: the runtime it ran in, its compilation, its failure."""
    notes = [row["runtime"]] if row.get("runtime") else []
    if row.get("compile_s") is not None:
        notes.append("compiled in %.1f s, cache %s" % (row["compile_s"], row.get("compile_cache", "-")))
    if row.get("error"):
        notes.append("failed: " + row["error"])
    return notes


def _number(value, form):
    return form % value if value is not None else "-"


def table(rows):
    """Every row as a Markdown table: its precision (with the units that ran it, where known), img/s, latency,
    peak memory, share of the machine's limit at its precision, and the ratio to GluonCV in the same
    configuration. A row's runtime, compilation and failure follow its implementation in parentheses."""
    lines = ["| model | size | mode | batch | implementation | precision | img/s | latency (ms) | peak RSS (MB) | "
             "share of limit | vs gluoncv |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {(r["model"], r["mode"], r["batch"], r["size"]): r["img_per_s"] for r in rows if r["impl"] == "gluoncv"}
    for r in rows:
        ref = base.get((r["model"], r["mode"], r["batch"], r["size"]))
        notes = _notes(r)
        share = limit_share(r)
        lines.append("| %s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["size"], r["mode"], r["batch"], r["impl"] + (" (%s)" % "; ".join(notes) if notes else ""),
            row_precision(r) + (" on %s" % r["units"] if r.get("units") else ""), _number(r["img_per_s"], "%.2f"),
            _number(r["latency_ms"], "%.1f"), _number(r["peak_rss_mb"], "%.0f"),
            _number(share and 100 * share, "%.1f%%"),
            "%.2fx" % (r["img_per_s"] / ref) if ref and r["img_per_s"] else "-"))
    return "\n".join(lines)


#: Summary columns: ``(key, header)`` (a key of :func:`row_groups`); runtimes absent from a run show "-".
SUMMARY_IMPLS = (("ours", "ours"), ("ours-fused", "ours fused"), ("ours-bf16", "ours bf16 (MXNet)"),
                 ("ours-int8", "ours INT8 (MXNet)"),
                 ("ours-int8-openvino", "ours INT8 ONNX (OpenVINO)"), ("onnxruntime", "onnxruntime"),
                 ("openvino-f32", "OpenVINO fp32"), ("openvino-bf16", "OpenVINO bf16"),
                 ("openvino-int8", "OpenVINO INT8 (NNCF)"), ("predict-default", "predict.py default"),
                 ("gluoncv", "GluonCV (same threads)"), ("gluoncv-default-threads", "GluonCV (default)"),
                 ("pytorch fp32", "PyTorch fp32 (best)"), ("pytorch bf16", "PyTorch bf16 (best)"))

#: Ratio columns: ``(header, numerator keys, denominator keys)``, each side the fastest of its :func:`row_groups`
#: keys that ran.
SUMMARY_RATIOS = (("best fp32 / GluonCV", ("ours", "ours-fused"), ("gluoncv",)),
                  ("/ GluonCV default", ("ours", "ours-fused"), ("gluoncv-default-threads",)),
                  ("best fp32 / PyTorch fp32", ("ours", "ours-fused"), ("pytorch fp32",)),
                  ("MXNet bf16 / PyTorch bf16", ("mxnet bf16",), ("pytorch bf16",)),
                  ("INT8 / fused fp32", ("ours-int8",), ("ours-fused",)),
                  ("best INT8 / OpenVINO bf16", ("ours-int8", "ours-int8-openvino"), ("openvino-bf16",)),
                  ("best INT8 / OpenVINO INT8 (NNCF)", ("ours-int8", "ours-int8-openvino"), ("openvino-int8",)),
                  ("MXNet INT8 / OpenVINO INT8 (NNCF)", ("ours-int8",), ("openvino-int8",)))


def row_groups(row):
    """The summary keys a row counts toward: its impl; ``pytorch <precision>`` for a PyTorch row (the fastest
    configuration of each precision); ``mxnet <precision>`` for our rows measured in MXNet (``framework``
    ``"mxnet"``, impl ``ours...``)."""
    keys = [row["impl"]]
    if _pytorch(row):
        keys.append("pytorch " + row_precision(row))
    elif row.get("framework") == "mxnet" and row["impl"].startswith("ours"):
        keys.append("mxnet " + row_precision(row))
    return keys


def summary(rows):
    """One line per model/mode/batch: img/s of each :data:`SUMMARY_IMPLS`, then the :data:`SUMMARY_RATIOS` ("-"
    where a side did not run); columns empty in every line are left out. Failed rows count as not run."""
    headers = [header for _, header in SUMMARY_IMPLS] + [header for header, _, _ in SUMMARY_RATIOS]
    keys = sorted({(r["model"], r["mode"], r["batch"]) for r in rows})
    table_cells = []
    for key in keys:
        got = {}
        for r in rows:
            if (r["model"], r["mode"], r["batch"]) == key and r["img_per_s"]:
                for group in row_groups(r):
                    got[group] = max(got.get(group, 0.0), r["img_per_s"])
        cells = ["%.2f" % got[impl] if impl in got else "-" for impl, _ in SUMMARY_IMPLS]
        for _, num, den in SUMMARY_RATIOS:
            a, b = (max((got[i] for i in side if i in got), default=None) for side in (num, den))
            cells.append("%.2fx" % (a / b) if a and b else "-")
        table_cells.append(cells)
    shown = [i for i in range(len(headers)) if any(cells[i] != "-" for cells in table_cells)]
    lines = ["| model | mode | batch | %s |" % " | ".join(headers[i] for i in shown),
             "|---|---|---|%s" % ("---|" * len(shown))]
    for key, cells in zip(keys, table_cells):
        lines.append("| %s | %s | %d | %s |" % (key[0], key[1], key[2], " | ".join(cells[i] for i in shown)))
    return "\n".join(lines)


def plot(rows, path):
    """Inference img/s against batch size: one panel per model, one color per implementation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    infer = [r for r in rows if r["mode"] == "inference" and r["img_per_s"]]
    models = sorted({r["model"] for r in infer})
    impls = sorted({r["impl"] for r in infer})
    palette = plt.get_cmap("tab20").colors
    palette = palette[::2] + palette[1::2]
    colors = {impl: palette[i % len(palette)] for i, impl in enumerate(impls)}
    width = 4.2 * len(models)
    legend_cols = max(1, int(width // 2))
    legend_height = 0.25 * -(-len(impls) // legend_cols) + 0.1
    fig, axes = plt.subplots(1, len(models), figsize=(width, 4 + legend_height), squeeze=False)
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
    fig.legend(handles, labels, loc="lower center", ncol=legend_cols, fontsize=8)
    fig.tight_layout(rect=(0, legend_height / (4 + legend_height), 1, 1))
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=90))
    plt.close(fig)
