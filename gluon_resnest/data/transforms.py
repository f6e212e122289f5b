"""Image transforms for evaluation and training, on HWC uint8 RGB images (numpy arrays or ``mx.nd.NDArray``).

Every random transform takes an explicit ``numpy.random.Generator`` so a sample's augmentation is a pure
function of (seed, epoch, index): data loading is reproducible across workers, processes and resumed runs.
"""
import math

import cv2
import mxnet as mx
import numpy as np

from .constants import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["EvalTransform", "TrainTransform", "INTERPOLATION", "CROP_MODES"]

INTERPOLATION = {"nearest": 0, "bilinear": 1, "bicubic": 2, "area": 3}
#: ``resize_crop``: resize the short side to ``ceil(size / crop_pct)``, then center-crop ``size`` (ResNeSt's protocol
#: below 320 px); ``crop_resize``: center-crop ``crop_pct`` of the short side, then resize it to ``size`` (from 320 px).
CROP_MODES = ("resize_crop", "crop_resize")
_GRAY = np.array([0.299, 0.587, 0.114])
_EIGVAL = np.array([55.46, 4.794, 1.148], dtype=np.float32)
_EIGVEC = np.array([[-0.5675, 0.7192, 0.4009], [-0.5808, -0.0045, -0.8140], [-0.5836, -0.6948, 0.4203]],
                   dtype=np.float32)


