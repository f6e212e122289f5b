"""Sharded samplers and loaders.

Training loaders shard a dataset statically across Horovod ranks (contiguous slices, shuffled within each slice
every epoch) and hand the dataset ``(epoch, index)`` pairs, so each sample's augmentation is seeded by
``(seed, epoch, index)``: the same in every worker process and after ``--resume``.

Samples are made in forked worker processes (:class:`~.workers.WorkerPool`): no MXNet call and no file handle is
shared between threads, and each process reads the dataset through its own handles. Batches come back through
shared memory. A worker process that dies (the out-of-memory killer's SIGKILL) stops the pass within
:data:`~.workers.POLL_S` seconds with :class:`~.workers.WorkerLostError` naming it.
"""
import ctypes
import logging
import os

import mxnet as mx
import numpy as np
from mxnet.base import _LIB, check_call
from mxnet.gluon.data import BatchSampler, Dataset, Sampler

from .datasets import UnreadableSample
from .workers import WorkerPool

__all__ = ["ShardedSampler", "TransformedDataset", "Unnormalized", "SampleLoader", "BadSampleError", "Skipped",
           "Collate", "make_loader", "shard_range"]

logger = logging.getLogger("gluon_resnest.data")


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


class Skipped:
    """Stands in for a sample that could not be read; ``reason`` names the file and the index."""

    def __init__(self, reason):
        self.reason = reason


class TransformedDataset(Dataset):
    """``base[index]`` passed through ``transform(img)`` or, for random transforms, ``transform(img, rng)``.

    Indexed by ``(epoch, index)`` pairs (see :class:`ShardedSampler`); the rng is seeded by (seed, epoch, index).
    A sample the base dataset cannot read (:class:`~gluon_resnest.data.datasets.UnreadableSample`) comes back as
    :class:`Skipped`. A random transform with ``from_encoded`` and ``normalize`` (:class:`TrainTransform
    <gluon_resnest.data.transforms.TrainTransform>`) on a dataset with ``encoded`` gets the undecoded bytes and
    returns an :class:`Unnormalized` uint8 sample, normalized by :class:`Collate` into the batch.
    """

    def __init__(self, base, transform, seed=0, random=False):
        self.base, self.transform, self.seed, self.random = base, transform, seed, random
        self._staged = random and hasattr(transform, "from_encoded") and hasattr(base, "encoded")

    def __len__(self):
        return len(self.base)

    def __getitem__(self, key):
        epoch, index = key
        try:
            if self._staged:
                data, label, source = self.base.encoded(index)
                rng = np.random.default_rng([self.seed, epoch, index])
                return Unnormalized(self.transform.from_encoded(data, source, rng), self.transform.normalize), \
                    np.float32(label)
            img, label = self.base[index]
        except UnreadableSample as err:
            return Skipped(str(err))
        if self.random:
            out = self.transform(img, np.random.default_rng([self.seed, epoch, index]))
        else:
            out = self.transform(img)
        return out, np.float32(label)


class Unnormalized:
    """An augmented uint8 sample whose normalization (``normalize(img, out)``, writing CHW float32 into ``out``)
    :class:`Collate` runs straight into the batch."""

    def __init__(self, img, normalize):
        self.img, self.normalize = img, normalize


class Collate:
    """Batchify: ``(data (N, ...) NDArray or None, labels (N,) float32 NDArray or None, [skip reasons])`` of
    samples that are ``(array, label)`` pairs, ``(Unnormalized, label)`` pairs (normalized into an
    ``(N, 3, H, W)`` float32 batch) or :class:`Skipped`; array dtypes are kept. In a worker process (any
    process but ``parent_pid``) the batch is made in shared memory, so it reaches the parent without a copy."""

    def __init__(self, parent_pid):
        self.parent_pid = parent_pid

    def __call__(self, samples):
        good = [s for s in samples if not isinstance(s, Skipped)]
        skipped = [s.reason for s in samples if isinstance(s, Skipped)]
        if not good:
            return None, None, skipped
        ctx = mx.cpu() if os.getpid() == self.parent_pid else mx.Context("cpu_shared", 0)
        labels = mx.nd.array([s[1] for s in good], ctx=ctx, dtype="float32")
        if isinstance(good[0][0], Unnormalized):
            height, width = good[0][0].img.shape[:2]
            batch = mx.nd.empty((len(good), 3, height, width), ctx=ctx, dtype="float32")
            for sample, out in zip(good, _host_view(batch)):
                sample[0].normalize(sample[0].img, out)
            return batch, labels, skipped
        data = np.stack([np.asarray(s[0]) for s in good])
        return mx.nd.array(data, ctx=ctx, dtype=data.dtype), labels, skipped


def _host_view(array):
    """A numpy view of a freshly made float32 CPU NDArray's memory (no engine operation may be pending on it), to
    write the batch in place instead of copying it in."""
    pointer = ctypes.c_void_p()
    check_call(_LIB.MXNDArrayGetData(array.handle, ctypes.byref(pointer)))
    return np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=array.shape)


class SampleLoader:
    """Iterates ``(data, labels)`` batches of a sharded dataset; unreadable samples are left out of their batch
    with a warning (``skipped`` lists them for the current pass) or, with ``strict``, raise
    :class:`BadSampleError`. ``sampler`` is the :class:`ShardedSampler` (``set_epoch`` before each pass).

    ``dataset`` is indexed by the keys of ``batch_sampler``'s batches and ``collate`` makes each batch; with
    ``num_workers > 0`` that happens in as many forked worker processes (:class:`~.workers.WorkerPool`), each
    reading the dataset through its own file handles, with ``2 * num_workers`` batches in the making.
    """

    def __init__(self, dataset, batch_sampler, collate, sampler, num_workers=0, strict=False):
        self._dataset, self._batch_sampler, self._collate = dataset, batch_sampler, collate
        self.sampler, self.strict, self.skipped = sampler, strict, []
        self._pool = WorkerPool(dataset, collate, num_workers) if num_workers > 0 else None

    def __len__(self):
        return len(self._batch_sampler)

    def _batches(self):
        if self._pool is not None:
            return self._pool.batches(self._batch_sampler, prefetch=2 * self._pool.size)
        return (self._collate([self._dataset[key] for key in keys]) for keys in self._batch_sampler)

    def __iter__(self):
        self.skipped = []
        for data, labels, skipped in self._batches():
            for reason in skipped:
                if self.strict:
                    raise BadSampleError("unreadable sample %s" % reason)
                logger.warning("skipping unreadable sample %s", reason)
            self.skipped.extend(skipped)
            if data is None:
                raise BadSampleError("every sample of a batch is unreadable: %s" % "; ".join(skipped))
            yield data, labels


class BadSampleError(ValueError):
    """An unreadable sample stopped the run (strict mode), or a whole batch was unreadable."""


def make_loader(dataset, transform, batch_size, num_parts=1, part_index=0, train=False, seed=0, num_workers=0,
                strict=False):
    """:class:`SampleLoader` of this rank's shard; training shuffles, drops the last partial batch and uses random
    transforms. ``num_workers`` worker processes (0: in this process)."""
    sampler = ShardedSampler(len(dataset), num_parts, part_index, shuffle=train, seed=seed, equal_parts=train)
    data = TransformedDataset(dataset, transform, seed=seed, random=train)
    batches = BatchSampler(sampler, batch_size, "discard" if train else "keep")
    return SampleLoader(data, batches, Collate(os.getpid()), sampler, num_workers, strict)
