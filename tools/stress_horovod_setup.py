#!/usr/bin/env python
"""Repeat the start-up of a Horovod training run many times in one process per rank, to catch rare crashes there.

    horovodrun --gloo -np 2 -H localhost:2 .venv/bin/python tools/stress_horovod_setup.py --iterations 300
    horovodrun --gloo -np 2 -H localhost:2 .venv/bin/python tools/stress_horovod_setup.py --iterations 300 \
        --broadcast horovod                       (Horovod's own broadcast_parameters, for comparison)

Each set-up builds the toy resnest14 run (its two loaders with one worker process each, the network, the trainer),
copies rank 0's parameters to the other ranks, and trains two steps. Rank 0 prints progress every 10 set-ups and
"done" at the end; a crash ends the job with the signal's exit code (Python's fault handler prints every thread).
"""
import argparse
import faulthandler
import os
import time

import gluon_resnest  # noqa: F401  (sets OMP_NUM_THREADS before MXNet loads)
import mxnet as mx
from mxnet import autograd

from gluon_resnest.train.config import TrainConfig
from gluon_resnest.train.distributed import Distributed
from gluon_resnest.train.loop import TrainingRun


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--broadcast", choices=("ours", "horovod"), default="ours",
                   help="ours: Distributed.broadcast_parameters (allreduce); horovod: hvd.broadcast_parameters")
    p.add_argument("--work-dir", default="runs/stress-setup", help="toy set and per-rank save folders")
    args = p.parse_args(argv)
    faulthandler.enable(all_threads=True)
    dist = Distributed()
    start = time.time()
    for i in range(args.iterations):
        cfg = TrainConfig.from_flat(toy=True, toy_dir=os.path.join(args.work_dir, "toy"), model="resnest14",
                                    epochs=3, batch_size=32, lr=0.02, input_size=48, workers=1, log_interval=0,
                                    save_dir=os.path.join(args.work_dir, "rank%d" % dist.rank))
        run = TrainingRun(cfg, dist)
        if args.broadcast == "horovod" and dist.hvd:
            dist.hvd.broadcast_parameters(run.net.collect_params(), root_rank=0)
        else:
            dist.broadcast_parameters(run.net.collect_params())
        for step, (data, _) in enumerate(run.train_loader):
            with autograd.record():
                out = run.net(data.as_in_context(mx.cpu()))
                loss = out.sum()
            loss.backward()
            run.trainer.step(data.shape[0])
            out.asnumpy()
            if step == 1:
                break
        del run
        if dist.is_root and i % 10 == 0:
            print("set-up %d, %.1f s" % (i, time.time() - start), flush=True)
    dist.barrier("done")
    mx.nd.waitall()
    print("done: rank %d, %d set-ups" % (dist.rank, args.iterations), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