def _normalize(img, mean, std):
    """HWC float 0..255 numpy -> CHW float32 normalized numpy."""
    img = np.asarray(img, dtype=np.float32) / 255.0
    img = (img - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def _as_numpy(img):
    return img.asnumpy() if isinstance(img, mx.nd.NDArray) else np.asarray(img)


def _as_ndarray(img):
    return img if isinstance(img, mx.nd.NDArray) else mx.nd.array(img, dtype="uint8")


def _interp(name):
    if name not in INTERPOLATION:
        raise ValueError("interpolation must be one of %s, got %r" % (", ".join(INTERPOLATION), name))
    return INTERPOLATION[name]


class EvalTransform:
    """Deterministic evaluation transform; output CHW float32 ``(3, size, size)``.

    Built from a model's :class:`~gluon_resnest.data.config.DataConfig` (its ``eval_transform()``), which checks
    the arguments; ``crop_mode`` is one of :data:`CROP_MODES`.
    """

    def __init__(self, size, crop_pct, crop_mode, interpolation, mean, std):
        self.size, self.crop_pct, self.crop_mode = size, crop_pct, crop_mode
        self.interp, self.mean, self.std = _interp(interpolation), mean, std

    def crop(self, img):
        """The resized center crop of an HWC uint8 image (numpy or NDArray), as an HWC uint8 ``(size, size, 3)``
        NDArray (no normalization)."""
        img = _as_ndarray(img)
        height, width = img.shape[:2]
        if self.crop_mode == "crop_resize":
            side = int(round(min(height, width) * self.crop_pct))
            x0, y0 = (width - side) // 2, (height - side) // 2
            return mx.image.fixed_crop(img, x0, y0, side, side, (self.size, self.size), self.interp)
        img = mx.image.resize_short(img, int(math.ceil(self.size / self.crop_pct)), self.interp)
        return mx.image.center_crop(img, (self.size, self.size), self.interp)[0]

    def __call__(self, img):
        return _normalize(self.crop(img).asnumpy(), self.mean, self.std)


class TrainTransform:
    """ImageNet training augmentation: random-resized crop, flip, color jitter, PCA lighting (optional AutoAugment).

    ``__call__(img, rng)`` with ``img`` an HWC uint8 RGB image (numpy or ``mx.nd.NDArray``) and ``rng`` a
    ``numpy.random.Generator``; output CHW float32 ``(3, size, size)``, normalized. Brightness, contrast,
    saturation (in a random order) and lighting are affine in the pixel's color, so they are composed into one 3x4
    color matrix and applied in a single pass on uint8 (saturated to 0..255), then normalized. The two halves are
    :meth:`augment` (uint8 until here) and :meth:`normalize` (which the loader runs into the batch's memory);
    :meth:`from_encoded` starts from the encoded bytes.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), jitter=0.4, lighting=0.1, auto_augment=None,
                 interpolation="bilinear", mean=IMAGENET_MEAN, std=IMAGENET_STD):
        self.size, self.scale, self.ratio = size, scale, ratio
        self.jitter, self.lighting, self.auto_augment = jitter, lighting, auto_augment
        self.interp, self.mean, self.std = _interp(interpolation), mean, std
        self._scale = 1.0 / (255.0 * np.asarray(std, np.float64))
        self._shift = -np.asarray(mean, np.float64) / np.asarray(std, np.float64)

    def _crop_box(self, height, width, rng):
        area = height * width
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            w = int(round(math.sqrt(target * aspect)))
            h = int(round(math.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
        side = min(height, width)
        return (width - side) // 2, (height - side) // 2, side, side

    def _color_matrix(self, img, rng, bgr=False):
        """``(M (3, 3), c (3,))`` with ``pixel @ M + c`` = jitter then lighting of an RGB row-vector pixel
        (``img``, RGB or with ``bgr`` BGR, gives the mean color for contrast)."""
        matrix, offset = np.eye(3), np.zeros(3)
        if self.jitter > 0:
            mean_pixel = None
            for op in rng.permutation(3):
                alpha = 1.0 + rng.uniform(-self.jitter, self.jitter)
                if op == 0:
                    matrix, offset = matrix * alpha, offset * alpha
                elif op == 1:
                    if mean_pixel is None:
                        mean_pixel = np.array(cv2.mean(img)[2::-1] if bgr else cv2.mean(img)[:3])
                    gray = float((mean_pixel @ matrix + offset) @ _GRAY)
                    matrix, offset = matrix * alpha, offset * alpha + gray * (1 - alpha)
                else:
                    mix = alpha * np.eye(3) + (1 - alpha) * np.outer(_GRAY, np.ones(3))
                    matrix, offset = matrix @ mix, offset @ mix
        if self.lighting > 0:
            alpha = rng.normal(0, self.lighting, size=3).astype(np.float32)
            offset = offset + _EIGVEC @ (alpha * _EIGVAL)
        return matrix, offset

    def __call__(self, img, rng):
        return self.normalize(self.augment(img, rng))

    def augment(self, img, rng):
        """The augmented HWC uint8 RGB ``(size, size, 3)`` image, before normalization: colors are saturated and
        rounded to uint8 after jitter and lighting, as ``mx.io.ImageRecordIter``'s augmenter does."""
        img = _as_numpy(img)
        return self._augment_crop(img, self._crop_box(img.shape[0], img.shape[1], rng), rng, bgr=False)

    def from_encoded(self, data, source, rng):
        """:meth:`augment` of encoded image bytes (``source`` names them in errors): the same output, without the
        full-size color conversion (the image is decoded as BGR and the channel order is folded into the color
        matrix). Raises :class:`~gluon_resnest.data.datasets.UnreadableSample`."""
        from .datasets import decode_sample

        img = decode_sample(data, source, bgr=True)
        return self._augment_crop(img, self._crop_box(img.shape[0], img.shape[1], rng), rng, bgr=True)

    def _augment_crop(self, img, box, rng, bgr):
        """Resize ``box`` of ``img`` (RGB, or BGR with ``bgr``), flip, AutoAugment, color: HWC uint8 RGB."""
        x0, y0, w, h = box
        img = cv2.resize(img[y0:y0 + h, x0:x0 + w], (self.size, self.size), interpolation=self.interp)
        if bgr and self.auto_augment is not None:
            img, bgr = cv2.cvtColor(img, cv2.COLOR_BGR2RGB), False
        if rng.random() < 0.5:
            img = cv2.flip(img, 1)
        if self.auto_augment is not None:
            img = self.auto_augment(img, rng)
        matrix, offset = self._color_matrix(img, rng, bgr)
        transform = np.concatenate([matrix.T, offset[:, None]], 1).astype(np.float32)
        # a BGR input is read in reverse channel order: the output is RGB either way
        return cv2.transform(img, transform[:, [2, 1, 0, 3]] if bgr else transform)

    def normalize(self, img, out=None):
        """HWC uint8 RGB -> normalized CHW float32, written into ``out`` (a C-contiguous ``(3, H, W)`` float32
        array, e.g. a slice of the batch) when given; returns it."""
        if out is None:
            out = np.empty((3,) + img.shape[:2], np.float32)
        for channel, plane in enumerate(cv2.split(img)):
            cv2.addWeighted(plane, float(self._scale[channel]), plane, 0.0, float(self._shift[channel]),
                            dst=out[channel], dtype=cv2.CV_32F)
        return out

