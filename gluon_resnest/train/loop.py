"""The training loop: ResNeSt on RecordIO data (or the embedded toy set) with the paper's recipe, Horovod-ready.

Every rank runs :func:`train` with the same :class:`~gluon_resnest.train.config.TrainConfig`. Rank 0 alone writes
logs, metrics, checkpoints and the final symbol/params export; metrics are summed over ranks (so they are
weighted by sample count). :class:`TrainingRun` holds the steps: build, restore, one epoch, validate, checkpoint,
finish.
"""
import dataclasses
import logging
import os
import tempfile
import time

import mxnet as mx
import numpy as np
from mxnet import autograd

from ..data.autoaugment import AutoAugment
from ..data.datasets import open_image_dataset
from ..data.loader import make_loader
from ..data.targets import mixup, smooth_one_hot
from ..data.toy import CLASSES as TOY_CLASSES
from ..data.toy import ensure_toy_dataset
from ..data.transforms import EvalTransform, TrainTransform
from ..deploy.export import export_model
from ..models.factory import get_model
from ..nn import copy_parameters, set_drop_prob
from .checkpoint import latest_checkpoint, run_weights, save_best, save_checkpoint
from .distributed import Distributed
from .evaluation import count_correct, evaluate
from .metrics_log import plot_curves, write_metrics
from .optimizer import apply_no_wd, make_optimizer
from .schedule import cosine_schedule, dropblock_rate

__all__ = ["EpochStats", "TrainingRun", "train"]

logger = logging.getLogger("gluon_resnest.train")


@dataclasses.dataclass
class EpochStats:
    """Running sums of one epoch on one rank (or, after :meth:`summed`, over all ranks)."""
    loss_sum: float = 0.0
    correct: float = 0.0
    images: float = 0.0

    def add(self, loss_sum, correct, images):
        self.loss_sum += loss_sum
        self.correct += correct
        self.images += images

    def summed(self, dist, name):
        return EpochStats(*dist.allreduce_sum([self.loss_sum, self.correct, self.images], name))


def _datasets(cfg, dist):
    """``(train dataset, validation dataset or None)``; the toy set is written once per host."""
    if cfg.data.toy:
        if dist.local_rank == 0:
            ensure_toy_dataset(cfg.data.toy_dir)
        dist.barrier("toy_data")
        train_path, val_path = ensure_toy_dataset(cfg.data.toy_dir)
        return open_image_dataset(train_path), open_image_dataset(val_path)
    val = open_image_dataset(cfg.data.rec_val) if cfg.data.rec_val else None
    return open_image_dataset(cfg.data.rec_train), val


def build_net(cfg, ctx):
    """The network of ``cfg.net``, initialized as in the recipe (Xavier gaussian, magnitude 2) on ``ctx``."""
    overrides = {"last_gamma": cfg.net.last_gamma}
    if cfg.net.final_drop >= 0:
        overrides["final_drop"] = cfg.net.final_drop
    net = get_model(cfg.net.model, classes=cfg.net.classes, **overrides)
    net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=ctx)
    if cfg.net.dtype == "float16":
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
            self.net = build_net(self.cfg, self.ctx)
            self.net.hybridize(static_alloc=True)
        return copy_parameters(source, self.net, self.ctx)


