"""Data: datasets (RecordIO, image folders), sharded loaders, transforms, AutoAugment, targets, the toy set."""
from .autoaugment import AutoAugment
from .constants import IMAGENET_MEAN, IMAGENET_STD
from .datasets import open_image_dataset, write_recordio
from .imagenet import imagenet1k_names
from .loader import ShardedSampler, TransformedDataset, make_loader, shard_range
from .targets import mixup, smooth_one_hot
from .transforms import EvalTransform, TrainTransform, eval_settings, eval_transform_at, eval_transform_for

__all__ = ["AutoAugment", "IMAGENET_MEAN", "IMAGENET_STD", "open_image_dataset", "write_recordio", "imagenet1k_names",
           "ShardedSampler", "TransformedDataset", "make_loader", "shard_range", "mixup", "smooth_one_hot",
           "EvalTransform", "TrainTransform", "eval_settings", "eval_transform_at", "eval_transform_for"]
