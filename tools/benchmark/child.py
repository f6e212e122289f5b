"""Measurements that need a fresh interpreter, run by :func:`tools.benchmark.measure.measure_in_child`:

    python -m tools.benchmark.child gluoncv-default|ours-int8 MODEL --batches 1 8 [--train-batch 8] ...
    python -m tools.benchmark.child ours-bf16 MODEL --batches 1 --train-batch 8 ...
    python -m tools.benchmark.child torch MODEL --torch-config compile-cl-bf16 --batches 1 8 [--train-batch 8] ...
    python -m tools.benchmark.child onnxruntime|openvino-f32|openvino-bf16|ours-int8-openvino MODEL \
        --model-file M.onnx --batches 1 8
    python -m tools.benchmark.child openvino-int8 MODEL --model-file M-nncf.xml --batches 1 8
    python -m tools.benchmark.child predict-default MODEL --model-file PREFIX --batches 1 8

``torch``: the PyTorch reference (timm, else the official package) in one configuration of
:data:`~tools.benchmark.torch_peers.TORCH_CONFIGS` (:func:`~tools.benchmark.torch_peers.config_rows`);
``gluoncv-default``: GluonCV as a user gets it (the parent removes our thread setting from the environment);
``ours-int8``: our oneDNN INT8 model for each batch size (the parent asks for one at a time); ``ours-bf16``: our
bfloat16 training step (``--dtype bfloat16``: MXNet's AMP, set up for the whole process); the runtimes run
``--model-file`` (an ONNX file, or for ``openvino-int8`` an OpenVINO IR) with all available CPUs, OpenVINO with its
batch dimension fixed per batch size; ``predict-default`` runs the export at ``--model-file`` (a prefix) as
``scripts/predict.py`` does by default. Prints one line ``ROWS <json list of rows>``.
"""
import argparse
import json

from gluon_resnest.utils.options import add_arguments

from .measure import (OPENVINO_PRECISIONS, RUNTIME_KINDS, gluoncv_twin, hybrid, inference_row, int8_net,
                      median_seconds, random_net, result_row, training_row)
from .settings import InputSize, Timing
from .torch_peers import TORCH_CONFIGS, config_rows

__all__ = ["gluoncv_default_rows", "int8_rows", "bf16_training_rows", "runtime_rows", "main"]


def gluoncv_default_rows(name, batches, size, warmup, repeat, train_batch):
    net = hybrid(gluoncv_twin(name, random_net(name)))
    rows = [inference_row("gluoncv-default-threads", net, batch, size, warmup, repeat) for batch in batches]
    if train_batch:
        rows.append(training_row("gluoncv-default-threads", hybrid(gluoncv_twin(name, random_net(name))),
                                 train_batch, size, warmup, repeat))
    return rows


def int8_rows(name, batches, size, warmup, repeat):
    rows = []
    for batch in batches:
        rows.append(inference_row("ours-int8", int8_net(name, random_net(name), batch, size), batch, size, warmup,
                                  repeat))
    return rows


def bf16_training_rows(name, size, warmup, repeat, train_batch):
    """The training step of ``scripts/train.py --dtype bfloat16``, after MXNet's AMP is set up for this process."""
    import mxnet as mx

    from gluon_resnest.train.precision import prepare

    prepare("bfloat16", mx.cpu())
    return [training_row("ours-bf16", hybrid(random_net(name)), train_batch, size, warmup, repeat)]


def runtime_rows(kind, name, model_file, batches, size, warmup, repeat):
    """Rows of ``model_file`` in onnxruntime or OpenVINO (at :data:`OPENVINO_PRECISIONS`), or for
    ``predict-default`` of the export prefix ``model_file`` in the runtime ``ExportedClassifier`` chooses (named in
    the row's ``runtime``); ``impl`` is ``kind``."""
    import numpy as np

    from gluon_resnest.utils.threads import available_cpus

    rows = []
    for batch in batches:
        x = np.random.RandomState(0).uniform(-1, 1, (batch, 3, size, size)).astype("float32")
        if kind == "predict-default":
            from gluon_resnest.deploy.classifier import ExportedClassifier

            clf = ExportedClassifier(model_file)
            rows.append(dict(result_row(kind, "inference", batch, size,
                                        median_seconds(lambda: clf.run(x), warmup, repeat), _precision(clf)),
                             runtime=clf.description))
            continue
        if kind == "onnxruntime":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = available_cpus()
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(model_file, options, providers=["CPUExecutionProvider"])
            feed = {session.get_inputs()[0].name: x}
            run = lambda: session.run(None, feed)  # noqa: E731
        else:
            from gluon_resnest.deploy.openvino_runtime import compile_onnx

            compiled = compile_onnx(model_file, OPENVINO_PRECISIONS.get(kind), batch, available_cpus())
            request = compiled.create_infer_request()
            run = lambda: request.infer([x])  # noqa: E731
        rows.append(result_row(kind, "inference", batch, size, median_seconds(run, warmup, repeat)))
    return rows


def _precision(clf):
    """The precision an :class:`~gluon_resnest.deploy.classifier.ExportedClassifier` runs at: its member's, else
    the runtime's (OpenVINO's ``f32`` or ``bf16``), as a benchmark row names it."""
    from gluon_resnest.deploy.export_files import MEMBER_KINDS

    member = MEMBER_KINDS[clf.choice.member].precision
    precision = member if member != "f32" else clf.precision
    return "fp32" if precision == "f32" else precision


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["torch", "gluoncv-default", "ours-int8", "ours-bf16"] + list(RUNTIME_KINDS))
    p.add_argument("model")
    p.add_argument("--batches", nargs="+", type=int, required=True, help="inference batch sizes")
    p.add_argument("--train-batch", type=int, default=0, help="batch size of a training step (0: none)")
    p.add_argument("--model-file", help="the ONNX file (or OpenVINO IR .xml) the runtimes run")
    p.add_argument("--torch-config", choices=list(TORCH_CONFIGS), default="eager", help="the PyTorch configuration")
    add_arguments(p, [InputSize, Timing])
    args = p.parse_args(argv)
    if args.kind in RUNTIME_KINDS:
        rows = runtime_rows(args.kind, args.model, args.model_file, args.batches, args.size, args.warmup,
                            args.repeat)
    elif args.kind == "ours-int8":
        rows = int8_rows(args.model, args.batches, args.size, args.warmup, args.repeat)
    elif args.kind == "ours-bf16":
        rows = bf16_training_rows(args.model, args.size, args.warmup, args.repeat, args.train_batch)
    elif args.kind == "torch":
        rows = config_rows(args.model, TORCH_CONFIGS[args.torch_config], args.batches, args.size, args.warmup,
                           args.repeat, args.train_batch)
    else:
        rows = gluoncv_default_rows(args.model, args.batches, args.size, args.warmup, args.repeat, args.train_batch)
    print("ROWS " + json.dumps(rows))


if __name__ == "__main__":
    main()
