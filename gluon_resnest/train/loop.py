"""The training loop: ResNeSt on RecordIO data, class folders or the embedded toy set, with the paper's recipe,
Horovod-ready; from scratch, from given weights (fine-tuning) or from a checkpoint.

Every rank runs :func:`train` with the same :class:`~gluon_resnest.train.config.TrainConfig`. Rank 0 alone scans
the labels, reads the checkpoint to resume from, and writes logs, metrics, checkpoints and the final symbol/params
export, each as a step of :meth:`~gluon_resnest.train.distributed.Distributed.on_root` (every rank gets its result or
its error); metrics are summed over ranks (so they are weighted by sample count). The ranks compare their data
before the first step and stop, naming the difference, when it differs. :class:`TrainingRun` holds the steps:
build, restore, one epoch, validate, checkpoint, finish.
"""
import dataclasses
import logging
import os
import time

import mxnet as mx
import numpy as np
from mxnet import autograd

from ..data.autoaugment import AutoAugment
from ..data.datasets import FolderImageDataset, dataset_fingerprint, open_image_dataset
from ..data.loader import make_loader
from ..data.targets import mixup, smooth_one_hot
from ..data.toy import CLASSES as TOY_CLASSES
from ..data.toy import ensure_toy_dataset
from ..data.transforms import TrainTransform
from ..deploy.export import export_model
from ..deploy.export_files import stale_files
from ..models.factory import get_model, model_data_config
from ..nn import copy_parameters, set_drop_prob
from ..utils.cpu_runtime import cpu_runtime
from ..utils.errors import OptionError, flag
from .checkpoint import (POINTER, latest_checkpoint, load_weights_file, read_checkpoint_states, run_weights,
                         save_best, save_checkpoint)
from .distributed import Distributed
from .evaluation import count_correct, evaluate
from .finite import check_loss, check_weights
from .metrics_log import plot_curves, write_metrics
from .optimizer import apply_no_wd, load_optimizer_state, make_optimizer
from .precision import as_float32, input_dtype, parameter_dtype
from .precision import prepare as prepare_precision
from .records import CheckpointState, DataFacts, EpochRecord, TrainingResult
from .resume import check_resume_data, resume_changes
from .save_dir import owned_save_dir, run_log
from .schedule import cosine_schedule, dropblock_rate

__all__ = ["EpochStats", "TrainingRun", "train"]

logger = logging.getLogger("gluon_resnest.train")


@dataclasses.dataclass
class EpochStats:
    """Running sums of one epoch on one rank (or, after :meth:`summed`, over all ranks)."""
    loss_sum: float = 0.0
    correct: float = 0.0
    images: float = 0.0
    skipped: float = 0.0

    def add(self, loss_sum, correct, images):
        self.loss_sum += loss_sum
        self.correct += correct
        self.images += images

    def summed(self, dist, name):
        return EpochStats(*dist.allreduce_sum([self.loss_sum, self.correct, self.images, self.skipped], name))


def _datasets(cfg, dist):
    """``(train dataset, validation dataset or None)``; the toy set is written once per host, by local rank 0,
    before any rank opens it. Each dataset's ``classes`` holds its class names, or ``None`` for RecordIO."""
    if cfg.data.toy:
        if dist.local_rank == 0:
            ensure_toy_dataset(cfg.data.toy_dir)
        dist.barrier("toy_data")
        train_path, val_path = ensure_toy_dataset(cfg.data.toy_dir)
        train_set, val_set = open_image_dataset(train_path), open_image_dataset(val_path)
        train_set.classes = val_set.classes = list(TOY_CLASSES)
        return train_set, val_set
    if cfg.data.data_dir:
        train_dir, val_dir = (os.path.join(cfg.data.data_dir, split) for split in ("train", "val"))
        if not os.path.isdir(train_dir):
            raise OptionError("{data_dir} %s needs a train/ folder of class folders (and optionally val/)"
                              % cfg.data.data_dir)
        train_set = FolderImageDataset(train_dir)
        return train_set, FolderImageDataset(val_dir, train_set.classes) if os.path.isdir(val_dir) else None
    val = open_image_dataset(cfg.data.rec_val) if cfg.data.rec_val else None
    return open_image_dataset(cfg.data.rec_train), val


