"""Data: the image decoder, datasets (RecordIO, image folders), sharded loaders with worker processes, transforms,
AutoAugment, targets and the toy set."""
from .autoaugment import AutoAugment
from .config import DataConfig, resolve_data_config
from .constants import IMAGENET_MEAN, IMAGENET_STD
from .decoder import ImageLimits, UndecodableImage, decode_image
from .datasets import FolderImageDataset, RecordImageDataset, UnreadableSample, open_image_dataset, write_recordio
from .imagenet import imagenet1k_names
from .loader import BadSampleError, SampleLoader, ShardedSampler, TransformedDataset, make_loader, shard_range
from .targets import mixup, smooth_one_hot
from .transforms import EvalTransform, TrainTransform

__all__ = ["ImageLimits", "UndecodableImage", "decode_image", "AutoAugment", "IMAGENET_MEAN", "IMAGENET_STD",
           "FolderImageDataset", "RecordImageDataset", "UnreadableSample", "open_image_dataset", "write_recordio",
           "imagenet1k_names", "BadSampleError", "SampleLoader", "ShardedSampler", "TransformedDataset", "make_loader",
           "shard_range", "mixup", "smooth_one_hot", "DataConfig", "resolve_data_config", "EvalTransform",
           "TrainTransform"]
