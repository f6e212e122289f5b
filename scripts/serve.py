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
(config.properties, logs/, MMS's pid file) go in --run-dir. start and stop act only on the MMS of --run-dir
(checked by command line and start time) and end the worker processes a crashed server of that folder left.
Answers are JSON {class name: probability}, top-k first (k: the header X-Topk, a multipart field topk, or topk
in the query of /invocations?model_name=NAME); bad input gets a 4xx JSON {"code", "error"}. docs/serving.md
has the details.
"""
import argparse
import dataclasses
import os
import sys

import gluon_resnest  # noqa: F401  (sizes MXNet's CPU threads before MXNet loads)
from gluon_resnest.deploy.runtime_rule import RuntimeRequest
from gluon_resnest.deploy.serving import archive, mms
from gluon_resnest.deploy.serving.config import ServingConfig
from gluon_resnest.deploy.serving.images import ImageLimits
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.options import add_arguments, option, options_from_args, settings_from_args


@dataclasses.dataclass(frozen=True)
class ModelStore:
    """What ``start`` serves: the archives ``models`` (names without ``.mar``; none: every archive) of the folder
    ``model_store``."""
    model_store: str = option("", "folder of .mar archives", required=True)
    models: tuple = option((), "archives to serve (default: every .mar)", type=str, metavar="NAME")


#: The option declarations of each subcommand.
PACKAGE_OPTIONS = (archive.ArchiveOptions, ServingConfig, RuntimeRequest, ImageLimits)
START_OPTIONS = (ModelStore, mms.ServerSettings, mms.RunFolder)
STOP_OPTIONS = (mms.RunFolder,)


def package(args):
    options = settings_from_args(archive.ArchiveOptions, args)
    config = ServingConfig(os.path.basename(args.model), limits=settings_from_args(ImageLimits, args),
                           **options_from_args(args, (ServingConfig, RuntimeRequest)))
    path = archive.package_export(args.model, options.out, options.name, config, options.force)
    print("wrote %s (model %s)" % (path, options.name or archive.default_name(args.model)))
    return 0


def start(args):
    settings = settings_from_args(mms.ServerSettings, args)
    store = args.model_store
    if not os.path.isdir(store):
        raise FileNotFoundError("--model-store %s is not a folder" % store)
    names = args.models or sorted(name[:-len(".mar")] for name in os.listdir(store) if name.endswith(".mar"))
    pid = mms.serve(args.run_dir, store, names, settings)
    print("MMS (pid %d) serves %s on %s (management %s); %d worker(s) per model, %d thread(s) each, batch size %d, "
          "max batch delay %d ms, response timeout %d s; logs in %s"
          % (pid, ", ".join(names), settings.inference_url, settings.management_url, settings.workers,
             settings.worker_threads, settings.batch_size, settings.max_batch_delay, settings.response_timeout,
             os.path.join(args.run_dir, "logs")))
    print("try: curl -T IMAGE %s/predictions/%s" % (settings.inference_url, names[0]))
    return 0


def stop(args):
    report = mms.stop(args.run_dir)
    if report.foreign:
        print("left running: %s; removed the stale pid file" % report.foreign)
    if report.orphans:
        print("killed %d worker process(es) of %s whose server had ended (pids %s)"
              % (len(report.orphans), args.run_dir, ", ".join(map(str, report.orphans))))
    print("MMS (pid %d) stopped" % report.server if report.server else
          "no MMS started from %s is running" % args.run_dir)
    return 0


def parser():
    """The command line: each subcommand's options generated from their declarations."""
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pk = sub.add_parser("package", help="write an export's MMS model archive (.mar)")
    pk.add_argument("model", help="export prefix, PREFIX-int8, PREFIX.onnx or PREFIX-int8.onnx")
    add_arguments(pk, PACKAGE_OPTIONS, defaults_in_help=True)
    st = sub.add_parser("start", help="start MMS on 127.0.0.1 serving a model store's archives")
    add_arguments(st, START_OPTIONS, defaults_in_help=True)
    add_arguments(sub.add_parser("stop", help="stop the MMS started from --run-dir"), STOP_OPTIONS,
                  defaults_in_help=True)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return {"package": package, "start": start, "stop": stop}[args.command](args)


if __name__ == "__main__":
    sys.exit(run_main(main))
