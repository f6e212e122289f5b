#!/usr/bin/env python
"""Train a ResNeSt, alone or under horovodrun, with the paper's ImageNet recipe.

    python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir runs/toy
    python scripts/train.py --data-dir DIR --model resnest50 --pretrained --epochs 10 --save-dir runs/mine
    horovodrun --gloo -np 2 -H localhost:2 python scripts/train.py --toy --model resnest14 --epochs 2 --save-dir DIR

--lr and --batch-size are per worker; the learning rate is multiplied by the number of workers.
"""
import argparse
import logging
import sys

import gluon_resnest
from gluon_resnest.train import Distributed, TrainConfig, train
from gluon_resnest.train.config import GROUPS
from gluon_resnest.train.options import add_arguments, options_from_args
from gluon_resnest.train.save_dir import LOG_FORMAT
from gluon_resnest.utils.cli import ArgumentParser, run_main
from gluon_resnest.utils.native_notices import notices_filtered


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the description's layout."""


def parser():
    """The command line; every flag comes from the option declarations of the settings groups."""
    p = ArgumentParser(description=__doc__, formatter_class=_HelpFormatter,
                       epilog="docs/training.md lists every option with its range and resume rule.")
    add_arguments(p, GROUPS)
    return p


def parse_args(argv=None):
    """The :class:`TrainConfig` of the command line."""
    return TrainConfig.from_flat(**options_from_args(parser().parse_args(argv), GROUPS))


def main(argv=None):
    cfg = parse_args(argv).resolved()  # invalid options stop here, before anything is written or started
    dist = Distributed()
    logging.basicConfig(handlers=[logging.StreamHandler(sys.stdout)], format=LOG_FORMAT)
    logging.getLogger(gluon_resnest.__name__).setLevel(logging.INFO if dist.is_root else logging.WARNING)
    with notices_filtered():
        result = train(cfg, dist)
    if dist.is_root and result.history:
        print(result.summary())
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
