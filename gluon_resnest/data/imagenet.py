"""ImageNet-1k class names, shipped as package data (``imagenet1k_classes.json``, the order of the published
classifiers' outputs): ``synset`` (WordNet ids), ``classes`` (short names) and ``classes_long`` (all synonyms)."""
import functools
import json
import os

__all__ = ["imagenet1k_names", "IMAGENET1K_CLASSES"]

IMAGENET1K_CLASSES = 1000
_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "imagenet1k_classes.json")


@functools.lru_cache(maxsize=None)
def imagenet1k_names():
    """``{"synset": [...], "classes": [...], "classes_long": [...]}``, 1000 strings each."""
    with open(_PATH, encoding="utf-8") as handle:
        names = json.load(handle)
    if any(len(names[key]) != IMAGENET1K_CLASSES for key in ("synset", "classes", "classes_long")):
        raise ValueError("%s is damaged: expected %d names per list" % (_PATH, IMAGENET1K_CLASSES))
    return names
