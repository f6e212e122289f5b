"""An embedded toy dataset: procedurally drawn shapes in colors, 10 classes, written as RecordIO.

Class = (shape, color) pair: 5 shapes (disc, square, triangle, ring, cross) x 2 color families (warm, cool).
Positions, sizes, exact hues, backgrounds and noise vary per image; the set is a pure function of the seed.
"""
import os

import numpy as np

from .datasets import write_recordio

__all__ = ["CLASSES", "draw_sample", "generate", "ensure_toy_dataset"]

SHAPES = ("disc", "square", "triangle", "ring", "cross")
CLASSES = tuple("%s-%s" % (color, shape) for color in ("warm", "cool") for shape in SHAPES)


def _mask(shape, size, rng):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    radius = rng.uniform(0.18, 0.32) * size
    cx, cy = rng.uniform(radius, size - radius, size=2)
    dx, dy = xx - cx, yy - cy
    if shape == "disc":
        return dx ** 2 + dy ** 2 <= radius ** 2
    if shape == "square":
        return (np.abs(dx) <= radius * 0.85) & (np.abs(dy) <= radius * 0.85)
    if shape == "triangle":
        return (dy <= radius * 0.8) & (dy >= -radius) & (np.abs(dx) <= (dy + radius) * 0.6)
    if shape == "ring":
        dist = dx ** 2 + dy ** 2
        return (dist <= radius ** 2) & (dist >= (radius * 0.55) ** 2)
    return ((np.abs(dx) <= radius * 0.3) & (np.abs(dy) <= radius)) | \
        ((np.abs(dy) <= radius * 0.3) & (np.abs(dx) <= radius))


def draw_sample(label, rng, size=64):
    """One ``(size, size, 3)`` uint8 image of class ``label``."""
    warm = label < len(SHAPES)
    shape = SHAPES[label % len(SHAPES)]
    background = rng.uniform(20, 110, size=3)
    img = np.ones((size, size, 3), np.float32) * background
    img += rng.normal(0, 12, size=(size, size, 3))
    if warm:
        color = np.array([rng.uniform(190, 255), rng.uniform(40, 170), rng.uniform(0, 60)])
    else:
        color = np.array([rng.uniform(0, 60), rng.uniform(40, 170), rng.uniform(190, 255)])
    img[_mask(shape, size, rng)] = color
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(count, seed, size=64):
    """``count`` balanced ``(image, label)`` samples."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        label = i % len(CLASSES)
        yield draw_sample(label, rng, size), label


def ensure_toy_dataset(directory, train_count=2000, val_count=500, size=64, seed=0):
    """Write ``toy_train.rec/.idx`` and ``toy_val.rec/.idx`` under ``directory`` unless present; return their paths."""
    paths = {}
    for split, count, split_seed in (("train", train_count, seed), ("val", val_count, seed + 1)):
        prefix = os.path.join(directory, "toy_%s" % split)
        if not (os.path.isfile(prefix + ".rec") and os.path.isfile(prefix + ".idx")):
            write_recordio(prefix, generate(count, split_seed, size))
        paths[split] = prefix + ".rec"
    return paths["train"], paths["val"]
