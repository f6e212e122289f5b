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

from gluon_resnest.train import Distributed, TrainConfig, train
from gluon_resnest.train.config import GROUPS
from gluon_resnest.train.options import add_arguments, options_from_args
from gluon_resnest.train.save_dir import owned_save_dir
from gluon_resnest.utils.cli import run_main


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the description's layout."""


def parse_args(argv=None):
    """The :class:`TrainConfig` of the command line; every flag comes from the option declarations."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter,
                                epilog="docs/training.md lists every option with its resume rule.")
    add_arguments(p, GROUPS)
    return TrainConfig.from_flat(**options_from_args(p.parse_args(argv), GROUPS))


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
