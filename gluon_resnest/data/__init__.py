"""Data: datasets (RecordIO, image folders), sharded loaders with worker processes, transforms, AutoAugment, targets
and the toy set."""
from .autoaugment import AutoAugment
from .constants import IMAGENET_MEAN, IMAGENET_STD
from .datasets import FolderImageDataset, RecordImageDataset, UnreadableSample, open_image_dataset, write_recordio
from .imagenet import imagenet1k_names
from .loader import BadSampleError, SampleLoader, ShardedSampler, TransformedDataset, make_loader, shard_range
from .targets import mixup, smooth_one_hot
from .transforms import EvalTransform, TrainTransform, eval_settings, eval_transform_at, eval_transform_for

__all__ = ["AutoAugment", "IMAGENET_MEAN", "IMAGENET_STD", "FolderImageDataset", "RecordImageDataset",
           "UnreadableSample", "open_image_dataset", "write_recordio", "imagenet1k_names", "BadSampleError", "SampleLoader",
           "ShardedSampler", "TransformedDataset", "make_loader", "shard_range",
           "mixup", "smooth_one_hot", "EvalTransform", "TrainTransform", "eval_settings", "eval_transform_at",
           "eval_transform_for"]
