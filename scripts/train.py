#!/usr/bin/env python
"""Train a ResNeSt, alone or under horovodrun, with the paper's ImageNet recipe.

    python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir runs/toy
    python scripts/train.py --data-dir DIR --model resnest50 --pretrained --epochs 10 --save-dir runs/mine
    horovodrun --gloo -np 2 -H localhost:2 python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir DIR

--lr and --batch-size are per worker; the learning rate is multiplied by the number of workers.
"""
import argparse
import logging
import os
import sys

from gluon_resnest import list_models
from gluon_resnest.train import Distributed, TrainConfig, train
from gluon_resnest.train.save_dir import owned_save_dir
from gluon_resnest.utils.cli import run_main


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the description's layout."""


GLUONCV_ALIASES = """GluonCV flag names accepted as aliases (same meaning):
  --num-epochs = --epochs, --save-frequency = --save-every, --eval-frequency = --eval-every,
  --use-pretrained = --pretrained, -j/--num-data-workers = --workers, --data-dir (DIR/train, DIR/val),
  --mixup (flag: --mixup-alpha 0.2), --label-smoothing without a value (eta 0.1)."""

#: ``--mixup`` and a bare ``--label-smoothing`` use the GluonCV recipe's values.
MIXUP_FLAG_ALPHA = 0.2
LABEL_SMOOTHING_FLAG_ETA = 0.1


