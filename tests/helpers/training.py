"""A tiny training configuration on a small toy set, shared by the training tests."""
import os

from gluon_resnest.train import TrainConfig


def tiny_cfg(save_dir, epochs, **kw):
    """resnest14 at 32 px on the toy set beside ``save_dir`` (``../toy``), with the whole recipe switched on."""
    base = dict(model="resnest14", toy=True, toy_dir=os.path.join(os.path.dirname(save_dir), "toy"),
                save_dir=save_dir, epochs=epochs, batch_size=16, lr=0.02, input_size=32, log_interval=0, workers=0,
                warmup_epochs=1, no_wd=True, last_gamma=True, label_smoothing=0.1, mixup_alpha=0.2,
                auto_augment=True, dropblock_prob=0.1, export=False)
    base.update(kw)
    return TrainConfig.from_flat(**base)


def write_small_toy(root):
    """A 96-image training / 40-image validation toy set (48 px) under ``root/toy``."""
    from gluon_resnest.data.toy import ensure_toy_dataset

    ensure_toy_dataset(os.path.join(str(root), "toy"), train_count=96, val_count=40, size=48)
    return root


#: The keys of a checkpoint state as the format without a version field (version 1) writes them.
VERSION_1_KEYS = ("best_top1", "class_names", "config", "data", "epoch", "history", "num_update", "optimizer",
                  "world_size")


def as_version_1(save_dir):
    """Rewrite the newest checkpoint of ``save_dir`` (the one ``latest.json`` names) in the checkpoint format
    without a version field or a manifest (version 1): exactly :data:`VERSION_1_KEYS`, ``best_top1`` -1.0 before
    any validation. Returns the ``ckpt-N.json`` path."""
    import json

    with open(os.path.join(save_dir, "latest.json")) as handle:
        path = os.path.join(save_dir, json.load(handle)["stem"] + ".json")
    with open(path) as handle:
        state = json.load(handle)
    old = {key: state[key] for key in VERSION_1_KEYS}
    if old["best_top1"] is None:
        old["best_top1"] = -1.0
    with open(path, "w") as handle:
        json.dump(old, handle, indent=2, sort_keys=True)
    return path
