"""Input-pipeline throughput: our training loader (worker processes) against ``mx.io.ImageRecordIter`` with the
same augmentations (random-resized crop, flip, brightness/contrast/saturation jitter 0.4, PCA lighting 0.1,
normalization), on the same generated photo-like JPEGs (:mod:`tools.synthetic`), in one run.

Each measurement builds its pipeline, times the first batch (start-up, reported apart) and then the rest of
``passes`` epochs over the file; rows give images per second in all and per decode thread (our worker processes;
``ImageRecordIter`` decodes on at most ``max(nproc / 2 - 1, 1)`` threads whatever ``preprocess_threads`` asks,
:func:`decode_threads`).
"""
import os
import time

import cv2
import mxnet as mx

from gluon_resnest.data.autoaugment import AutoAugment
from gluon_resnest.data.constants import IMAGENET_MEAN, IMAGENET_STD
from gluon_resnest.data.datasets import open_image_dataset, write_recordio
from gluon_resnest.data.loader import make_loader
from gluon_resnest.data.transforms import TrainTransform

from ..synthetic import photo_like_samples

__all__ = ["photo_recordio", "ours_rate", "record_iter_rate", "input_pipeline_rows", "input_table"]


def photo_recordio(directory, count, height=375, width=500, quality=90):
    """``directory/photos-COUNT-WxH.rec`` (with ``.idx``) of ``count`` photo-like JPEGs, written unless present."""
    prefix = os.path.join(directory, "photos-%d-%dx%d" % (count, width, height))
    if not (os.path.isfile(prefix + ".rec") and os.path.isfile(prefix + ".idx")):
        write_recordio(prefix, photo_like_samples(count, seed=0, height=height, width=width), quality=quality)
    return prefix + ".rec"


def _timed(batches):
    """``(start-up seconds, img/s)`` of a generator of batch sizes that builds its pipeline when first advanced:
    start-up is the time to the first batch, the rate counts the batches after it."""
    start = time.perf_counter()
    next(batches)
    startup = time.perf_counter() - start
    tic, images = time.perf_counter(), 0
    for size in batches:
        images += size
    return startup, images / (time.perf_counter() - tic)


def ours_rate(rec, size, batch, workers, auto_augment, passes=1):
    """``(start-up s, img/s)`` of :func:`~gluon_resnest.data.loader.make_loader` (training mode) over ``passes``
    epochs of ``rec``. OpenCV's own threads are turned off first (the worker processes inherit that), so each
    worker is one core."""
    cv2.setNumThreads(1)

    def sizes():
        transform = TrainTransform(size, auto_augment=AutoAugment() if auto_augment else None)
        loader = make_loader(open_image_dataset(rec), transform, batch, train=True, num_workers=workers)
        for epoch in range(passes):
            loader.sampler.set_epoch(epoch)
            for data, _ in loader:
                yield data.shape[0]
    return _timed(sizes())


def decode_threads(threads):
    """The decode threads ``ImageRecordIter`` really uses for ``preprocess_threads=threads``: at most
    ``max(nproc / 2 - 1, 1)`` (its ImageRecordIOParser2)."""
    return min(threads, max(len(os.sched_getaffinity(0)) // 2 - 1, 1))


def record_iter_rate(rec, size, batch, threads, passes=1):
    """``(start-up s, img/s)`` of ``mx.io.ImageRecordIter`` over ``passes`` epochs of ``rec`` with the recipe's
    augmentations."""
    mean = [255.0 * m for m in IMAGENET_MEAN]
    std = [255.0 * s for s in IMAGENET_STD]

    def sizes():
        it = mx.io.ImageRecordIter(
            path_imgrec=rec, path_imgidx=rec[:-4] + ".idx", data_shape=(3, size, size), batch_size=batch,
            shuffle=True, round_batch=False, random_resized_crop=True, min_random_area=0.08, max_random_area=1.0,
            min_aspect_ratio=3.0 / 4, max_aspect_ratio=4.0 / 3, rand_mirror=True, brightness=0.4, contrast=0.4,
            saturation=0.4, pca_noise=0.1, mean_r=mean[0], mean_g=mean[1], mean_b=mean[2], std_r=std[0],
            std_g=std[1], std_b=std[2], inter_method=1, preprocess_threads=threads)
        for epoch in range(passes):
            if epoch:
                it.reset()
            for data_batch in it:
                data_batch.data[0].wait_to_read()
                yield batch - data_batch.pad
    return _timed(sizes())


def input_pipeline_rows(directory, count=512, size=224, batch=64, workers=(1, 2), height=375, width=500, passes=1):
    """Rows ``{"pipeline", "auto_augment", "workers", "decode_threads", "startup_s", "img_per_s",
    "img_per_s_per_worker", ...}``: ours with and without AutoAugment and ``ImageRecordIter`` (which has no
    AutoAugment), at each worker count, each over ``passes`` epochs of ``count`` images."""
    rec = photo_recordio(directory, count, height, width)
    rows = []

    def add(pipeline, auto_augment, n, threads, timed):
        startup, rate = timed
        rows.append({"pipeline": pipeline, "auto_augment": auto_augment, "workers": n, "decode_threads": threads,
                     "startup_s": startup, "img_per_s": rate, "img_per_s_per_worker": rate / threads,
                     "images": count, "passes": passes, "size": size, "batch": batch,
                     "jpeg_kb": os.path.getsize(rec) / count / 1024.0})
    for n in workers:
        add("mx.io.ImageRecordIter", False, n, decode_threads(n), record_iter_rate(rec, size, batch, n, passes))
        add("ours", False, n, n, ours_rate(rec, size, batch, n, False, passes))
        add("ours", True, n, n, ours_rate(rec, size, batch, n, True, passes))
    return rows


def input_table(rows):
    """Markdown table of :func:`input_pipeline_rows`: img/s against ``ImageRecordIter`` with one decode thread
    (the same core count as one worker), and each of ours against ours with one worker."""
    single = [r["img_per_s"] for r in rows if r["pipeline"] == "mx.io.ImageRecordIter" and r["decode_threads"] == 1]
    base = single[0] if single else None
    ones = {r["auto_augment"]: r["img_per_s"] for r in rows if r["pipeline"] == "ours" and r["workers"] == 1}
    lines = ["| pipeline | AutoAugment | workers | decode threads | start-up (s) | img/s | img/s per thread | "
             "vs ImageRecordIter 1 thread | vs ours 1 worker |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        one = ones.get(r["auto_augment"]) if r["pipeline"] == "ours" else None
        lines.append("| %s | %s | %d | %d | %.2f | %.1f | %.1f | %s | %s |" % (
            r["pipeline"], "yes" if r["auto_augment"] else "no", r["workers"], r["decode_threads"], r["startup_s"],
            r["img_per_s"], r["img_per_s_per_worker"], "%.2fx" % (r["img_per_s"] / base) if base else "-",
            "%.2fx" % (r["img_per_s"] / one) if one else "-"))
    return "\n".join(lines)
