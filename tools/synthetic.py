"""Generated photo-like images for tests and input-pipeline benchmarks: smooth random color fields with grain,
so their JPEG size and decode cost resemble ImageNet photos (500x375, roughly 100 KB at quality 90)."""
import cv2
import numpy as np

__all__ = ["photo_like", "photo_like_samples"]


def photo_like(rng, height=375, width=500, grain=10):
    """One ``(height, width, 3)`` uint8 RGB image: a bicubic-upsampled coarse random field plus Gaussian grain."""
    coarse = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3)).astype(np.uint8)
    img = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    img += rng.normal(0, grain, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def photo_like_samples(count, classes=10, seed=0, height=375, width=500):
    """``count`` ``(image, label)`` pairs with labels ``i % classes``; a pure function of the arguments."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        yield photo_like(rng, height, width), i % classes
