"""Serving through Multi Model Server against in-process classification, on one runtime, in one run.

A variant with random weights is exported twice (symbol/params, batch 1 and batch ``batch``) and packaged
(:func:`~gluon_resnest.deploy.serving.archive.package_export`); one MMS serves both archives, the first with
batching off (``batch_size`` 1) and the second with ``batch_size`` ``batch``. The same generated JPEGs go through:

* in process, as ``scripts/predict.py`` does it: the package's ``decode_image`` then ``ExportedClassifier.logits``, one
  image at a time (batch-1 export) and ``batch`` images at a time (batch-``batch`` export);
* served, batching off: one client, one request after the other (latency of single-image requests);
* served, batching on: ``clients`` concurrent clients, each sending its next request when answered.

Each row: images per second over the timed part and p50/p99 latency per request (per batch in process); the
four are measured in turn, round after round, after an untimed warm-up. MXNet runs the same number of OpenMP
threads in both: this process's ``OMP_NUM_THREADS`` (which ``import gluon_resnest`` sets to the CPU count unless
given) is also that of MMS's one worker per model.
"""
import concurrent.futures
import io
import os
import tempfile
import time

import numpy as np

from gluon_resnest.data.decoder import decode_image

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


class _InProcess:
    """predict.py's path on ``batch`` images at a time: ``decode_image``, then ``ExportedClassifier.logits``."""

    def __init__(self, prefix, jpegs, batch):
        from gluon_resnest.deploy.classifier import ExportedClassifier

        self.clf, self.jpegs, self.batch, self.count = ExportedClassifier(prefix), jpegs, batch, 0
        self.latencies = []

    def run(self, groups, timed=True):
        for _ in range(groups):
            group = [self.jpegs[(self.count + j) % len(self.jpegs)] for j in range(self.batch)]
            self.count += self.batch
            tic = time.perf_counter()
            self.clf.logits([decode_image(data) for data in group])
            if timed:
                self.latencies.append(time.perf_counter() - tic)

    def row(self):
        return _row("in-process", self.batch, self.latencies, self.batch * len(self.latencies),
                    sum(self.latencies), runtime=getattr(self.clf, "runtime", "mxnet"))


class _Served:
    """Classifications of ``model`` by MMS at ``url`` from ``clients`` concurrent clients, each sending its next
    request when answered."""

    def __init__(self, url, model, jpegs, clients):
        self.url, self.model, self.jpegs, self.clients = url, model, jpegs, clients
        self.latencies, self.sizes, self.seconds, self.count = [], [], 0.0, 0

    def _one(self, i):
        from gluon_resnest.deploy.serving.client import classify

        tic = time.perf_counter()
        status, answer, headers = classify(self.url, self.model, self.jpegs[i % len(self.jpegs)], timeout=300)
        if status != 200:
            raise RuntimeError("request %d to %s answered %s: %s" % (i, self.model, status, answer))
        return time.perf_counter() - tic, int(headers.get("X-Batch-Size", 1))

    def run(self, requests, timed=True):
        with concurrent.futures.ThreadPoolExecutor(self.clients) as pool:
            tic = time.perf_counter()
            results = list(pool.map(self._one, range(self.count, self.count + requests)))
            seconds = time.perf_counter() - tic
        self.count += requests
        if timed:
            self.seconds += seconds
            self.latencies += [lat for lat, _ in results]
            self.sizes += [size for _, size in results]

    def row(self, **extra):
        return _row("served", self.clients, self.latencies, len(self.latencies), self.seconds,
                    clients=self.clients, mean_batch=float(np.mean(self.sizes)), **extra)


def serving_rows(model="resnest50", size=224, batch=8, clients=8, requests=48, single_requests=30, rounds=4,
                 max_batch_delay=50, workdir=None):
    """Rows of in-process classification (batch 1 and ``batch``) and of MMS serving (batching off: one client,
    ``single_requests`` requests; on: ``clients`` clients, ``requests`` requests) for ``model`` at ``size`` px.
    The four are measured in turn in each of ``rounds`` rounds (so that a change in the machine's load reaches
    all of them), after one untimed warm-up each. MMS runs from ``workdir`` (a temporary folder by default) and is
    stopped before returning."""
    from gluon_resnest.deploy.deployment import ExportOptions, export_deployment
    from gluon_resnest.deploy.serving import mms
    from gluon_resnest.deploy.serving.archive import package_export
    from gluon_resnest.utils.threads import available_cpus

    with tempfile.TemporaryDirectory(dir=workdir) as work:
        store = os.path.join(work, "store")
        os.mkdir(store)
        prefixes = {}
        for name, export_batch in (("single", 1), ("batched", batch)):
            prefixes[name] = os.path.join(work, "exports", "%s-b%d" % (model, export_batch))
            export_deployment(model, None, prefixes[name], ExportOptions(size=size, batch_size=export_batch))
            package_export(prefixes[name], os.path.join(store, name + ".mar"), name)
        jpegs = random_jpegs(16)
        port, management = mms.free_ports(2)
        run_dir = os.path.join(work, "run")
        threads = int(os.environ.get("OMP_NUM_THREADS") or available_cpus())
        single = mms.ServerSettings(port, management, batch_size=1, max_batch_delay=0, threads=threads)
        batched = mms.ServerSettings(port, management, batch_size=batch, max_batch_delay=max_batch_delay,
                                     threads=threads)
        try:
            mms.serve(run_dir, store, ["single"], single)
            mms.register(batched, "batched.mar", "batched")
            local1, local_b = _InProcess(prefixes["single"], jpegs, 1), _InProcess(prefixes["batched"], jpegs, batch)
            served1 = _Served(single.inference_url, "single", jpegs, 1)
            served_b = _Served(batched.inference_url, "batched", jpegs, clients)
            batches = max(1, requests // batch // rounds)
            steps = [(local1, max(1, single_requests // rounds)), (served1, max(1, single_requests // rounds)),
                     (local_b, batches), (served_b, batches * batch)]
            for path, count in steps:
                path.run(count if path is not local_b else 1, timed=False)
            for _ in range(rounds):
                for path, count in steps:
                    path.run(count)
            rows = [local1.row(), local_b.row(), served1.row(batching="off", threads=single.threads),
                    served_b.row(batching="on (batch_size %d, max_batch_delay %d ms)" % (batch, max_batch_delay),
                                 threads=batched.threads)]
        finally:
            mms.stop(run_dir)
    for row in rows:
        row.update(model=model, size=size, rounds=rounds)
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
