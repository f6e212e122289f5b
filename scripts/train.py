#!/usr/bin/env python
"""Train a ResNeSt, alone or under horovodrun, with the paper's ImageNet recipe.

    python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir runs/toy
    horovodrun --gloo -np 2 -H localhost:2 python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir DIR

--lr and --batch-size are per worker; the learning rate is multiplied by the number of workers.
"""
import argparse
import logging
import os
import sys

from gluon_resnest import list_models
from gluon_resnest.train import Distributed, TrainConfig, train


def parse_args(argv=None):
    d = argparse.Namespace(**TrainConfig().flat())
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument
    a("--model", default=d.model, choices=list_models())
    a("--save-dir", default=d.save_dir, help="checkpoints, logs, metrics.jsonl, training_curve.png, final export")
    a("--rec-train", default=d.rec_train, help="training RecordIO .rec (with .idx)")
    a("--rec-val", default=d.rec_val, help="validation RecordIO .rec (with .idx)")
    a("--toy", action="store_true", help="use the embedded 10-class toy dataset (64x64)")
    a("--toy-dir", default=d.toy_dir, help="where to write the toy RecordIO files (default SAVE_DIR/toy_data)")
    a("--classes", type=int, default=d.classes)
    a("--input-size", type=int, default=d.input_size, help="training/eval resolution (default 224, toy 64)")
    a("--crop-pct", type=float, default=d.crop_pct, help="eval center-crop fraction")
    a("--min-random-area", type=float, default=d.min_random_area, help="random-resized-crop minimum area")
    a("--batch-size", type=int, default=d.batch_size, help="per worker")
    a("--epochs", type=int, default=d.epochs)
    a("--lr", type=float, default=d.lr, help="per-worker learning rate (0.05 per 128 images in the paper)")
    a("--warmup-lr", type=float, default=d.warmup_lr)
    a("--warmup-epochs", type=int, default=d.warmup_epochs)
    a("--optimizer", default=d.optimizer, choices=["nag", "sgd"])
    a("--momentum", type=float, default=d.momentum)
    a("--wd", type=float, default=d.wd)
    a("--no-wd", action="store_true", help="no weight decay on BN gamma/beta and biases")
    a("--last-gamma", action="store_true", help="zero-init the last BN of each block")
    a("--label-smoothing", type=float, default=d.label_smoothing, help="eta, e.g. 0.1")
    a("--mixup-alpha", type=float, default=d.mixup_alpha, help="mixup Beta(alpha, alpha); 0 disables")
    a("--mixup-off-epoch", type=int, default=d.mixup_off_epoch, help="no mixup in the last N epochs")
    a("--auto-augment", action="store_true", help="AutoAugment ImageNet policy")
    a("--jitter", type=float, default=d.jitter, help="brightness/contrast/saturation jitter")
    a("--lighting", type=float, default=d.lighting, help="PCA lighting noise std")
    a("--dropblock-prob", type=float, default=d.dropblock_prob,
      help="final DropBlock rate, linear ramp from 0 (default: the model's recipe rate, 0.1; 0 disables)")
    a("--final-drop", type=float, default=d.final_drop, help="dropout before the classifier (default: the model's)")
    a("--dtype", default=d.dtype, choices=["float32", "float16"], help="float16 needs --gpu")
    a("--eval-every", type=int, default=d.eval_every, help="validate every N epochs (and after the last)")
    a("--save-every", type=int, default=d.save_every, help="checkpoint every N epochs (and after the last)")
    a("--log-interval", type=int, default=d.log_interval, help="log every N steps (0: per epoch only)")
    a("--workers", type=int, default=d.workers, help="data-loading threads per process")
    a("--seed", type=int, default=d.seed)
    a("--resume", action="store_true", help="continue from the newest checkpoint in --save-dir")
    a("--stop-after-epochs", type=int, default=d.stop_after_epochs,
      help="checkpoint and stop after N epochs of this run (resume later with --resume)")
    a("--gpu", action="store_true", help="train on GPU local_rank")
    a("--no-export", dest="export", action="store_false", help="skip the final symbol/params export")
    return TrainConfig.from_flat(**vars(p.parse_args(argv)))


def main(argv=None):
    cfg = parse_args(argv)
    dist = Distributed()
    handlers = [logging.StreamHandler(sys.stdout)]
    if dist.is_root:
        os.makedirs(cfg.run.save_dir, exist_ok=True)
        handlers.append(logging.FileHandler(os.path.join(cfg.run.save_dir, "train.log")))
    logging.basicConfig(level=logging.INFO if dist.is_root else logging.WARNING, handlers=handlers,
                        format="%(asctime)s %(message)s")
    try:
        state = train(cfg, dist)
    except (ValueError, FileNotFoundError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 2
    if dist.is_root and state["history"]:
        last = state["history"][-1]
        print("final: train loss %.4f, val top-1 %s (best %.2f%%)" % (
            last["train_loss"], "n/a" if last["val_top1"] is None else "%.2f%%" % last["val_top1"],
            state["best_top1"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
