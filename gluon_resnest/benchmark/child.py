"""Measurements that need a fresh interpreter, run by :func:`gluon_resnest.benchmark.measure.measure_in_child`:

    python -m gluon_resnest.benchmark.child torch|gluoncv-default MODEL --batches 1 8 [--train-batch 8] ...

``torch``: the PyTorch reference (timm, else the official package) with all available CPUs; ``gluoncv-default``:
GluonCV as a user gets it (the parent removes our thread setting from the environment). Prints one line
``ROWS <json list of rows>``.
"""
import argparse
import json
import os

from .measure import gluoncv_twin, hybrid, inference_row, median_seconds, random_net, result_row, training_row


def torch_rows(name, batches, size, warmup, repeat):
    import torch

    from ..interop.torch_reference import available_references, reference_model

    torch.set_num_threads(len(os.sched_getaffinity(0)))
    source = "timm" if "timm" in available_references(name) else "official"
    model = reference_model(name, source)
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, size, size)
        with torch.inference_mode():
            seconds = median_seconds(lambda: model(x), warmup, repeat)
        rows.append(result_row("pytorch-" + source, "inference", batch, size, seconds))
    return rows


def gluoncv_default_rows(name, batches, size, warmup, repeat, train_batch):
    net = hybrid(gluoncv_twin(name, random_net(name)))
    rows = [inference_row("gluoncv-default-threads", net, batch, size, warmup, repeat) for batch in batches]
    if train_batch:
        rows.append(training_row("gluoncv-default-threads", hybrid(gluoncv_twin(name, random_net(name))),
                                 train_batch, size, warmup, repeat))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["torch", "gluoncv-default"])
    p.add_argument("model")
    p.add_argument("--batches", nargs="+", type=int, required=True)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--train-batch", type=int, default=0)
    args = p.parse_args(argv)
    if args.kind == "torch":
        rows = torch_rows(args.model, args.batches, args.size, args.warmup, args.repeat)
    else:
        rows = gluoncv_default_rows(args.model, args.batches, args.size, args.warmup, args.repeat, args.train_batch)
    print("ROWS " + json.dumps(rows))


if __name__ == "__main__":
    main()