def parse_args(argv=None):
    d = argparse.Namespace(**TrainConfig().flat())
    p = argparse.ArgumentParser(description=__doc__, epilog=GLUONCV_ALIASES, formatter_class=_HelpFormatter)
    a = p.add_argument
    a("--model", default=d.model, choices=list_models(), metavar="MODEL", help="ResNeSt variant")
    a("--save-dir", default=d.save_dir, help="checkpoints, logs, metrics.jsonl, training_curve.png, final export")
    a("--rec-train", default=d.rec_train, help="training RecordIO .rec (with .idx)")
    a("--rec-val", default=d.rec_val, help="validation RecordIO .rec (with .idx)")
    a("--data-dir", default=d.data_dir, help="folder with train/ and val/ class folders (one folder per class)")
    a("--toy", action="store_true", help="use the embedded 10-class toy dataset (64x64)")
    a("--toy-dir", default=d.toy_dir, help="where to write the toy RecordIO files (default SAVE_DIR/toy_data)")
    a("--classes", type=int, default=d.classes,
      help="classifier width (0: from the data: class folders, toy classes, or the largest .rec label + 1)")
    a("--pretrained", "--use-pretrained", action="store_true",
      help="start from the published ImageNet weights (a new classifier when --classes differs from 1000)")
    a("--params", default=d.params, help="start from this .params file (a new classifier when the classes differ)")
    a("--freeze-epochs", type=int, default=d.freeze_epochs, help="train only the classifier for the first N epochs")
    a("--input-size", type=int, default=d.input_size, help="training/eval resolution (0: 224, toy 64)")
    a("--crop-pct", type=float, default=d.crop_pct, help="eval center-crop fraction")
    a("--min-random-area", type=float, default=d.min_random_area, help="random-resized-crop minimum area")
    a("--batch-size", type=int, default=d.batch_size, help="per worker")
    a("--epochs", "--num-epochs", type=int, default=d.epochs, help="epochs to train in all")
    a("--lr", type=float, default=d.lr, help="per-worker learning rate (0.05 per 128 images in the paper)")
    a("--warmup-lr", type=float, default=d.warmup_lr, help="learning rate at the start of the warmup")
    a("--warmup-epochs", type=int, default=d.warmup_epochs, help="linear warmup epochs")
    a("--optimizer", default=d.optimizer, choices=["nag", "sgd"], help="update rule")
    a("--momentum", type=float, default=d.momentum, help="momentum")
    a("--wd", type=float, default=d.wd, help="weight decay")
    a("--no-wd", action="store_true", help="no weight decay on BN gamma/beta and biases")
    a("--last-gamma", action="store_true", help="zero-init the last BN of each block")
    a("--label-smoothing", type=float, nargs="?", const=LABEL_SMOOTHING_FLAG_ETA, default=d.label_smoothing,
      help="eta; the bare flag means %g" % LABEL_SMOOTHING_FLAG_ETA)
    a("--mixup", action="store_true", help="mixup with alpha %g unless --mixup-alpha is given" % MIXUP_FLAG_ALPHA)
    a("--mixup-alpha", type=float, default=d.mixup_alpha, help="mixup Beta(alpha, alpha); 0 disables")
    a("--mixup-off-epoch", type=int, default=d.mixup_off_epoch, help="no mixup in the last N epochs")
    a("--auto-augment", action="store_true", help="AutoAugment ImageNet policy")
    a("--jitter", type=float, default=d.jitter, help="brightness/contrast/saturation jitter")
    a("--lighting", type=float, default=d.lighting, help="PCA lighting noise std")
    a("--dropblock-prob", type=float, default=d.dropblock_prob,
      help="final DropBlock rate, linear ramp from 0 (negative: the model's recipe rate, 0.1; 0 disables)")
    a("--final-drop", type=float, default=d.final_drop, help="dropout before the classifier (negative: the model's)")
    a("--dtype", default=d.dtype, choices=["float32", "float16"], help="float16 needs --gpu")
    a("--eval-every", "--eval-frequency", type=int, default=d.eval_every,
      help="validate every N epochs (and after the last)")
    a("--save-every", "--save-frequency", type=int, default=d.save_every,
      help="checkpoint every N epochs (and after the last)")
    a("--keep-checkpoints", type=int, default=d.keep_checkpoints,
      help="keep the newest N checkpoints (best.params is kept apart)")
    a("--log-interval", type=int, default=d.log_interval, help="log every N steps (0: per epoch only)")
    a("--workers", "-j", "--num-data-workers", type=int, default=d.workers,
      help="data-loading worker processes per training process (0: load in the training process)")
    a("--stop-on-bad-sample", action="store_true",
      help="stop at an unreadable record or image instead of skipping it with a warning")
    a("--seed", type=int, default=d.seed, help="seeds the data order, augmentation and initialization")
    a("--resume", action="store_true",
      help="continue from the newest checkpoint in --save-dir (an error if there is none)")
    a("--allow-fresh-start", action="store_true", help="with --resume: start from scratch when there is no checkpoint")
    a("--stop-after-epochs", type=int, default=d.stop_after_epochs,
      help="checkpoint and stop after N epochs of this run (resume later with --resume)")
    a("--gpu", action="store_true", help="train on GPU local_rank")
    a("--no-export", dest="export", action="store_false", help="skip the final symbol/params export (export: %(default)s)")
    options = vars(p.parse_args(argv))
    if options.pop("mixup") and not options["mixup_alpha"]:
        options["mixup_alpha"] = MIXUP_FLAG_ALPHA
    return TrainConfig.from_flat(**options)


def main(argv=None):
    cfg = parse_args(argv)
    cfg.resolved()  # invalid options stop here, before the save directory is created or locked
    dist = Distributed()
    with owned_save_dir(cfg.run.save_dir, dist):
        handlers = [logging.StreamHandler(sys.stdout)]
        if dist.is_root:
            handlers.append(logging.FileHandler(os.path.join(cfg.run.save_dir, "train.log")))
        logging.basicConfig(level=logging.INFO if dist.is_root else logging.WARNING, handlers=handlers,
                            format="%(asctime)s %(message)s")
        state = train(cfg, dist)
    if dist.is_root and state["history"]:
        last = state["history"][-1]
        print("final: train loss %.4f, val top-1 %s (best %.2f%%)" % (
            last["train_loss"], "n/a" if last["val_top1"] is None else "%.2f%%" % last["val_top1"],
            state["best_top1"]))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
