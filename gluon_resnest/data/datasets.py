"""Image datasets: RecordIO (``.rec/.idx``) files and class-per-folder trees, and writing RecordIO files."""
import os

import mxnet as mx
from mxnet.gluon.data.vision import ImageFolderDataset, ImageRecordDataset

from ..utils.publish import StagedFiles

__all__ = ["open_image_dataset", "write_recordio"]


def open_image_dataset(path):
    """An ``(HWC uint8 image, label)`` dataset from a ``.rec`` file (with its ``.idx``) or a class-per-folder tree."""
    if path.endswith(".rec"):
        idx = path[:-4] + ".idx"
        for needed in (path, idx):
            if not os.path.isfile(needed):
                raise FileNotFoundError("RecordIO dataset needs %s and %s; %s is missing" % (path, idx, needed))
        return ImageRecordDataset(path)
    if os.path.isdir(path):
        dataset = ImageFolderDataset(path)
        if len(dataset) == 0:
            raise ValueError("image folder %s holds no images in class sub-folders" % path)
        return dataset
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
