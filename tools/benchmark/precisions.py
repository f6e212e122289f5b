"""Each benchmark row's numeric precision and the machine's limit for it.

A row's ``precision`` is ``fp32``, ``bf16`` or ``int8``: the one its producer wrote, else the one its implementation's
name says (:func:`impl_precision`). The machine's limit for a precision is the fastest rate, in GFLOP/s, of that
precision's kernels in a ``ceiling`` measurement (:mod:`tools.benchmark.ceiling`; each kernel's own oneDNN time
where oneDNN reported it); :func:`limit_img_per_s` turns it into img/s for a model at a size, from the catalogue's
multiply-accumulates at 224 px scaled by the pixel count, a training step counting three forwards (the forward,
the data gradient and the weight gradient). A row's share of the limit is its img/s over that.
"""
from gluon_resnest.models.factory import model_record

__all__ = ["PRECISIONS", "TRAINING_FORWARDS", "impl_precision", "row_precision", "limits", "model_gflop",
           "limit_img_per_s", "attach_limits", "limit_share"]

#: The precisions rows are measured at, in the order reports list them.
PRECISIONS = ("fp32", "bf16", "int8")
#: A training step's work in forwards: the forward, the gradient of the data and that of the weights.
TRAINING_FORWARDS = 3


def impl_precision(impl):
    """The precision an implementation's name says: ``int8`` or ``bf16`` when one of its dash-separated words is,
    else ``fp32`` (``ours-int8-openvino``: int8; ``timm-compile-cl-bf16``: bf16; ``openvino-f32``: fp32)."""
    words = impl.split("-")
    return next((precision for precision in ("int8", "bf16") if precision in words), "fp32")


def row_precision(row):
    """The precision of a benchmark row: its ``precision`` field, else :func:`impl_precision` of its impl."""
    return row.get("precision") or impl_precision(row["impl"])


def limits(ceiling):
    """``{precision: ceiling row}``: the fastest kernel of each precision in ``ceiling`` (rows of
    :func:`tools.benchmark.ceiling.ceiling_rows`), by its ``limit_gflops``; precisions none of whose kernels ran
    are absent."""
    best = {}
    for row in ceiling:
        if row.get("limit_gflops") and row["limit_gflops"] > best.get(row["precision"], {}).get("limit_gflops", 0):
            best[row["precision"]] = row
    return {precision: best[precision] for precision in PRECISIONS if precision in best}


def model_gflop(model, size, mode):
    """Floating-point (or integer) operations, in billions, of one image of ``model`` at ``size`` px: twice the
    catalogue's multiply-accumulates at 224 px times ``(size / 224) ** 2``, times :data:`TRAINING_FORWARDS` for
    ``mode`` ``"train"``."""
    forward = 2 * model_record(model).gmacs_224 * (size / 224.0) ** 2
    return forward * (TRAINING_FORWARDS if mode == "train" else 1)


def limit_img_per_s(limit_gflops, model, size, mode):
    """The img/s of ``model`` at ``size`` px in ``mode`` if every operation ran at ``limit_gflops``."""
    return limit_gflops / model_gflop(model, size, mode)


def attach_limits(rows, ceiling):
    """Set ``limit_img_per_s`` on each of ``rows`` (with ``model``) whose precision has a limit in ``ceiling``;
    returns ``rows``."""
    best = limits(ceiling)
    for row in rows:
        limit = best.get(row_precision(row))
        if limit:
            row["limit_img_per_s"] = limit_img_per_s(limit["limit_gflops"], row["model"], row["size"], row["mode"])
    return rows


def limit_share(row):
    """The row's img/s over its ``limit_img_per_s`` (a fraction), or None when either is missing."""
    rate, limit = row.get("img_per_s"), row.get("limit_img_per_s")
    return rate / limit if rate and limit else None
