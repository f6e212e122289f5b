#!/usr/bin/env python
"""Serve exports over HTTP with Multi Model Server (MMS): package an export as a model archive, start MMS on
loopback with the archives of a model store, stop it. Needs bash scripts/setup_env.sh --with-serving (MMS,
model-archiver) and Java.

    python scripts/serve.py package runs/toy/resnest14                    (writes runs/toy/resnest14.mar)
    python scripts/serve.py package deploy/r50-int8.onnx --out store/r50.mar --topk 3
    python scripts/serve.py start --model-store runs/toy --port 8080 --batch-size 8 --max-batch-delay 20
    curl -T cat.jpg http://127.0.0.1:8080/predictions/resnest14            (top 5; -H "X-Topk: 3" for 3)
    python scripts/serve.py stop

package takes what scripts/predict.py takes (PREFIX, PREFIX-int8, PREFIX.onnx, PREFIX-int8.onnx) and the same
--runtime/--precision; it loads the export once before writing the archive. start registers every .mar of the
model store (or --models NAME ...) with the given workers and batching and returns when they answer; its files
(config.properties, logs/, MMS's pid file) go in --run-dir. Answers are JSON {class name: probability}, top-k
first (k: the header X-Topk, a multipart field topk, or topk in the query of /invocations?model_name=NAME);
bad input gets a 4xx JSON {"code", "error"}.
"""
import argparse
import os
import sys

import gluon_resnest  # noqa: F401  (sizes MXNet's CPU threads before MXNet loads)
from gluon_resnest.deploy.runtime_rule import RUNTIMES
from gluon_resnest.deploy.openvino_runtime import PRECISIONS
from gluon_resnest.deploy.serving import archive, mms
from gluon_resnest.deploy.serving.config import DEFAULT_TOPK, ServingConfig
from gluon_resnest.deploy.serving.images import ImageLimits
from gluon_resnest.utils.cli import run_main

DEFAULT_RUN_DIR = os.path.join("runs", "serve")


def _settings(args):
    return mms.ServerSettings(args.port, args.management_port, args.workers, args.batch_size, args.max_batch_delay,
                              args.threads, args.job_queue_size, args.response_timeout)


def package(args):
    limits = ImageLimits(args.max_bytes, args.max_pixels, args.min_side)
    config = ServingConfig(os.path.basename(args.model), args.runtime, args.precision, args.topk, limits)
    path = archive.package_export(args.model, args.out, args.name, config, args.force)
    print("wrote %s (model %s)" % (path, args.name or archive.default_name(args.model)))
    return 0


def start(args):
    settings = _settings(args)
    store = args.model_store
    if not os.path.isdir(store):
        raise FileNotFoundError("--model-store %s is not a folder" % store)
    names = args.models or sorted(name[:-len(".mar")] for name in os.listdir(store) if name.endswith(".mar"))
    pid = mms.serve(args.run_dir, store, names, settings, args.timeout)
    print("MMS (pid %d) serves %s on %s (management %s); %d worker(s) per model, %d thread(s) each, batch size %d, "
          "max batch delay %d ms; logs in %s" % (pid, ", ".join(names), settings.inference_url,
                                                settings.management_url, settings.workers, settings.threads,
                                                settings.batch_size, settings.max_batch_delay,
                                                os.path.join(args.run_dir, "logs")))
    print("try: curl -T IMAGE %s/predictions/%s" % (settings.inference_url, names[0]))
    return 0


def stop(args):
    print("MMS stopped" if mms.stop(args.run_dir) else "no MMS started from %s is running" % args.run_dir)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("package", help="write an export's MMS model archive (.mar)")
    pk.add_argument("model", help="export prefix, PREFIX-int8, PREFIX.onnx or PREFIX-int8.onnx")
    pk.add_argument("--out", help="archive path (default: NAME.mar beside the export)")
    pk.add_argument("--name", help="model name in MMS (default: the file's base name, .onnx as -onnx)")
    pk.add_argument("--runtime", choices=RUNTIMES, help="runtime for a .onnx file (as scripts/predict.py)")
    pk.add_argument("--precision", choices=PRECISIONS, help="OpenVINO precision (as scripts/predict.py)")
    pk.add_argument("--topk", type=int, default=DEFAULT_TOPK, help="classes per answer when a request names none")
    defaults = ImageLimits()
    pk.add_argument("--max-bytes", type=int, default=defaults.max_bytes, help="largest request body, bytes")
    pk.add_argument("--max-pixels", type=int, default=defaults.max_pixels, help="largest image, width x height")
    pk.add_argument("--min-side", type=int, default=defaults.min_side, help="smallest image side, px")
    pk.add_argument("--force", action="store_true", help="replace an existing archive")
    st = sub.add_parser("start", help="start MMS on 127.0.0.1 serving a model store's archives")
    st.add_argument("--model-store", required=True, help="folder of .mar archives")
    st.add_argument("--models", nargs="+", metavar="NAME", help="archives to serve (default: every .mar)")
    st.add_argument("--port", type=int, default=8080, help="inference API port")
    st.add_argument("--management-port", type=int, default=8081, help="management API port")
    st.add_argument("--workers", type=int, default=1, help="worker processes per model")
    st.add_argument("--threads", type=int, help="OpenMP threads per worker (default: CPUs / workers)")
    st.add_argument("--batch-size", type=int, default=1, help="requests MMS batches into one forward pass")
    st.add_argument("--max-batch-delay", type=int, default=50, help="ms MMS waits to fill a batch")
    st.add_argument("--job-queue-size", type=int, default=100, help="requests queued per model before 503")
    st.add_argument("--response-timeout", type=int, default=120, help="s before a stuck worker is restarted")
    st.add_argument("--timeout", type=int, default=300, help="s to wait for MMS and the models to come up")
    for sp in (st, sub.add_parser("stop", help="stop the MMS started from --run-dir")):
        sp.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help="folder of the server's config, logs, pid file")
    args = p.parse_args(argv)
    return {"package": package, "start": start, "stop": stop}[args.command](args)


if __name__ == "__main__":
    sys.exit(run_main(main))
