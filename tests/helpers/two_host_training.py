"""Run under ``horovodrun -H localhost:1,127.0.0.1:1`` (two simulated hosts, local rank 0 on both, one shared
filesystem): one epoch of resnest14 on the toy set from "pretrained" weights, so both hosts prepare the toy set and
fetch the weights into the same folders at the same time.

Usage: ``python -m tests.helpers.two_host_training SAVE_DIR TOY_DIR SHA1``; ``SHA1`` becomes resnest14's published
sha1 in this process (the weights come from ``$MXNET_GLUON_REPO`` into ``$MXNET_HOME``).
"""
import dataclasses
import sys

import gluon_resnest  # noqa: F401  (first: sizes MXNet's threads)
from gluon_resnest.models.catalogue import CATALOGUE
from gluon_resnest.train import TrainConfig, train


def main(save_dir, toy_dir, sha1):
    record = CATALOGUE["resnest14"]
    CATALOGUE["resnest14"] = dataclasses.replace(record, pretrained=dataclasses.replace(record.pretrained, sha1=sha1))
    train(TrainConfig.from_flat(model="resnest14", toy=True, toy_dir=toy_dir, save_dir=save_dir, pretrained=True,
                                epochs=1, batch_size=32, lr=0.01, input_size=32, log_interval=0, workers=0,
                                export=False))


if __name__ == "__main__":
    main(*sys.argv[1:4])
