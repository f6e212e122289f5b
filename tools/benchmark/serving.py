"""Serving through Multi Model Server against in-process classification, on one runtime, in one run.

A variant with random weights is exported twice (symbol/params, batch 1 and batch ``batch``) and packaged
(:func:`~gluon_resnest.deploy.serving.archive.package_export`); one MMS serves both archives, the first with
batching off (``batch_size`` 1) and the second with ``batch_size`` ``batch``. The same generated JPEGs go through:

* in process, as ``scripts/predict.py`` does it: ``mx.image.imdecode`` then ``ExportedClassifier.logits``, one
  image at a time (batch-1 export) and ``batch`` images at a time (batch-``batch`` export);
* served, batching off: one client, one request after the other (latency of single-image requests);
* served, batching on: ``clients`` concurrent clients, each sending its next request when answered.

Each row: requests (or images) per second over the timed part and p50/p99 latency per request (per batch in
process). Untimed warm-up requests come first. MXNet runs ``threads`` OpenMP threads in both (MMS's single worker
per model gets all CPUs).
"""
import concurrent.futures
import io
import os
import tempfile
import time

import mxnet as mx
import numpy as np

__all__ = ["serving_rows", "serving_table", "random_jpegs"]


def random_jpegs(count, width=500, height=375, seed=0):
    """``count`` JPEG files' bytes (quality 90) of smooth random images, the size of a typical photo."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    out = []
    for _ in range(count):
        small = rng.randint(0, 256, (height // 25, width // 25, 3)).astype("uint8")
        img = Image.fromarray(small).resize((width, height), Image.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def _row(mode, batch, latencies, images, seconds, **extra):
    ms = np.asarray(latencies) * 1000.0
    return dict({"mode": mode, "batch": batch, "images": images, "img_per_s": images / seconds,
                 "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}, **extra)


def _in_process(prefix, jpegs, batch, warmup, repeat):
    """predict.py's path on ``batch`` images at a time: decode, then ``ExportedClassifier.logits``."""
    from gluon_resnest.deploy.classifier import ExportedClassifier

    clf = ExportedClassifier(prefix)
    groups = [[jpegs[(i * batch + j) % len(jpegs)] for j in range(batch)] for i in range(warmup + repeat)]
    latencies = []
    for i, group in enumerate(groups):
        tic = time.perf_counter()
        clf.logits([mx.image.imdecode(data) for data in group])
        if i >= warmup:
            latencies.append(time.perf_counter() - tic)
    return _row("in-process", batch, latencies, batch * repeat, sum(latencies),
                runtime=getattr(clf, "runtime", "mxnet"))


def _served(url, model, jpegs, clients, requests, warmup):
    """``requests`` classifications of ``model`` from ``clients`` concurrent clients (after ``warmup`` untimed)."""
    from gluon_resnest.deploy.serving.client import classify

    def one(i):
        tic = time.perf_counter()
        status, answer, headers = classify(url, model, jpegs[i % len(jpegs)], timeout=300)
        if status != 200:
            raise RuntimeError("request %d to %s answered %s: %s" % (i, model, status, answer))
        return time.perf_counter() - tic, int(headers.get("X-Batch-Size", 1))

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(warmup)))
        tic = time.perf_counter()
        results = list(pool.map(one, range(requests)))
        seconds = time.perf_counter() - tic
    sizes = [size for _, size in results]
    return _row("served", clients, [lat for lat, _ in results], requests, seconds, clients=clients,
                mean_batch=float(np.mean(sizes)))


def serving_rows(model="resnest50", size=224, batch=8, clients=8, requests=48, single_requests=30, warmup=4,
                 max_batch_delay=50, workdir=None):
    """Rows of :func:`_in_process` (batch 1 and ``batch``) and :func:`_served` (batching off: one client,
    ``single_requests``; on: ``clients`` clients, ``requests``) for ``model`` at ``size`` px; MMS runs from
    ``workdir`` (a temporary folder by default) and is stopped before returning."""
    from gluon_resnest.deploy.deployment import export_deployment
    from gluon_resnest.deploy.serving import mms
    from gluon_resnest.deploy.serving.archive import package_export

    with tempfile.TemporaryDirectory(dir=workdir) as work:
        store = os.path.join(work, "store")
        os.mkdir(store)
        prefixes = {}
        for name, export_batch in (("single", 1), ("batched", batch)):
            prefixes[name] = os.path.join(work, "exports", "%s-b%d" % (model, export_batch))
            export_deployment(model, None, prefixes[name], size, export_batch)
            package_export(prefixes[name], os.path.join(store, name + ".mar"), name)
        jpegs = random_jpegs(16)
        rows = [_in_process(prefixes["single"], jpegs, 1, warmup, single_requests),
                _in_process(prefixes["batched"], jpegs, batch, 1, max(1, requests // batch))]
        port, management = mms.free_ports(2)
        run_dir = os.path.join(work, "run")
        single = mms.ServerSettings(port, management, batch_size=1, max_batch_delay=0)
        batched = mms.ServerSettings(port, management, batch_size=batch, max_batch_delay=max_batch_delay)
        try:
            mms.serve(run_dir, store, ["single"], single)
            mms.register(batched, "batched.mar", "batched")
            rows.append(dict(_served(single.inference_url, "single", jpegs, 1, single_requests, warmup),
                             batching="off", threads=single.threads))
            rows.append(dict(_served(batched.inference_url, "batched", jpegs, clients, requests, clients),
                             batching="on (batch_size %d, max_batch_delay %d ms)" % (batch, max_batch_delay),
                             threads=batched.threads))
        finally:
            mms.stop(run_dir)
    for row in rows:
        row.update(model=model, size=size)
    return rows


def serving_table(rows):
    """The rows as a text table, then the two ratios: served p50 / in-process batch-1 p50 and served img/s with
    batching / in-process batch-``batch`` img/s."""
    lines = ["%-11s %-62s %6s %8s %9s %9s" % ("path", "batching / batch", "images", "img/s", "p50 ms", "p99 ms")]
    for row in rows:
        how = row.get("batching") or "batch %d" % row["batch"]
        if row["mode"] == "served":
            how = "%s, %d client(s), mean batch %.1f" % (how, row["clients"], row["mean_batch"])
        lines.append("%-11s %-62s %6d %8.2f %9.1f %9.1f" % (row["mode"], how, row["images"], row["img_per_s"],
                                                           row["p50_ms"], row["p99_ms"]))
    local1, local_b, served1, served_b = rows
    lines.append("served p50 / in-process batch-1 p50: %.2f; served img/s with batching / in-process batch-%d "
                 "img/s: %.2f" % (served1["p50_ms"] / local1["p50_ms"], local_b["batch"],
                                  served_b["img_per_s"] / local_b["img_per_s"]))
    return "\n".join(lines)
