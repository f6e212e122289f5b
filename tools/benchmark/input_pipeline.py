"""Input-pipeline throughput: our training loader (worker processes) against ``mx.io.ImageRecordIter`` with the
same augmentations (random-resized crop, flip, brightness/contrast/saturation jitter 0.4, PCA lighting 0.1,
normalization), on the same generated photo-like JPEGs (:mod:`tools.synthetic`), in one run.

Each measurement is one pass over the file after one warm-up batch; rows give images per second in all and per
worker (our worker processes, ``ImageRecordIter``'s ``preprocess_threads``).
"""
import os
import time

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


def _rate(batches):
    """Images per second of an iterable of batch sizes, after its first batch."""
    iterator = iter(batches)
    next(iterator)
    start, images = time.perf_counter(), 0
    for size in iterator:
        images += size
    return images / (time.perf_counter() - start)


def ours_rate(rec, size, batch, workers, auto_augment):
    """img/s of :func:`~gluon_resnest.data.loader.make_loader` (training mode) over ``rec``."""
    transform = TrainTransform(size, auto_augment=AutoAugment() if auto_augment else None)
    loader = make_loader(open_image_dataset(rec), transform, batch, train=True, num_workers=workers)
    return _rate(data.shape[0] for data, _ in loader)


def record_iter_rate(rec, size, batch, threads):
    """img/s of ``mx.io.ImageRecordIter`` over ``rec`` with the recipe's augmentations."""
    mean = [255.0 * m for m in IMAGENET_MEAN]
    std = [255.0 * s for s in IMAGENET_STD]
    it = mx.io.ImageRecordIter(
        path_imgrec=rec, path_imgidx=rec[:-4] + ".idx", data_shape=(3, size, size), batch_size=batch, shuffle=True,
        round_batch=False, random_resized_crop=True, min_random_area=0.08, max_random_area=1.0,
        min_aspect_ratio=3.0 / 4, max_aspect_ratio=4.0 / 3, rand_mirror=True, brightness=0.4, contrast=0.4,
        saturation=0.4, pca_noise=0.1, mean_r=mean[0], mean_g=mean[1], mean_b=mean[2], std_r=std[0], std_g=std[1],
        std_b=std[2], inter_method=1, preprocess_threads=threads)

    def sizes():
        for data_batch in it:
            data_batch.data[0].wait_to_read()
            yield batch - data_batch.pad
    return _rate(sizes())


def input_pipeline_rows(directory, count=512, size=224, batch=64, workers=(1, 2), height=375, width=500):
    """Rows ``{"pipeline", "auto_augment", "workers", "img_per_s", "img_per_s_per_worker"}``: ours with and
    without AutoAugment and ``ImageRecordIter`` (which has no AutoAugment), at each worker count."""
    rec = photo_recordio(directory, count, height, width)
    rows = []

    def add(pipeline, auto_augment, n, rate):
        rows.append({"pipeline": pipeline, "auto_augment": auto_augment, "workers": n, "img_per_s": rate,
                     "img_per_s_per_worker": rate / n, "images": count, "size": size, "batch": batch,
                     "jpeg_kb": os.path.getsize(rec) / count / 1024.0})
    for n in workers:
        add("mx.io.ImageRecordIter", False, n, record_iter_rate(rec, size, batch, n))
        add("ours", False, n, ours_rate(rec, size, batch, n, False))
        add("ours", True, n, ours_rate(rec, size, batch, n, True))
    return rows


def input_table(rows):
    """Markdown table of :func:`input_pipeline_rows`, with ours / ImageRecordIter per worker count."""
    base = {r["workers"]: r["img_per_s"] for r in rows if r["pipeline"] == "mx.io.ImageRecordIter"}
    lines = ["| pipeline | AutoAugment | workers | img/s | img/s per worker | vs ImageRecordIter |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ref = base.get(r["workers"])
        lines.append("| %s | %s | %d | %.1f | %.1f | %s |" % (
            r["pipeline"], "yes" if r["auto_augment"] else "no", r["workers"], r["img_per_s"],
            r["img_per_s_per_worker"], "%.2fx" % (r["img_per_s"] / ref) if ref else "-"))
    return "\n".join(lines)