def _class_count(cfg, train_set):
    """``classes`` if given (checked against the class folders, or every RecordIO label below it), else the data's
    class count (for RecordIO: the largest label + 1, a stray label far beyond the others refused); RecordIO labels
    that are not class indices are refused naming the record
    (:meth:`~gluon_resnest.data.datasets.RecordImageDataset.labels`)."""
    found = len(train_set.classes) if train_set.classes else None
    if found is not None:
        if cfg.net.classes and found != cfg.net.classes:
            raise OptionError("{classes} %d, but the training data has %d classes (%s)"
                              % (cfg.net.classes, found, ", ".join(train_set.classes)))
        return found
    labels = train_set.labels(skip_unreadable=not cfg.data.stop_on_bad_sample, classes=cfg.net.classes)
    if cfg.net.classes:
        return cfg.net.classes
    if len(labels) < len(train_set):
        logger.warning("%s: %d of %d records are unreadable; the class count comes from the other records' labels",
                       train_set.path, len(train_set) - len(labels), len(train_set))
    if not labels:
        raise ValueError("%s: no readable record to take the class count from" % train_set.path)
    return max(labels) + 1


def _data_facts(dataset, loader):
    """The :class:`~gluon_resnest.train.records.DataFacts` of ``dataset`` read through ``loader`` on this rank."""
    return DataFacts(len(dataset), len(loader), dataset_fingerprint(dataset))


def build_net(cfg, ctx, weights=True):
    """The network of ``cfg.net`` on ``ctx``: from ``--params``/``--pretrained`` weights (a new classifier when the
    class count differs) if ``weights``, else initialized as in the recipe (Xavier gaussian, magnitude 2)."""
    overrides = {"last_gamma": cfg.net.last_gamma}
    if cfg.net.final_drop >= 0:
        overrides["final_drop"] = cfg.net.final_drop
    source = cfg.net.params or cfg.net.pretrained
    if weights and source:
        net = get_model(cfg.net.model, pretrained=source, classes=cfg.net.classes, ctx=ctx, **overrides)
    else:
        net = get_model(cfg.net.model, classes=cfg.net.classes, **overrides)
        net.initialize(mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2), ctx=ctx)
    if parameter_dtype(cfg.net.dtype) != "float32":
        net.cast(parameter_dtype(cfg.net.dtype))
    return net


class _EvalTwin:
    """A separate inference copy of the training network, refreshed from it before each evaluation.

    Running inference on the training network itself lets oneDNN cache weight layouts that shift the numerics of
    later training steps slightly, so an interrupted-and-resumed run would not match an uninterrupted one.
    """

    def __init__(self, cfg, ctx):
        self.cfg, self.ctx, self.net = cfg, ctx, None

    def __call__(self, source):
        if self.net is None:
            self.net = build_net(self.cfg, self.ctx, weights=False)
            self.net.hybridize(static_alloc=True)
        return copy_parameters(source, self.net, self.ctx)


