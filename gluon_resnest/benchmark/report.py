"""Benchmark reports: the full table, the per-model summary with ratios against the peers, and the plot."""
from ..utils.fileio import atomic_write

__all__ = ["table", "summary", "plot", "SUMMARY_IMPLS"]


def table(rows):
    """Every measured row as a Markdown table, with the ratio to GluonCV in the same configuration."""
    lines = ["| model | size | mode | batch | implementation | img/s | latency (ms) | peak RSS (MB) | vs gluoncv |",
             "|---|---|---|---|---|---|---|---|---|"]
    base = {(r["model"], r["mode"], r["batch"], r["size"]): r["img_per_s"] for r in rows if r["impl"] == "gluoncv"}
    for r in rows:
        ref = base.get((r["model"], r["mode"], r["batch"], r["size"]))
        lines.append("| %s | %d | %s | %d | %s | %.2f | %.1f | %.0f | %s |" % (
            r["model"], r["size"], r["mode"], r["batch"], r["impl"], r["img_per_s"], r["latency_ms"],
            r["peak_rss_mb"], "%.2fx" % (r["img_per_s"] / ref) if ref else "-"))
    return "\n".join(lines)


#: Summary columns: ``(impl, header)``; runtimes absent from a run show "-".
SUMMARY_IMPLS = (("ours", "ours"), ("ours-fused", "ours fused"), ("ours-int8", "ours INT8"),
                 ("onnxruntime", "onnxruntime"), ("openvino-f32", "OpenVINO fp32"), ("openvino-bf16", "OpenVINO bf16"),
                 ("openvino-int8", "OpenVINO INT8 (QDQ)"),
                 ("gluoncv", "GluonCV (same threads)"), ("gluoncv-default-threads", "GluonCV (default)"))


def summary(rows):
    """One line per model/mode/batch: img/s of each implementation and the ratios of our best fp32 graph."""
    impls = [impl for impl, _ in SUMMARY_IMPLS]
    lines = ["| model | mode | batch | %s | PyTorch | best fp32 / GluonCV | / GluonCV default | / PyTorch | "
             "INT8 / fused fp32 | INT8 / OpenVINO bf16 | INT8 / OpenVINO INT8 |"
             % " | ".join(header for _, header in SUMMARY_IMPLS),
             "|---|---|---|%s---|---|---|---|---|---|---|" % ("---|" * len(impls))]
    keys = sorted({(r["model"], r["mode"], r["batch"]) for r in rows}, key=lambda k: (k[0], k[1], k[2]))
    for key in keys:
        got = {r["impl"]: r["img_per_s"] for r in rows if (r["model"], r["mode"], r["batch"]) == key}
        torch_rate = next((v for k, v in got.items() if k.startswith("pytorch")), None)
        best = max(got.get("ours", 0), got.get("ours-fused", 0))

        def ratio(a, b):
            return "%.2fx" % (a / b) if a and b else "-"

        cells = ["%.2f" % got[i] if i in got else "-" for i in impls]
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            key[0], key[1], key[2], " | ".join(cells), "%.2f" % torch_rate if torch_rate else "-",
            ratio(best, got.get("gluoncv")), ratio(best, got.get("gluoncv-default-threads")),
            ratio(best, torch_rate), ratio(got.get("ours-int8"), got.get("ours-fused")),
            ratio(got.get("ours-int8"), got.get("openvino-bf16")),
            ratio(got.get("ours-int8"), got.get("openvino-int8"))))
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
    plt.close(fig)
