"""fp32 against MXNet's AMP bf16 on this CPU, in img/s: a training step and inference, hybridized.

    python tools/bf16_speed.py --model resnest50 --size 224 --rounds 3

Each round runs, in fresh processes (``amp.init`` changes MXNet for the whole process): an fp32 training step; an
AMP bf16 training step (``amp.init(target_dtype="bfloat16")`` before the network is built, ``amp.init_trainer``,
``amp.scale_loss``); fp32 inference, AMP bf16 inference (``amp.convert_hybrid_block(..., target_dtype="bfloat16")``
on the graph as it is) and the export's bf16 member (:func:`gluon_resnest.deploy.export.to_bfloat16`: batch norms
folded in float32, then AMP, then oneDNN fusion) at each inference batch, alternating. Training: NAG (momentum
0.9), softmax cross-entropy, random weights and labels.
Printed: each measurement (img/s over the timed window, and of its fastest batch, the one least disturbed by
other jobs), the median and the fastest per path, the CPU runtime line of each process and the load averages.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

__all__ = ["main"]


def _network(model):
    import gluon_resnest
    import mxnet as mx

    net = gluon_resnest.get_model(model)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2))
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def _rate(run, batch, warmup, seconds):
    """``(mean, best)`` img/s of ``run()`` (one batch, synchronized) over at least ``seconds`` after ``warmup``
    calls: over the whole window, and of the fastest single call (the least disturbed by other jobs)."""
    for _ in range(warmup):
        run()
    times, start = [], time.perf_counter()
    while len(times) < 2 or time.perf_counter() - start < seconds:
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return batch * len(times) / (time.perf_counter() - start), batch / min(times)


def _train(model, size, batch, bf16, warmup, seconds):
    import gluon_resnest
    import mxnet as mx
    from mxnet import autograd, gluon
    from mxnet.contrib import amp

    if bf16:
        amp.init(target_dtype="bfloat16")
    net = _network(model)
    trainer = gluon.Trainer(net.collect_params(), "nag", {"learning_rate": 0.01, "momentum": 0.9, "wd": 1e-4})
    if bf16:
        amp.init_trainer(trainer)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    x = mx.nd.random.uniform(-1, 1, (batch, 3, size, size))
    y = mx.nd.array(list(range(batch)))

    def step():
        with autograd.record():
            loss = loss_fn(net(x), y)
            if bf16:
                with amp.scale_loss(loss, trainer) as scaled:
                    autograd.backward(scaled)
            else:
                loss.backward()
        trainer.step(batch)
        mx.nd.waitall()

    mean, best = _rate(step, batch, warmup, seconds)
    return [{"path": "train %s b%d" % ("bf16" if bf16 else "fp32", batch), "img_per_s": mean, "best": best,
             "runtime": str(gluon_resnest.cpu_runtime())}]


def _infer(model, size, batches, warmup, seconds):
    import gluon_resnest
    import mxnet as mx
    from mxnet.contrib import amp

    from gluon_resnest.deploy.export import to_bfloat16
    from gluon_resnest.deploy.inference_graph import prepare_for_inference

    net = prepare_for_inference(_network(model))
    inputs = {batch: mx.nd.random.uniform(-1, 1, (batch, 3, size, size)) for batch in batches}
    for x in inputs.values():
        net(x).wait_to_read()
    amp_net = amp.convert_hybrid_block(net, target_dtype="bfloat16", ctx=mx.cpu())
    rows = []
    for batch, x in inputs.items():
        nets = {"fp32": net, "bf16": amp_net, "bf16-member": to_bfloat16(net, x)}
        for precision in nets:
            mean, best = _rate(lambda: nets[precision](x).wait_to_read(), batch, warmup, seconds)
            rows.append({"path": "infer %s b%d" % (precision, batch), "img_per_s": mean, "best": best,
                         "runtime": str(gluon_resnest.cpu_runtime())})
    return rows


def _child(args):
    if args.child == "infer":
        rows = _infer(args.model, args.size, args.infer_batches, args.warmup, args.seconds)
    else:
        rows = _train(args.model, args.size, args.train_batch, args.child == "train-bf16", args.warmup, args.seconds)
    print(json.dumps(rows))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnest50")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--infer-batches", type=int, nargs="+", default=[1, 8])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2, help="untimed iterations before each measurement")
    p.add_argument("--seconds", type=float, default=10.0, help="timed seconds per measurement (at least 2 "
                   "iterations)")
    p.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of the measuring processes")
    p.add_argument("--child", choices=["train-fp32", "train-bf16", "infer"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return _child(args)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    passed = [a for a in (argv if argv is not None else sys.argv[1:])]
    print("load averages before: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    results = {}
    for round_index in range(args.rounds):
        for child in ("train-fp32", "train-bf16", "infer"):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", child] + passed, env=env,
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print("error: %s failed (exit %d): %s" % (child, out.returncode, out.stderr[-2000:]),
                      file=sys.stderr)
                return 1
            for row in json.loads(out.stdout.strip().splitlines()[-1]):
                results.setdefault(row["path"], []).append((row["img_per_s"], row["best"]))
                print("round %d  %-22s %7.2f img/s, fastest batch %7.2f   (%s; load %.2f)" % (
                    round_index + 1, row["path"], row["img_per_s"], row["best"], row["runtime"], os.getloadavg()[0]),
                    flush=True)
    print("load averages after: %.2f %.2f %.2f" % os.getloadavg())
    print("over %d rounds: median img/s, fastest batch's img/s (the least disturbed)" % args.rounds)
    for path, rates in results.items():
        print("  %-22s %7.2f  %7.2f" % (path, statistics.median(r for r, _ in rates), max(b for _, b in rates)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
