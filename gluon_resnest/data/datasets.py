"""Image datasets: RecordIO (``.rec/.idx``) files and class-per-folder trees, and writing RecordIO files.

Both datasets return ``(HWC uint8 RGB numpy image, float label)`` and are safe to read from several worker
processes or threads: every (process, thread) opens its own file handles, lazily, so no reader is ever shared.
Images are decoded by the package's one decoder (:func:`~gluon_resnest.data.decoder.decode_image`). A sample
that cannot be read or decoded raises :class:`UnreadableSample` naming the file and the index. ``encoded(index)``
gives a sample's undecoded bytes, for transforms that decode themselves
(:meth:`~gluon_resnest.data.transforms.TrainTransform.from_encoded`).
"""
import errno
import hashlib
import math
import os
import struct
import threading

import mxnet as mx
from mxnet.gluon.data import Dataset

from ..utils.errors import OptionError, ReportableError
from ..utils.publish import StagedFiles
from .decoder import UndecodableImage, decode_image

__all__ = ["RecordImageDataset", "FolderImageDataset", "UnreadableSample", "open_image_dataset", "write_recordio",
           "dataset_fingerprint", "decode_sample", "IMAGE_EXTENSIONS", "IMPLIED_CLASSES_FLOOR",
           "IMPLIED_CLASSES_FACTOR"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_MAGIC = 0xCED7230A
_LENGTH_MASK = (1 << 29) - 1
#: MXNet's record header (``IRHeader``): flag, label, id, id2; ``flag`` > 0 means ``flag`` float32 labels follow.
_HEADER = struct.Struct("<IfQQ")
#: A class count taken from the labels (largest + 1) may exceed the number of distinct labels up to
#: ``max(IMPLIED_CLASSES_FLOOR, IMPLIED_CLASSES_FACTOR * distinct labels)``; beyond, the largest label is refused
#: as a stray one (:meth:`RecordImageDataset.labels`). The floor is ImageNet's 1000 classes, so a subset of
#: ImageNet keeps its labels.
IMPLIED_CLASSES_FLOOR = 1000
IMPLIED_CLASSES_FACTOR = 10


class UnreadableSample(ReportableError):
    """A record or image file that cannot be read or decoded; the message names the file and the index."""


def decode_sample(data, source, bgr=False):
    """HWC uint8 RGB (or with ``bgr`` BGR) numpy image of a sample's encoded bytes ``data``
    (:func:`~gluon_resnest.data.decoder.decode_image` with its default limits); :class:`UnreadableSample` naming
    ``source`` when the decoder refuses them."""
    try:
        return decode_image(data, bgr=bgr)
    except UndecodableImage as err:
        raise UnreadableSample("%s: %s" % (source, err)) from None


class _PerThreadFiles:
    """``open(path, 'rb')`` handles owned by the calling (process, thread); never shared, never pickled."""

    def __init__(self):
        self._local, self._pid = threading.local(), os.getpid()

    def get(self, path):
        if self._pid != os.getpid():
            self._local, self._pid = threading.local(), os.getpid()
        handles = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = {}
        if path not in handles:
            handles[path] = open(path, "rb")
        return handles[path]

    def __getstate__(self):
        return {}

    def __setstate__(self, _):
        self.__init__()


def _read_index(idx_path, rec_path):
    """Record offsets in ``.idx`` order; ``ValueError`` naming the file when either file is truncated or garbled."""
    rec_size = os.path.getsize(rec_path)
    offsets = []
    with open(idx_path) as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                _, offset = int(fields[0]), int(fields[1])
            except (ValueError, IndexError):
                raise ValueError("RecordIO index %s is truncated or corrupt at line %d: %r"
                                 % (idx_path, line_no, line[:80])) from None
            if not 0 <= offset <= rec_size - 8:
                raise ValueError("RecordIO file %s is truncated: its index %s (line %d) points at byte %d of a "
                                 "%d-byte file" % (rec_path, idx_path, line_no, offset, rec_size))
            offsets.append(offset)
    if not offsets:
        raise ValueError("RecordIO index %s lists no records" % idx_path)
    last = max(offsets)
    with open(rec_path, "rb") as handle:
        handle.seek(last)
        magic, length = struct.unpack("<II", handle.read(8))
    if magic != _MAGIC or last + 8 + (length & _LENGTH_MASK) > rec_size:
        raise ValueError("RecordIO file %s is truncated or corrupt: its last record (byte %d) does not fit in its "
                         "%d bytes" % (rec_path, last, rec_size))
    return offsets


class RecordImageDataset(Dataset):
    """Images in an MXNet RecordIO file ``path`` (``.rec``) with its index (``.idx`` beside it).

    The index is checked at construction (a truncated ``.rec`` or ``.idx`` is a ``ValueError`` naming the file);
    records are read with per-(process, thread) file handles.
    """

    def __init__(self, path):
        self.path, self.idx_path = path, path[:-4] + ".idx"
        self.offsets = _read_index(self.idx_path, path)
        self.classes = None
        self._files = _PerThreadFiles()

    def __len__(self):
        return len(self.offsets)

    def _record(self, index):
        source = "%s record %d" % (self.path, index)
        handle = self._files.get(self.path)
        handle.seek(self.offsets[index])
        head = handle.read(8)
        magic, length = struct.unpack("<II", head) if len(head) == 8 else (None, 0)
        if magic != _MAGIC or length >> 29:
            raise UnreadableSample("%s: not a whole RecordIO record" % source)
        payload = handle.read(length & _LENGTH_MASK)
        if len(payload) != length & _LENGTH_MASK:
            raise UnreadableSample("%s: record is cut short" % source)
        return mx.recordio.unpack(payload), source

    def encoded(self, index):
        """``(encoded image bytes, label, source)`` of record ``index``, without decoding."""
        (header, data), source = self._record(index)
        label = header.label if isinstance(header.label, float) else float(header.label[0])
        return data, label, source

    def __getitem__(self, index):
        data, label, source = self.encoded(index)
        return decode_sample(data, source), label

    def _header_label(self, index):
        """Record ``index``'s label, read from its header alone (the first label of a multi-label header, as
        :meth:`encoded` takes it); :class:`UnreadableSample` when the header is not a whole RecordIO header."""
        handle = self._files.get(self.path)
        handle.seek(self.offsets[index])
        head = handle.read(8 + _HEADER.size)
        magic, length = struct.unpack("<II", head[:8]) if len(head) >= 8 else (None, 0)
        if magic != _MAGIC or length >> 29 or length < _HEADER.size or len(head) < 8 + _HEADER.size:
            raise UnreadableSample("%s record %d: not a whole RecordIO record" % (self.path, index))
        flag, label, _, _ = _HEADER.unpack(head[8:])
        if flag > 0:
            first = handle.read(4)
            if len(first) < 4 or length < _HEADER.size + 4 * flag:
                raise UnreadableSample("%s record %d: record is cut short" % (self.path, index))
            label = struct.unpack("<f", first)[0]
        return label

    def labels(self, skip_unreadable=False, classes=None):
        """Every record's class label as an ``int``, in index order, read from the record headers alone (no image
        is read or decoded); an unreadable record raises :class:`UnreadableSample`, or with ``skip_unreadable`` is
        left out.

        A label must be a class index, a whole number >= 0: a label such as 2.5 is a ``ValueError`` naming the
        record, never rounded. ``classes`` > 0: a label >= ``classes`` is an ``OptionError`` naming the record.
        ``classes`` == 0 (the class count is to come from the labels: the largest + 1): a stray label far beyond
        the others is an ``OptionError`` naming its record instead of a classifier mostly made of classes no
        record has. Far beyond means that the class count it implies exceeds both
        :data:`IMPLIED_CLASSES_FLOOR` and :data:`IMPLIED_CLASSES_FACTOR` times the number of distinct labels (one
        label 1000000 among labels 0-9 implies 1000001 classes for 11 distinct labels; an ImageNet subset with
        labels up to 999 passes). ``classes`` ``None``: no class check.
        """
        found, first_index = [], {}
        for index in range(len(self)):
            try:
                label = self._header_label(index)
            except UnreadableSample:
                if not skip_unreadable:
                    raise
                continue
            if not (math.isfinite(label) and label >= 0 and label == int(label)):
                raise ValueError("%s record %d: label %r is not a class index (a whole number >= 0); labels are "
                                 "never rounded" % (self.path, index, label))
            label = int(label)
            if classes and label >= classes:
                raise OptionError("%s record %d: label %d is outside the {classes} %d classes (labels 0 to %d)"
                                  % (self.path, index, label, classes, classes - 1))
            first_index.setdefault(label, index)
            found.append(label)
        if classes == 0 and found:
            largest, distinct = max(first_index), len(first_index)
            if largest + 1 > max(IMPLIED_CLASSES_FLOOR, IMPLIED_CLASSES_FACTOR * distinct):
                rest = max(label for label in first_index if label != largest) if distinct > 1 else None
                raise OptionError(
                    "%s record %d: label %d would make a %d-class classifier, but the records hold only %d distinct "
                    "labels%s; with {classes} 0 the class count is the largest label + 1 and may be at most "
                    "max(%d, %d x the distinct labels) = %d; fix the label or give {classes}"
                    % (self.path, first_index[largest], largest, largest + 1, distinct,
                       "" if rest is None else " (the largest other one is %d)" % rest, IMPLIED_CLASSES_FLOOR,
                       IMPLIED_CLASSES_FACTOR, max(IMPLIED_CLASSES_FLOOR, IMPLIED_CLASSES_FACTOR * distinct)))
        return found


class FolderImageDataset(Dataset):
    """Images in class sub-folders of ``root`` (``root/CLASS/*.jpg``); labels follow the sorted folder names.

    ``classes`` fixes the folder list (a validation set using the training set's classes; a class may then be
    absent). A class folder without images is a ``ValueError`` naming it.
    """

    def __init__(self, root, classes=None):
        self.root = root
        found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.classes = list(classes) if classes is not None else found
        unknown = sorted(set(found) - set(self.classes))
        if unknown:
            raise ValueError("image folder %s has class folders the training set lacks: %s"
                             % (root, ", ".join(unknown)))
        self.items, empty = [], []
        for label, name in enumerate(self.classes):
            folder = os.path.join(root, name)
            if not os.path.isdir(folder):
                continue
            files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
            if not files:
                empty.append(folder)
            self.items.extend((os.path.join(folder, f), float(label)) for f in files)
        if not found:
            raise ValueError("image folder %s holds no class sub-folders" % root)
        if empty:
            raise ValueError("class folder(s) without images (%s): %s" % ("/".join(IMAGE_EXTENSIONS),
                                                                           ", ".join(empty)))

    def __len__(self):
        return len(self.items)

    def encoded(self, index):
        """``(encoded image bytes, label, source)`` of sample ``index``, without decoding."""
        path, label = self.items[index]
        source = "%s (sample %d)" % (path, index)
        try:
            with open(path, "rb") as handle:
                return handle.read(), label, source
        except OSError as err:
            raise UnreadableSample("%s: %s" % (source, err)) from None

    def __getitem__(self, index):
        data, label, source = self.encoded(index)
        return decode_sample(data, source), label


def _size_or_error(path):
    """``path``'s size in bytes, or the name of the error that stats it (a dangling symlink, a symlink loop: the
    sample is skipped when it is read, and the fingerprint still records it)."""
    try:
        return "%d" % os.path.getsize(path)
    except OSError as err:
        return errno.errorcode.get(err.errno, "OSError")


def dataset_fingerprint(dataset):
    """A short hex digest of what a dataset holds, independent of where it lies: a RecordIO file's index and
    size, or a folder tree's class names, file names and sizes; ``None`` for other datasets."""
    digest = hashlib.sha1()
    if isinstance(dataset, RecordImageDataset):
        with open(dataset.idx_path, "rb") as handle:
            digest.update(handle.read())
        digest.update(b"%d" % os.path.getsize(dataset.path))
    elif isinstance(dataset, FolderImageDataset):
        for path, label in dataset.items:
            digest.update(("%s/%s %g %s\n" % (os.path.basename(os.path.dirname(path)), os.path.basename(path), label,
                                               _size_or_error(path))).encode())
    else:
        return None
    return digest.hexdigest()[:16]


def open_image_dataset(path, classes=None):
    """A dataset from a ``.rec`` file (with its ``.idx``) or a class-per-folder tree (``classes``: folder list)."""
    if path.endswith(".rec"):
        idx = path[:-4] + ".idx"
        for needed in (path, idx):
            if not os.path.isfile(needed):
                raise FileNotFoundError("RecordIO dataset needs %s and %s; %s is missing" % (path, idx, needed))
        return RecordImageDataset(path)
    if os.path.isdir(path):
        return FolderImageDataset(path, classes)
    raise FileNotFoundError("dataset %s is neither a .rec file nor an image folder" % path)


def write_recordio(prefix, samples, quality=95):
    """Write ``(HWC uint8 numpy image, int label)`` samples to ``prefix.rec``/``prefix.idx``, published together
    (:class:`~gluon_resnest.utils.publish.StagedFiles`, the ``.rec`` last); returns the number written."""
    count = 0
    with StagedFiles(prefix) as stage:
        record = mx.recordio.MXIndexedRecordIO(stage.prefix + ".idx", stage.prefix + ".rec", "w")
        try:
            for count, (img, label) in enumerate(samples, start=1):
                header = mx.recordio.IRHeader(0, float(label), count - 1, 0)
                record.write_idx(count - 1, mx.recordio.pack_img(header, img[:, :, ::-1], quality=quality,
                                                                img_fmt=".jpg"))
        finally:
            record.close()
        stage.publish(os.path.basename(prefix) + ".rec", [prefix + ".idx", prefix + ".rec"], force=True)
    return count
