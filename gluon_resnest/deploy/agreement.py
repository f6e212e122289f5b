"""How closely a reduced-precision model (INT8, bf16) follows float32: top-1 agreement and relative logit error
on real images, with the export's warning and ``min_agreement`` failure."""
import time
import warnings

import numpy as np

from ..utils.errors import ReportableError

__all__ = ["AgreementWarning", "ExportCheckError", "compare_many", "compare_outputs", "check_agreement",
           "WARN_AGREEMENT"]

#: A reduced-precision export agreeing with float32 on fewer top-1 predictions than this gets a warning.
WARN_AGREEMENT = 0.99


class AgreementWarning(UserWarning):
    """A reduced-precision model agrees with float32 less than :data:`WARN_AGREEMENT`."""


class ExportCheckError(ReportableError, RuntimeError):
    """A check of a staged export failed; nothing was published."""


def _numpy(out):
    return out.asnumpy() if hasattr(out, "asnumpy") else np.asarray(out)


def compare_many(reference, candidates, loader, batches=None, skip=0):
    """Top-1 agreement and relative logit error of each candidate against ``reference``, plus throughputs;
    ``reference`` runs once per batch.

    ``reference`` and each value of ``candidates`` (a dict) map a ``(N, 3, H, W)`` NDArray batch to ``(N, classes)``
    logits (an NDArray or a numpy array). Compares on the ``loader`` batches after the first ``skip`` (the
    calibration batches, when the loader is the calibration data), at most ``batches`` of them. Returns
    ``{name: comparison}``; ``images`` is the number compared (0 when none were left).
    """
    agree = dict.fromkeys(candidates, 0)
    errors = {name: [0.0] for name in candidates}
    times = dict.fromkeys(list(candidates) + [None], 1e-12)
    total = 0
    for i, (data, _) in enumerate(loader):
        if i < skip:
            continue
        if batches is not None and i - skip >= batches:
            break
        outs = {}
        for name, block in [(None, reference)] + list(candidates.items()):
            tic = time.perf_counter()
            outs[name] = _numpy(block(data))
            times[name] += time.perf_counter() - tic
        ref = outs[None]
        total += ref.shape[0]
        for name in candidates:
            agree[name] += int((ref.argmax(1) == outs[name].argmax(1)).sum())
            errors[name].append(np.abs(ref - outs[name]).max() / max(np.abs(ref).max(), 1e-12))
    return {name: {"top1_agreement": agree[name] / float(max(total, 1)),
                   "max_rel_logit_error": float(np.max(errors[name])), "images": total,
                   "reference_img_per_s": total / times[None], "candidate_img_per_s": total / times[name]}
            for name in candidates}


def compare_outputs(reference, candidate, loader, batches=None, skip=0):
    """:func:`compare_many` with one candidate; returns its comparison dict."""
    return compare_many(reference, {"candidate": candidate}, loader, batches, skip)["candidate"]


def check_agreement(kind, comparison, min_agreement=None):
    """Warn when ``comparison["top1_agreement"]`` (a :func:`compare_outputs` dict) is below
    :data:`WARN_AGREEMENT`; raise :class:`ExportCheckError` when it is below ``min_agreement``. Returns the
    one-line summary."""
    agreement = comparison["top1_agreement"]
    text = ("%s agrees with float32 on %.1f%% of top-1 predictions (%d held-out images), max relative logit "
            "difference %.2e" % (kind, 100 * agreement, comparison["images"], comparison["max_rel_logit_error"]))
    if min_agreement is not None and agreement < min_agreement:
        raise ExportCheckError("%s, below the required agreement %.3g; nothing was published" % (text, min_agreement))
    if agreement < WARN_AGREEMENT:
        warnings.warn("%s: check it on your own validation images before deploying" % text, AgreementWarning,
                      stacklevel=2)
    return text
