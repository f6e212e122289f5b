"""Benchmark reports: the full table, the per-model summary with ratios against the peers, and the plot."""
from gluon_resnest.utils.fileio import atomic_write

__all__ = ["table", "summary", "plot", "SUMMARY_IMPLS", "SUMMARY_RATIOS"]


def table(rows):
    """Every measured row as a Markdown table, with the ratio to GluonCV in the same configuration (a row's
    ``runtime``, when it has one, follows its implementation in parentheses)."""
    lines = ["| model | size | mode | batch | implementation | img/s | latency (ms) | peak RSS (MB) | vs gluoncv |",
             "|---|---|---|---|---|---|---|---|---|"]
    base = {(r["model"], r["mode"], r["batch"], r["size"]): r["img_per_s"] for r in rows if r["impl"] == "gluoncv"}
    for r in rows:
        ref = base.get((r["model"], r["mode"], r["batch"], r["size"]))
        lines.append("| %s | %d | %s | %d | %s | %.2f | %.1f | %.0f | %s |" % (
            r["model"], r["size"], r["mode"], r["batch"],
            r["impl"] + (" (%s)" % r["runtime"] if r.get("runtime") else ""), r["img_per_s"], r["latency_ms"],
            r["peak_rss_mb"], "%.2fx" % (r["img_per_s"] / ref) if ref else "-"))
    return "\n".join(lines)


#: Summary columns: ``(impl, header)``; runtimes absent from a run show "-".
SUMMARY_IMPLS = (("ours", "ours"), ("ours-fused", "ours fused"), ("ours-int8", "ours INT8 (MXNet)"),
                 ("ours-int8-openvino", "ours INT8 ONNX (OpenVINO)"), ("onnxruntime", "onnxruntime"),
                 ("openvino-f32", "OpenVINO fp32"), ("openvino-bf16", "OpenVINO bf16 (= our bf16 path)"),
                 ("openvino-int8", "OpenVINO INT8 (NNCF)"), ("predict-default", "predict.py default"),
                 ("gluoncv", "GluonCV (same threads)"), ("gluoncv-default-threads", "GluonCV (default)"))

#: Ratio columns: ``(header, numerator impls, denominator impls)``, each side the fastest of its impls that ran
#: ("pytorch" stands for the PyTorch reference, whichever package it came from).
SUMMARY_RATIOS = (("best fp32 / GluonCV", ("ours", "ours-fused"), ("gluoncv",)),
                  ("/ GluonCV default", ("ours", "ours-fused"), ("gluoncv-default-threads",)),
                  ("/ PyTorch", ("ours", "ours-fused"), ("pytorch",)),
                  ("INT8 / fused fp32", ("ours-int8",), ("ours-fused",)),
                  ("best INT8 / OpenVINO bf16", ("ours-int8", "ours-int8-openvino"), ("openvino-bf16",)),
                  ("best INT8 / OpenVINO INT8 (NNCF)", ("ours-int8", "ours-int8-openvino"), ("openvino-int8",)),
                  ("MXNet INT8 / OpenVINO INT8 (NNCF)", ("ours-int8",), ("openvino-int8",)))


def summary(rows):
    """One line per model/mode/batch: img/s of each :data:`SUMMARY_IMPLS` and of PyTorch, then the
    :data:`SUMMARY_RATIOS` ("-" where a side did not run); columns empty in every line are left out."""
    headers = [header for _, header in SUMMARY_IMPLS] + ["PyTorch"] + [header for header, _, _ in SUMMARY_RATIOS]
    keys = sorted({(r["model"], r["mode"], r["batch"]) for r in rows})
    table_cells = []
    for key in keys:
        got = {("pytorch" if r["impl"].startswith("pytorch") else r["impl"]): r["img_per_s"] for r in rows
               if (r["model"], r["mode"], r["batch"]) == key}
        cells = ["%.2f" % got[impl] if impl in got else "-" for impl in [i for i, _ in SUMMARY_IMPLS] + ["pytorch"]]
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

    infer = [r for r in rows if r["mode"] == "inference"]
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
