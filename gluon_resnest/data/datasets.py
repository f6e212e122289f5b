"""Image datasets: RecordIO (``.rec/.idx``) files and class-per-folder trees, and writing RecordIO files."""
import os
import tempfile

import mxnet as mx
from mxnet.gluon.data.vision import ImageFolderDataset, ImageRecordDataset

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
    """Write ``(HWC uint8 numpy image, int label)`` samples to ``prefix.rec``/``prefix.idx`` atomically."""
    directory = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(directory, exist_ok=True)
    staging = tempfile.mkdtemp(dir=directory, prefix=".recordio-")
    tmp_idx, tmp_rec = os.path.join(staging, "data.idx"), os.path.join(staging, "data.rec")
    record = mx.recordio.MXIndexedRecordIO(tmp_idx, tmp_rec, "w")
    count = 0
    try:
        for count, (img, label) in enumerate(samples, start=1):
            header = mx.recordio.IRHeader(0, float(label), count - 1, 0)
            record.write_idx(count - 1, mx.recordio.pack_img(header, img[:, :, ::-1], quality=quality,
                                                            img_fmt=".jpg"))
        record.close()
        os.replace(tmp_idx, prefix + ".idx")
        os.replace(tmp_rec, prefix + ".rec")
    finally:
        for path in (tmp_idx, tmp_rec):
            if os.path.exists(path):
                os.remove(path)
        os.rmdir(staging)
    return count
