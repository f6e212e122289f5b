"""The training loop: ResNeSt on RecordIO data (or the embedded toy set) with the paper's recipe, Horovod-ready.

Every rank runs :func:`train` with the same :class:`TrainConfig`. Rank 0 alone writes logs, metrics, checkpoints
and the final symbol/params export; metrics are summed over ranks (so they are weighted by sample count).
"""
import dataclasses
import logging
import os
import tempfile
import time

import mxnet as mx
import numpy as np
from mxnet import autograd

from .autoaugment import AutoAugment
from .checkpoint import latest_checkpoint, save_checkpoint
from .data import make_loader, open_image_dataset
from .distributed import Distributed
from .evaluation import count_correct, evaluate
from .export import export_model
from .fileio import atomic_write
from .model_zoo import get_model
from .nn import set_drop_prob
from .params_check import copy_parameters
from .recipe import apply_no_wd, cosine_schedule, dropblock_rate, mixup, smooth_one_hot
from .toy_data import CLASSES as TOY_CLASSES
from .toy_data import ensure_toy_dataset
from .training_log import plot_curves, write_metrics
from .transforms import EvalTransform, TrainTransform
from .variants import variant

__all__ = ["TrainConfig", "train"]

logger = logging.getLogger("gluon_resnest.train")


@dataclasses.dataclass
class TrainConfig:
    """All training options; ``lr`` is per worker and scaled by the number of workers."""
    model: str = "resnest50"
    save_dir: str = "runs/train"
    rec_train: str = ""
    rec_val: str = ""
    toy: bool = False
    toy_dir: str = ""
    classes: int = 1000
    input_size: int = 0
    crop_pct: float = 0.875
    min_random_area: float = 0.08
    batch_size: int = 128
    epochs: int = 90
    lr: float = 0.05
    warmup_lr: float = 0.0
    warmup_epochs: int = 0
    optimizer: str = "nag"
    momentum: float = 0.9
    wd: float = 1e-4
    no_wd: bool = False
    last_gamma: bool = False
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    mixup_off_epoch: int = 0
    auto_augment: bool = False
    jitter: float = 0.4
    lighting: float = 0.1
    dropblock_prob: float = -1.0
    final_drop: float = -1.0
    dtype: str = "float32"
    eval_every: int = 1
    save_every: int = 1
    log_interval: int = 20
    workers: int = 2
    seed: int = 0
    resume: bool = False
    stop_after_epochs: int = 0
    gpu: bool = False
    export: bool = True

    def validate(self):
        checks = [
            (self.epochs >= 1, "epochs must be >= 1"),
            (self.batch_size >= 1, "batch size must be >= 1"),
            (self.lr > 0, "learning rate must be positive"),
            (self.toy or bool(self.rec_train), "give --rec-train (and --rec-val) or use --toy"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (self.mixup_alpha >= 0, "mixup alpha must be >= 0"),
            (self.dropblock_prob < 1, "dropblock prob must be below 1 (negative: the model's recipe rate)"),
            (self.dtype in ("float32", "float16"), "dtype must be float32 or float16"),
            (self.optimizer in ("nag", "sgd"), "optimizer must be nag or sgd"),
            (0 < self.min_random_area <= 1, "min random area must be in (0, 1]"),
            (self.stop_after_epochs >= 0, "stop-after-epochs must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)


def _datasets(cfg, dist):
    if cfg.toy:
        toy_dir = cfg.toy_dir or os.path.join(cfg.save_dir, "toy_data")
        if dist.local_rank == 0:
            ensure_toy_dataset(toy_dir)
        dist.barrier("toy_data")
        train_path, val_path = ensure_toy_dataset(toy_dir)
        return open_image_dataset(train_path), open_image_dataset(val_path)
    return open_image_dataset(cfg.rec_train), open_image_dataset(cfg.rec_val) if cfg.rec_val else None


def _build_net(cfg, ctx):
    overrides = {"last_gamma": cfg.last_gamma}
    if cfg.final_drop >= 0:
        overrides["final_drop"] = cfg.final_drop
    net = get_model(cfg.model, classes=cfg.classes, **overrides)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=ctx)
    if cfg.dtype == "float16":
        if ctx.device_type != "gpu":
            raise ValueError("float16 training needs a GPU: MXNet 1.9 has no float16 GEMM on CPU (use --gpu, or "
                             "--dtype float32)")
        net.cast("float16")
    return net


class _EvalTwin:
    """A separate inference copy of the training network, refreshed from it before each evaluation.

    Running inference on the training network itself lets oneDNN cache weight layouts that shift the numerics of
    later training steps slightly, so an interrupted-and-resumed run would no longer match an uninterrupted one.
    """

    def __init__(self, cfg, ctx):
        self.cfg, self.ctx, self.net = cfg, ctx, None

    def __call__(self, source):
        if self.net is None:
            self.net = _build_net(self.cfg, self.ctx)
            self.net.hybridize(static_alloc=True)
        return copy_parameters(source, self.net, self.ctx)


def _restore(cfg, dist, net, trainer, ctx):
    """Load the newest checkpoint (rank 0 reads, everyone receives); return the loop state or None."""
    found = latest_checkpoint(cfg.save_dir) if dist.is_root else None
    payload = None
    if found is not None:
        stem, state = found
        with open(stem + ".states", "rb") as handle:
            payload = (stem, state, handle.read())
    payload = dist.broadcast_object(payload, "resume")
    if payload is None:
        return None
    stem, state, states_bytes = payload
    if dist.is_root:
        net.load_parameters(stem + ".params", ctx=ctx, cast_dtype=True)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "trainer.states")
        with open(path, "wb") as handle:
            handle.write(states_bytes)
        trainer.load_states(path)
    return state


def train(cfg, dist=None):
    """Run training as configured; returns the final loop state (history, best accuracy, export paths)."""
    cfg.validate()
    dist = dist or Distributed()
    ctx = dist.context(cfg.gpu)
    if cfg.toy:
        cfg.classes, cfg.input_size = len(TOY_CLASSES), cfg.input_size or 64
    size = cfg.input_size or 224
    if cfg.dropblock_prob < 0:
        cfg.dropblock_prob = variant(cfg.model).dropblock_prob
    train_set, val_set = _datasets(cfg, dist)
    train_tf = TrainTransform(size, scale=(cfg.min_random_area, 1.0), jitter=cfg.jitter, lighting=cfg.lighting,
                              auto_augment=AutoAugment() if cfg.auto_augment else None)
    train_loader = make_loader(train_set, train_tf, cfg.batch_size, dist.size, dist.rank, train=True, seed=cfg.seed,
                               num_workers=cfg.workers)
    val_loader = make_loader(val_set, EvalTransform(size, cfg.crop_pct), cfg.batch_size, dist.size, dist.rank,
                             num_workers=cfg.workers) if val_set is not None else None
    steps = len(train_loader)
    if steps == 0:
        raise ValueError("each of the %d workers gets %d training images, fewer than one batch of %d"
                         % (dist.size, len(train_loader.sampler), cfg.batch_size))

    mx.random.seed(cfg.seed)
    net = _build_net(cfg, ctx)
    if cfg.no_wd:
        apply_no_wd(net)
    # No static_alloc: in MXNet 1.9 a static_alloc graph that alternates between inference (validation) and
    # training gives run-to-run different updates afterwards, which would break exact resume.
    net.hybridize()
    schedule = cosine_schedule(cfg.lr * dist.size, steps, cfg.epochs, cfg.warmup_epochs, cfg.warmup_lr)
    optimizer = mx.optimizer.create(cfg.optimizer, learning_rate=cfg.lr * dist.size, momentum=cfg.momentum,
                                    wd=cfg.wd, lr_scheduler=schedule, multi_precision=cfg.dtype == "float16")
    trainer = dist.trainer(net.collect_params(), optimizer)
    os.makedirs(cfg.save_dir, exist_ok=True)
    state = _restore(cfg, dist, net, trainer, ctx) if cfg.resume else None
    dist.broadcast_parameters(net.collect_params())
    start_epoch = state["epoch"] + 1 if state else 0
    history = state["history"] if state else []
    best = state["best_top1"] if state else -1.0
    if state and dist.is_root:
        logger.info("resumed from epoch %d of %d", start_epoch, cfg.epochs)

    eval_twin = _EvalTwin(cfg, ctx)
    loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)
    eta = cfg.label_smoothing
    end_epoch = cfg.epochs
    if cfg.stop_after_epochs:
        end_epoch = min(cfg.epochs, start_epoch + cfg.stop_after_epochs)
    for epoch in range(start_epoch, end_epoch):
        mx.random.seed(cfg.seed * 100003 + epoch * 1009 + dist.rank)
        if cfg.dropblock_prob > 0:
            set_drop_prob(net, dropblock_rate(epoch, cfg.epochs, cfg.dropblock_prob))
        train_loader.sampler.set_epoch(epoch)
        use_mixup = cfg.mixup_alpha > 0 and epoch < cfg.epochs - cfg.mixup_off_epoch
        sums = np.zeros(3)
        tic = time.time()
        for step, (data, label) in enumerate(train_loader):
            data = data.as_in_context(ctx).astype(cfg.dtype, copy=False)
            labels = label.asnumpy()
            targets = smooth_one_hot(labels, cfg.classes, eta)
            if use_mixup:
                lam = float(np.random.default_rng([cfg.seed, epoch, step, dist.rank]).beta(cfg.mixup_alpha,
                                                                                         cfg.mixup_alpha))
                data, targets = mixup(data, mx.nd.array(targets, ctx=ctx), lam)
            else:
                targets = mx.nd.array(targets, ctx=ctx)
            with autograd.record():
                output = net(data)
                loss = loss_fn(output, targets.astype(cfg.dtype, copy=False))
            loss.backward()
            trainer.step(data.shape[0])
            logits = output.astype("float32").asnumpy()
            sums += (float(loss.astype("float32").sum().asscalar()), count_correct(logits, labels, (1,))[0],
                     data.shape[0])
            if dist.is_root and cfg.log_interval and (step + 1) % cfg.log_interval == 0:
                speed = sums[2] * dist.size / (time.time() - tic)
                logger.info("epoch %d [%d/%d] loss %.4f lr %.5f %.1f img/s", epoch + 1, step + 1, steps,
                            sums[0] / sums[2], trainer.learning_rate, speed)
        total = dist.allreduce_sum(sums, "train_%d" % epoch)
        record = {"epoch": epoch, "train_loss": total[0] / total[2], "train_top1": 100.0 * total[1] / total[2],
                  "images": int(total[2]), "lr": trainer.learning_rate, "seconds": time.time() - tic,
                  "img_per_s": total[2] / (time.time() - tic), "val_top1": None, "val_top5": None}
        last = epoch == cfg.epochs - 1
        if val_loader is not None and (last or (cfg.eval_every and (epoch + 1) % cfg.eval_every == 0)):
            val = evaluate(eval_twin(net), val_loader, ctx, dtype=cfg.dtype)
            top1, top5, count = dist.allreduce_sum([val["top1_correct"], val["top5_correct"], val["count"]],
                                                   "val_%d" % epoch)
            record["val_top1"], record["val_top5"] = 100.0 * top1 / count, 100.0 * top5 / count
            if record["val_top1"] > best:
                best = record["val_top1"]
                if dist.is_root:
                    atomic_write(os.path.join(cfg.save_dir, "best.params"), net.save_parameters)
        history.append(record)
        state = {"history": history, "best_top1": best, "num_update": trainer.optimizer.num_update,
                 "config": dataclasses.asdict(cfg)}
        if dist.is_root:
            logger.info("epoch %d: train loss %.4f top-1 %.2f%%%s, %.1f img/s", epoch + 1, record["train_loss"],
                        record["train_top1"], "" if record["val_top1"] is None else
                        ", val top-1 %.2f%% top-5 %.2f%%" % (record["val_top1"], record["val_top5"]),
                        record["img_per_s"])
            write_metrics(os.path.join(cfg.save_dir, "metrics.jsonl"), history)
            plot_curves(os.path.join(cfg.save_dir, "training_curve.png"), history, cfg.model)
            if last or epoch == end_epoch - 1 or (cfg.save_every and (epoch + 1) % cfg.save_every == 0):
                save_checkpoint(cfg.save_dir, epoch, net, trainer, state)
    state = state or {"history": history, "best_top1": best}
    if cfg.export and dist.is_root and end_epoch == cfg.epochs:
        best_path = os.path.join(cfg.save_dir, "best.params")
        if os.path.isfile(best_path):
            net.load_parameters(best_path, ctx=ctx, cast_dtype=True)
        if cfg.dtype != "float32":
            net.cast("float32")
        sym, params, _ = export_model(net, os.path.join(cfg.save_dir, cfg.model), size, ctx=ctx,
                                      class_names=list(TOY_CLASSES) if cfg.toy else None)
        state["export"] = [sym, params]
        logger.info("exported %s and %s (input 1x3x%dx%d)", sym, params, size, size)
    dist.barrier("done")
    return state