class TrainingRun:
    """One training run on this rank: built from a config, then :meth:`run` trains, validates and saves."""

    def __init__(self, cfg, dist=None):
        self.cfg = cfg.resolved()
        self.dist = dist or Distributed()
        self.ctx = self.dist.context(self.cfg.run.gpu)
        #: The stem path of this run's newest checkpoint (restored or written), ``None`` before the first.
        self.last_checkpoint = None
        self._build_data()
        self._build_model()

    def _build_data(self):
        cfg, dist = self.cfg, self.dist
        size = cfg.data.input_size
        #: The evaluation data config: validation, and the final export's meta.
        self.data_config = model_data_config(cfg.net.model, input_size=size, crop_pct=cfg.data.crop_pct)
        train_set, val_set = _datasets(cfg, dist)
        self.class_names = list(train_set.classes) if train_set.classes else None
        self.cfg = cfg = cfg.replace(classes=dist.on_root(lambda: _class_count(cfg, train_set), "class_count"))
        train_tf = TrainTransform(size, scale=(cfg.data.min_random_area, 1.0), jitter=cfg.data.jitter,
                                  lighting=cfg.data.lighting,
                                  auto_augment=AutoAugment() if cfg.data.auto_augment else None,
                                  mean=self.data_config.mean, std=self.data_config.std)
        strict = cfg.data.stop_on_bad_sample
        self.train_loader = make_loader(train_set, train_tf, cfg.optim.batch_size, dist.size, dist.rank, train=True,
                                        seed=cfg.run.seed, num_workers=cfg.data.workers, strict=strict)
        self.val_loader = None
        if val_set is not None:
            self.val_loader = make_loader(val_set, self.data_config.eval_transform(), cfg.optim.batch_size,
                                          dist.size, dist.rank, num_workers=cfg.data.workers, strict=strict)
        self.steps = len(self.train_loader)
        #: What this run trains on; a checkpoint records it, and a resume must find the same.
        self.data_facts = _data_facts(train_set, self.train_loader)
        val_facts = _data_facts(val_set, self.val_loader) if val_set is not None else None
        dist.check_same(self.data_facts, "training data")
        dist.check_same(val_facts, "validation data")
        if self.steps == 0:
            raise ValueError("each of the %d workers gets %d training images, fewer than one batch of %d"
                             % (dist.size, len(self.train_loader.sampler), cfg.optim.batch_size))

    def _build_model(self):
        cfg, dist = self.cfg, self.dist
        prepare_precision(cfg.net.dtype, self.ctx)
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
        """Load the newest checkpoint (rank 0 reads, checks and loads the weights; every rank receives the optimizer
        states, or the same error); return its :class:`~gluon_resnest.train.records.CheckpointState`, or ``None``
        when the save directory holds no checkpoint.

        Options the checkpoint cannot honour are refused (:func:`~gluon_resnest.train.resume.resume_changes`);
        changed epochs, learning rate, warmup and the other recipe options apply from the restored step: the
        schedule, built from the new values, is evaluated at the restored update count.
        """
        found = self.dist.on_root(self._read_checkpoint, "resume")
        if found is None:
            return None
        stem, state, arrays, changes = found
        try:
            load_optimizer_state(self.trainer, arrays, state.optimizer)
        except ValueError as err:
            raise ValueError("cannot resume from %s.states: %s" % (stem, err)) from None
        self.last_checkpoint = stem
        if self.dist.is_root:
            self._log_resume(stem, state, changes)
        return state

    def _read_checkpoint(self):
        """Rank 0's part of :meth:`restore`: ``(stem, state, optimizer arrays, changed options)`` of the newest
        checkpoint, its weights loaded into the network, or ``None`` without a checkpoint."""
        found = latest_checkpoint(self.cfg.run.save_dir)
        if found is None:
            return None
        stem, state = found
        changes = resume_changes(state.config, state.world_size, self.cfg, self.dist.size)
        check_resume_data(state, self.data_facts, self.cfg.optim.epochs, stem)
        arrays = read_checkpoint_states(stem)
        load_weights_file(self.net, stem + ".params", self.ctx)
        return stem, state, arrays, changes

    def _log_resume(self, stem, state, changes):
        step = self.trainer.optimizer.num_update
        logger.info("resumed from %s (epoch %d done, update %d)", stem, state.epochs_done, step)
        for option, (old, new) in sorted(changes.items()):
            logger.info("resume: %s changed from %r to %r, applied from update %d", flag(option), old, new, step)
        if changes:
            logger.info("resume: learning-rate schedule rebuilt for %d epochs, lr %g at update %d",
                        self.cfg.optim.epochs, self.trainer.learning_rate, step)

    def _set_frozen(self, frozen):
        """Train only the classifier (``frozen``) or the whole network."""
        head = set(self.net.fc.collect_params().keys())
        for name, param in self.net.collect_params().items():
            if name not in head:
                param.grad_req = "null" if frozen else "write"

    def train_epoch(self, epoch):
        """One pass over this rank's shard; returns the epoch's :class:`EpochStats` summed over ranks."""
        cfg, dist = self.cfg, self.dist
        mx.random.seed(cfg.run.seed * 100003 + epoch * 1009 + dist.rank)
        if cfg.net.dropblock_prob > 0:
            set_drop_prob(self.net, dropblock_rate(epoch, cfg.optim.epochs, cfg.net.dropblock_prob))
        self.train_loader.sampler.set_epoch(epoch)
        if self.cfg.optim.freeze_epochs and epoch <= self.cfg.optim.freeze_epochs:
            self._set_frozen(epoch < self.cfg.optim.freeze_epochs)
        use_mixup = cfg.optim.mixup_alpha > 0 and epoch < cfg.optim.epochs - cfg.optim.mixup_off_epoch
        stats = EpochStats()
        tic = time.time()
        for step, (data, label) in enumerate(self.train_loader):
            data = data.as_in_context(self.ctx).astype(input_dtype(cfg.net.dtype), copy=False)
            labels = label.asnumpy()
            targets = mx.nd.array(smooth_one_hot(labels, cfg.net.classes, cfg.optim.label_smoothing), ctx=self.ctx)
            if use_mixup:
                rng = np.random.default_rng([cfg.run.seed, epoch, step, dist.rank])
                data, targets = mixup(data, targets, float(rng.beta(cfg.optim.mixup_alpha, cfg.optim.mixup_alpha)))
            with autograd.record():
                output = self.net(data)
                if cfg.net.dtype == "bfloat16":
                    output = as_float32(output)
                loss = self.loss_fn(output, targets.astype(output.dtype, copy=False))
            loss.backward()
            self.trainer.step(data.shape[0])
            logits = as_float32(output).asnumpy()
            loss_sum = float(loss.astype("float32").sum().asscalar())
            check_loss(loss_sum, epoch, step, self.steps, self.last_checkpoint)
            stats.add(loss_sum, count_correct(logits, labels, (1,))[0], data.shape[0])
            if dist.is_root and cfg.run.log_interval and (step + 1) % cfg.run.log_interval == 0:
                logger.info("epoch %d [%d/%d] loss %.4f lr %.5f %.1f img/s", epoch + 1, step + 1, self.steps,
                            stats.loss_sum / stats.images, self.trainer.learning_rate,
                            stats.images * dist.size / (time.time() - tic))
        stats.skipped = len(self.train_loader.skipped)
        return stats.summed(dist, "train_%d" % epoch)

    def validate(self, epoch):
        """``(top-1 %, top-5 %)`` over the whole validation set (all ranks' shards)."""
        val = evaluate(self.eval_twin(self.net), self.val_loader, self.ctx, dtype=input_dtype(self.cfg.net.dtype))
        top1, top5, count, skipped = self.dist.allreduce_sum(
            [val["top1_correct"], val["top5_correct"], val["count"], len(self.val_loader.skipped)], "val_%d" % epoch)
        return 100.0 * top1 / count, 100.0 * top5 / count, int(skipped)

    def _wants_validation(self, epoch):
        every = self.cfg.run.eval_every
        last = epoch == self.cfg.optim.epochs - 1
        return self.val_loader is not None and (last or (every and (epoch + 1) % every == 0))

    def _wants_checkpoint(self, epoch, end_epoch):
        every = self.cfg.run.save_every
        return epoch in (self.cfg.optim.epochs - 1, end_epoch - 1) or (every and (epoch + 1) % every == 0)

    def _epoch_record(self, epoch, stats, seconds):
        return EpochRecord(epoch=epoch, train_loss=stats.loss_sum / stats.images,
                           train_top1=100.0 * stats.correct / stats.images, images=int(stats.images),
                           lr=self.trainer.learning_rate, seconds=seconds, img_per_s=stats.images / seconds,
                           skipped=int(stats.skipped))

    def _write_epoch(self, state, improved, checkpoint):
        """Rank 0's outputs of a finished epoch (``state``: its checkpoint state): the log line, ``best.params``
        when validation ``improved``, ``metrics.jsonl``, the curve, and the checkpoint when ``checkpoint``;
        returns the checkpoint's stem, or ``None``."""
        save_dir = self.cfg.run.save_dir
        logger.info("%s", state.history[-1].summary())
        if improved:
            save_best(save_dir, self.net)
        write_metrics(os.path.join(save_dir, "metrics.jsonl"), state.history)
        plot_curves(os.path.join(save_dir, "training_curve.png"), state.history, self.cfg.net.model)
        if checkpoint:
            return save_checkpoint(save_dir, self.net, self.trainer, state, self.cfg.run.keep_checkpoints)
        return None

    def run(self):
        """Train from scratch or from the newest checkpoint (``--resume``); returns the
        :class:`~gluon_resnest.train.records.TrainingResult`."""
        cfg, dist = self.cfg, self.dist
        save_dir = cfg.run.save_dir
        os.makedirs(save_dir, exist_ok=True)
        state = self.restore() if cfg.run.resume else None
        if cfg.run.resume and state is None:
            if not cfg.run.allow_fresh_start:
                raise OptionError("{resume}: no checkpoint in %s (no %s); run without {resume}, or add "
                                  "{allow_fresh_start} to start from scratch in that case" % (save_dir, POINTER))
            if dist.is_root:
                logger.info("resume: no checkpoint in %s, starting from scratch (allow_fresh_start)", save_dir)
        dist.broadcast_parameters(self.net.collect_params())
        start_epoch = state.epochs_done if state else 0
        history = list(state.history) if state else []
        best = state.best_top1 if state else None
        end_epoch = cfg.optim.epochs
        if cfg.run.stop_after_epochs:
            end_epoch = min(cfg.optim.epochs, start_epoch + cfg.run.stop_after_epochs)
        for epoch in range(start_epoch, end_epoch):
            tic = time.time()
            stats = self.train_epoch(epoch)
            check_weights(self.net, epoch, self.steps, self.last_checkpoint)
            record = self._epoch_record(epoch, stats, time.time() - tic)
            improved = False
            if self._wants_validation(epoch):
                top1, top5, skipped = self.validate(epoch)
                record = dataclasses.replace(record, val_top1=top1, val_top5=top5, val_skipped=skipped)
                improved = best is None or top1 > best
                best = top1 if improved else best
            history.append(record)
            state = CheckpointState(epoch=epoch, history=tuple(history), best_top1=best,
                                    num_update=self.trainer.optimizer.num_update, config=cfg.as_dict(),
                                    world_size=dist.size, data=self.data_facts,
                                    class_names=tuple(self.class_names) if self.class_names else None)
            stem = dist.on_root(lambda: self._write_epoch(state, improved, self._wants_checkpoint(epoch, end_epoch)),
                                "epoch_%d_outputs" % epoch)
            self.last_checkpoint = stem or self.last_checkpoint
        export = None
        if cfg.run.export and end_epoch == cfg.optim.epochs:
            export = dist.on_root(self.finish, "export")
        return TrainingResult(tuple(history), best, tuple(export) if export else None)

    def finish(self):
        """Export the run's weights (:func:`~gluon_resnest.train.checkpoint.run_weights`) as float32
        ``{save_dir}/{model}-symbol.json`` + ``-0000.params``; returns both paths."""
        cfg = self.cfg
        load_weights_file(self.net, run_weights(cfg.run.save_dir), self.ctx)
        if parameter_dtype(cfg.net.dtype) != "float32":
            self.net.cast("float32")
        size = self.data_config.input_size
        prefix = os.path.join(cfg.run.save_dir, cfg.net.model)
        stale = stale_files(prefix, ("symbol",))
        sym, params, _ = export_model(self.net, prefix, ctx=self.ctx, class_names=self.class_names, force=True,
                                      data_config=self.data_config)
        if stale:
            logger.info("removed files at %s that this run's export replaces: %s", prefix,
                        ", ".join(stale))
        logger.info("exported %s and %s (input 1x3x%dx%d)", sym, params, size, size)
        return [sym, params]


def train(cfg, dist=None):
    """Run training as configured; returns the :class:`~gluon_resnest.train.records.TrainingResult` (every epoch's
    record, the best validation top-1, the export's files).

    The options are checked first (:meth:`~gluon_resnest.train.config.TrainConfig.resolved`: nothing is written for
    an invalid one); then the run owns its save directory for its life
    (:func:`~gluon_resnest.train.save_dir.owned_save_dir`, the lock taken once) and logs to its ``train.log``
    (:func:`~gluon_resnest.train.save_dir.run_log`), which starts with the CPU runtime line
    (:func:`~gluon_resnest.utils.cpu_runtime.cpu_runtime`) and the training precision."""
    cfg = cfg.resolved()
    dist = dist or Distributed()
    with owned_save_dir(cfg.run.save_dir, dist), run_log(cfg.run.save_dir, dist):
        if dist.is_root:
            logger.info("%s; training in %s", cpu_runtime(), cfg.net.dtype)
        return TrainingRun(cfg, dist).run()