class TrainingRun:
    """One training run on this rank: built from a config, then :meth:`run` trains, validates and saves."""

    def __init__(self, cfg, dist=None):
        self.cfg = cfg.resolved()
        self.dist = dist or Distributed()
        self.ctx = self.dist.context(self.cfg.run.gpu)
        self._build_data()
        self._build_model()

    def _build_data(self):
        cfg, dist = self.cfg, self.dist
        size = cfg.data.input_size
        train_set, val_set = _datasets(cfg, dist)
        train_tf = TrainTransform(size, scale=(cfg.data.min_random_area, 1.0), jitter=cfg.data.jitter,
                                  lighting=cfg.data.lighting,
                                  auto_augment=AutoAugment() if cfg.data.auto_augment else None)
        self.train_loader = make_loader(train_set, train_tf, cfg.optim.batch_size, dist.size, dist.rank, train=True,
                                        seed=cfg.run.seed, num_workers=cfg.data.workers)
        self.val_loader = None
        if val_set is not None:
            self.val_loader = make_loader(val_set, EvalTransform(size, cfg.data.crop_pct), cfg.optim.batch_size,
                                          dist.size, dist.rank, num_workers=cfg.data.workers)
        self.steps = len(self.train_loader)
        if self.steps == 0:
            raise ValueError("each of the %d workers gets %d training images, fewer than one batch of %d"
                             % (dist.size, len(self.train_loader.sampler), cfg.optim.batch_size))

    def _build_model(self):
        cfg, dist = self.cfg, self.dist
        mx.random.seed(cfg.run.seed)
        self.net = build_net(cfg, self.ctx)
        if cfg.optim.no_wd:
            apply_no_wd(self.net)
        # No static_alloc: in MXNet 1.9 a static_alloc graph that alternates between inference (validation) and
        # training gives run-to-run different updates afterwards, which would break exact resume.
        self.net.hybridize()
        base_lr = cfg.optim.lr * dist.size
        schedule = cosine_schedule(base_lr, self.steps, cfg.optim.epochs, cfg.optim.warmup_epochs,
                                   cfg.optim.warmup_lr)
        optimizer = make_optimizer(cfg.optim.optimizer, base_lr, cfg.optim.momentum, cfg.optim.wd, schedule,
                                   multi_precision=cfg.net.dtype == "float16")
        self.trainer = dist.trainer(self.net.collect_params(), optimizer)
        self.eval_twin = _EvalTwin(cfg, self.ctx)
        self.loss_fn = mx.gluon.loss.SoftmaxCrossEntropyLoss(sparse_label=False)

    def restore(self):
        """Load the newest checkpoint (rank 0 reads, everyone receives); return its loop state or None."""
        found = latest_checkpoint(self.cfg.run.save_dir) if self.dist.is_root else None
        payload = None
        if found is not None:
            stem, state = found
            with open(stem + ".states", "rb") as handle:
                payload = (stem, state, handle.read())
        payload = self.dist.broadcast_object(payload, "resume")
        if payload is None:
            return None
        stem, state, states_bytes = payload
        if self.dist.is_root:
            self.net.load_parameters(stem + ".params", ctx=self.ctx, cast_dtype=True)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "trainer.states")
            with open(path, "wb") as handle:
                handle.write(states_bytes)
            self.trainer.load_states(path)
        return state

    def train_epoch(self, epoch):
        """One pass over this rank's shard; returns the epoch's :class:`EpochStats` summed over ranks."""
        cfg, dist = self.cfg, self.dist
        mx.random.seed(cfg.run.seed * 100003 + epoch * 1009 + dist.rank)
        if cfg.net.dropblock_prob > 0:
            set_drop_prob(self.net, dropblock_rate(epoch, cfg.optim.epochs, cfg.net.dropblock_prob))
        self.train_loader.sampler.set_epoch(epoch)
        use_mixup = cfg.optim.mixup_alpha > 0 and epoch < cfg.optim.epochs - cfg.optim.mixup_off_epoch
        stats = EpochStats()
        tic = time.time()
        for step, (data, label) in enumerate(self.train_loader):
            data = data.as_in_context(self.ctx).astype(cfg.net.dtype, copy=False)
            labels = label.asnumpy()
            targets = mx.nd.array(smooth_one_hot(labels, cfg.net.classes, cfg.optim.label_smoothing), ctx=self.ctx)
            if use_mixup:
                rng = np.random.default_rng([cfg.run.seed, epoch, step, dist.rank])
                data, targets = mixup(data, targets, float(rng.beta(cfg.optim.mixup_alpha, cfg.optim.mixup_alpha)))
            with autograd.record():
                output = self.net(data)
                loss = self.loss_fn(output, targets.astype(cfg.net.dtype, copy=False))
            loss.backward()
            self.trainer.step(data.shape[0])
            logits = output.astype("float32").asnumpy()
            stats.add(float(loss.astype("float32").sum().asscalar()), count_correct(logits, labels, (1,))[0],
                      data.shape[0])
            if dist.is_root and cfg.run.log_interval and (step + 1) % cfg.run.log_interval == 0:
                logger.info("epoch %d [%d/%d] loss %.4f lr %.5f %.1f img/s", epoch + 1, step + 1, self.steps,
                            stats.loss_sum / stats.images, self.trainer.learning_rate,
                            stats.images * dist.size / (time.time() - tic))
        return stats.summed(dist, "train_%d" % epoch)

    def validate(self, epoch):
        """``(top-1 %, top-5 %)`` over the whole validation set (all ranks' shards)."""
        val = evaluate(self.eval_twin(self.net), self.val_loader, self.ctx, dtype=self.cfg.net.dtype)
        top1, top5, count = self.dist.allreduce_sum([val["top1_correct"], val["top5_correct"], val["count"]],
                                                    "val_%d" % epoch)
        return 100.0 * top1 / count, 100.0 * top5 / count

    def _wants_validation(self, epoch):
        every = self.cfg.run.eval_every
        last = epoch == self.cfg.optim.epochs - 1
        return self.val_loader is not None and (last or (every and (epoch + 1) % every == 0))

    def _wants_checkpoint(self, epoch, end_epoch):
        every = self.cfg.run.save_every
        return epoch in (self.cfg.optim.epochs - 1, end_epoch - 1) or (every and (epoch + 1) % every == 0)

    def _log_epoch(self, record):
        logger.info("epoch %d: train loss %.4f top-1 %.2f%%%s, %.1f img/s", record["epoch"] + 1,
                    record["train_loss"], record["train_top1"], "" if record["val_top1"] is None else
                    ", val top-1 %.2f%% top-5 %.2f%%" % (record["val_top1"], record["val_top5"]),
                    record["img_per_s"])

    def run(self):
        """Train from scratch or from the newest checkpoint (``--resume``); returns the final loop state."""
        cfg, dist = self.cfg, self.dist
        save_dir = cfg.run.save_dir
        os.makedirs(save_dir, exist_ok=True)
        state = self.restore() if cfg.run.resume else None
        dist.broadcast_parameters(self.net.collect_params())
        start_epoch = state["epoch"] + 1 if state else 0
        history = state["history"] if state else []
        best = state["best_top1"] if state else -1.0
        if state and dist.is_root:
            logger.info("resumed from epoch %d of %d", start_epoch, cfg.optim.epochs)
        end_epoch = cfg.optim.epochs
        if cfg.run.stop_after_epochs:
            end_epoch = min(cfg.optim.epochs, start_epoch + cfg.run.stop_after_epochs)
        for epoch in range(start_epoch, end_epoch):
            tic = time.time()
            stats = self.train_epoch(epoch)
            seconds = time.time() - tic
            record = {"epoch": epoch, "train_loss": stats.loss_sum / stats.images,
                      "train_top1": 100.0 * stats.correct / stats.images, "images": int(stats.images),
                      "lr": self.trainer.learning_rate, "seconds": seconds, "img_per_s": stats.images / seconds,
                      "val_top1": None, "val_top5": None}
            if self._wants_validation(epoch):
                record["val_top1"], record["val_top5"] = self.validate(epoch)
                if record["val_top1"] > best:
                    best = record["val_top1"]
                    if dist.is_root:
                        save_best(save_dir, self.net)
            history.append(record)
            state = {"history": history, "best_top1": best, "num_update": self.trainer.optimizer.num_update,
                     "config": cfg.as_dict()}
            if dist.is_root:
                self._log_epoch(record)
                write_metrics(os.path.join(save_dir, "metrics.jsonl"), history)
                plot_curves(os.path.join(save_dir, "training_curve.png"), history, cfg.net.model)
                if self._wants_checkpoint(epoch, end_epoch):
                    save_checkpoint(save_dir, epoch, self.net, self.trainer, state)
        state = state or {"history": history, "best_top1": best}
        if cfg.run.export and dist.is_root and end_epoch == cfg.optim.epochs:
            state["export"] = self.finish()
        dist.barrier("done")
        return state

    def finish(self):
        """Export the run's weights (:func:`~gluon_resnest.train.checkpoint.run_weights`) as float32
        ``{save_dir}/{model}-symbol.json`` + ``-0000.params``; returns both paths."""
        cfg = self.cfg
        self.net.load_parameters(run_weights(cfg.run.save_dir), ctx=self.ctx, cast_dtype=True)
        if cfg.net.dtype != "float32":
            self.net.cast("float32")
        size = cfg.data.input_size
        sym, params, _ = export_model(self.net, os.path.join(cfg.run.save_dir, cfg.net.model), size, ctx=self.ctx,
                                      class_names=list(TOY_CLASSES) if cfg.data.toy else None)
        logger.info("exported %s and %s (input 1x3x%dx%d)", sym, params, size, size)
        return [sym, params]


def train(cfg, dist=None):
    """Run training as configured; returns the final loop state (history, best accuracy, export paths)."""
    return TrainingRun(cfg, dist).run()
