"""AutoAugment with the ImageNet policy (Cubuk et al. 2019), implemented on NumPy and MXNet ops.

``AutoAugment()(img, rng)`` takes an HWC uint8 image (``mx.nd.NDArray`` or numpy) and a ``numpy.random.Generator``
and returns an HWC uint8 image of the same shape and type: one of the 25 sub-policies is drawn, and each of its two
operations is applied with its probability. Magnitudes use the paper's 0-10 scale.
"""
import math

import mxnet as mx
import numpy as np

__all__ = ["AutoAugment", "IMAGENET_POLICY", "OPERATIONS"]

IMAGENET_POLICY = (
    (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)), (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Equalize", 0.4, 4), ("Rotate", 0.8, 8)),
    (("Solarize", 0.6, 3), ("Equalize", 0.6, 7)), (("Posterize", 0.8, 5), ("Equalize", 1.0, 2)),
    (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)), (("Equalize", 0.6, 8), ("Posterize", 0.4, 6)),
    (("Rotate", 0.8, 8), ("Color", 0.4, 0)), (("Rotate", 0.4, 9), ("Equalize", 0.6, 2)),
    (("Equalize", 0.0, 7), ("Equalize", 0.8, 8)), (("Invert", 0.6, 4), ("Equalize", 1.0, 8)),
    (("Color", 0.6, 4), ("Contrast", 1.0, 8)), (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
    (("Color", 0.8, 8), ("Solarize", 0.8, 7)), (("Sharpness", 0.4, 7), ("Invert", 0.6, 8)),
    (("ShearX", 0.6, 5), ("Equalize", 1.0, 9)), (("Color", 0.4, 0), ("Equalize", 0.6, 3)),
    (("Equalize", 0.4, 7), ("Solarize", 0.2, 4)), (("Solarize", 0.6, 5), ("AutoContrast", 0.6, 5)),
    (("Invert", 0.6, 4), ("Equalize", 1.0, 8)), (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
    (("Equalize", 0.8, 8), ("Equalize", 0.6, 3)),
)

_GRAY = np.array([0.299, 0.587, 0.114], np.float32)
_FILL = 128


def _affine(img, matrix):
    """Warp HWC uint8 numpy ``img`` by a 2x3 ``matrix`` in normalized [-1, 1] coordinates (output -> input)."""
    chw = mx.nd.array(img.transpose(2, 0, 1)[None], dtype="float32")
    grid = mx.nd.GridGenerator(mx.nd.array(np.asarray(matrix, np.float32).reshape(1, 6)), transform_type="affine",
                               target_shape=img.shape[:2])
    valid = mx.nd.BilinearSampler(mx.nd.ones_like(chw[:, :1]), grid)
    warped = mx.nd.BilinearSampler(chw, grid) + (1 - valid) * _FILL
    return np.clip(warped[0].asnumpy().transpose(1, 2, 0) + 0.5, 0, 255).astype(np.uint8)


def _blend(img, other, factor):
    return np.clip(other + factor * (img.astype(np.float32) - other), 0, 255).astype(np.uint8)


def _signed(value, rng):
    return value if rng.random() < 0.5 else -value


def _rotate(img, m, rng):
    theta = math.radians(_signed(30.0 * m / 10, rng))
    height, width = img.shape[:2]
    aspect = width / float(height)
    return _affine(img, [math.cos(theta), -math.sin(theta) / aspect, 0,
                         math.sin(theta) * aspect, math.cos(theta), 0])


def _shear_x(img, m, rng):
    height, width = img.shape[:2]
    return _affine(img, [1, _signed(0.3 * m / 10, rng) * height / width, 0, 0, 1, 0])


def _posterize(img, m, rng):
    bits = int(8 - round(4 * m / 10))
    return img & np.uint8((0xFF << (8 - bits)) & 0xFF)


def _solarize(img, m, rng):
    threshold = 256 - 256 * m / 10
    return np.where(img >= threshold, 255 - img, img).astype(np.uint8)


def _auto_contrast(img, m, rng):
    low = img.min(axis=(0, 1), keepdims=True).astype(np.float32)
    high = img.max(axis=(0, 1), keepdims=True).astype(np.float32)
    scale = np.where(high > low, 255.0 / np.maximum(high - low, 1), 1.0)
    offset = np.where(high > low, low, 0.0)
    return np.clip((img - offset) * scale, 0, 255).astype(np.uint8)


def _equalize(img, m, rng):
    out = np.empty_like(img)
    for c in range(img.shape[2]):
        channel = img[..., c]
        hist = np.bincount(channel.ravel(), minlength=256)
        nonzero = hist[hist > 0]
        step = (nonzero.sum() - nonzero[-1]) // 255 if len(nonzero) else 0
        if step == 0:
            out[..., c] = channel
            continue
        lut = np.clip((np.cumsum(hist) - hist + step // 2) // step, 0, 255).astype(np.uint8)
        out[..., c] = lut[channel]
    return out


def _invert(img, m, rng):
    return 255 - img


def _color(img, m, rng):
    gray = (img.astype(np.float32) @ _GRAY)[..., None]
    return _blend(img, gray, 1.0 + _signed(0.9 * m / 10, rng))


def _contrast(img, m, rng):
    mean = (img.astype(np.float32) @ _GRAY).mean()
    return _blend(img, mean, 1.0 + _signed(0.9 * m / 10, rng))


def _sharpness(img, m, rng):
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0
    data = mx.nd.array(img.transpose(2, 0, 1)[:, None].astype(np.float32))
    smooth = mx.nd.Convolution(data, mx.nd.array(kernel[None, None]), kernel=(3, 3), pad=(1, 1), num_filter=1,
                               no_bias=True)
    smooth = smooth[:, 0].asnumpy().transpose(1, 2, 0)
    smooth[0, :], smooth[-1, :], smooth[:, 0], smooth[:, -1] = img[0, :], img[-1, :], img[:, 0], img[:, -1]
    return _blend(img, smooth, 1.0 + _signed(0.9 * m / 10, rng))


OPERATIONS = {"Rotate": _rotate, "ShearX": _shear_x, "Posterize": _posterize, "Solarize": _solarize,
              "AutoContrast": _auto_contrast, "Equalize": _equalize, "Invert": _invert, "Color": _color,
              "Contrast": _contrast, "Sharpness": _sharpness}


class AutoAugment:
    """Apply one randomly drawn sub-policy of ``policy`` (default: the ImageNet policy)."""

    def __init__(self, policy=IMAGENET_POLICY):
        unknown = {op for sub in policy for op, _, _ in sub} - set(OPERATIONS)
        if unknown:
            raise ValueError("unknown AutoAugment operations: %s" % ", ".join(sorted(unknown)))
        self.policy = policy

    def __call__(self, img, rng):
        is_nd = isinstance(img, mx.nd.NDArray)
        data = img.asnumpy() if is_nd else np.asarray(img)
        for op, prob, magnitude in self.policy[int(rng.integers(len(self.policy)))]:
            if rng.random() < prob:
                data = OPERATIONS[op](data, magnitude, rng)
        return mx.nd.array(data, dtype="uint8") if is_nd else data
