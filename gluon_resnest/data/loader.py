"""Sharded samplers and loaders.

Training loaders shard a dataset statically across Horovod ranks (contiguous slices, shuffled within each slice
every epoch) and hand the dataset ``(epoch, index)`` pairs, so each sample's augmentation is seeded by
``(seed, epoch, index)``: the same in every worker process and after ``--resume``.
"""
import numpy as np
from mxnet.gluon.data import DataLoader, Dataset, Sampler

__all__ = ["ShardedSampler", "TransformedDataset", "make_loader", "shard_range"]


def shard_range(length, num_parts, part_index):
    """Contiguous ``[begin, end)`` slice of ``part_index`` among ``num_parts``; the slices cover all items."""
    if not 0 <= part_index < num_parts:
        raise ValueError("part_index %d out of range for %d parts" % (part_index, num_parts))
    return length * part_index // num_parts, length * (part_index + 1) // num_parts


class ShardedSampler(Sampler):
    """Yields ``(epoch, index)`` for this rank's contiguous slice, reshuffled per epoch with ``(seed, epoch, rank)``.

    ``equal_parts=True`` gives every rank ``length // num_parts`` items (training: equal step counts);
    otherwise the slices cover every item exactly once (evaluation).
    """

    def __init__(self, length, num_parts=1, part_index=0, shuffle=True, seed=0, equal_parts=True):
        if equal_parts:
            per_part = length // num_parts
            self.begin, self.end = per_part * part_index, per_part * (part_index + 1)
        else:
            self.begin, self.end = shard_range(length, num_parts, part_index)
        self.shuffle, self.seed, self.part_index, self.epoch = shuffle, seed, part_index, 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __iter__(self):
        indices = np.arange(self.begin, self.end)
        if self.shuffle:
            np.random.default_rng([self.seed, self.epoch, self.part_index]).shuffle(indices)
        return iter([(self.epoch, int(i)) for i in indices])

    def __len__(self):
        return self.end - self.begin


class TransformedDataset(Dataset):
    """``base[index]`` passed through ``transform(img)`` or, for random transforms, ``transform(img, rng)``.

    Indexed by ``(epoch, index)`` pairs (see :class:`ShardedSampler`); the rng is seeded by (seed, epoch, index).
    """

    def __init__(self, base, transform, seed=0, random=False):
        self.base, self.transform, self.seed, self.random = base, transform, seed, random

    def __len__(self):
        return len(self.base)

    def __getitem__(self, key):
        epoch, index = key
        img, label = self.base[index]
        if self.random:
            out = self.transform(img, np.random.default_rng([self.seed, epoch, index]))
        else:
            out = self.transform(img)
        return out, np.float32(label)


def make_loader(dataset, transform, batch_size, num_parts=1, part_index=0, train=False, seed=0, num_workers=0):
    """DataLoader of this rank's shard; training shuffles, drops the last partial batch and uses random transforms."""
    sampler = ShardedSampler(len(dataset), num_parts, part_index, shuffle=train, seed=seed, equal_parts=train)
    data = TransformedDataset(dataset, transform, seed=seed, random=train)
    loader = DataLoader(data, batch_size=batch_size, sampler=sampler, last_batch="discard" if train else "keep",
                        num_workers=num_workers, thread_pool=num_workers > 0)
    loader.sampler = sampler
    return loader
