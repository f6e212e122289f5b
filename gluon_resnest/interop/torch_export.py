"""Gluon -> PyTorch: our parameter files as the state dicts of timm's and the official ``resnest`` package's ResNeSt
models, in a folder that also carries the class names and the evaluation data config. No torch is needed: the
weights are written with ``safetensors``' numpy API.

:func:`convert_to_torch` reads a parameter file (either key scheme, any classifier width), checks it strictly
against the variant (a mismatch names the arrays), renames the arrays (:mod:`.torch_names`; nothing is reshaped or
cast, so the values are the file's bit for bit) and publishes two files together
(:class:`~gluon_resnest.utils.publish.StagedFiles`; ``config.json`` last):

* ``model.safetensors``: the PyTorch state dict (batch norms with ``num_batches_tracked`` = 0);
* ``config.json``: for target ``timm``, timm's own folder layout (``architecture``, ``num_classes``,
  ``num_features``, ``global_pool``, ``label_names`` and ``label_descriptions``, and ``pretrained_cfg`` with the
  data config), so ``timm.create_model("local-dir:OUT", pretrained=True)`` builds and loads it; for target
  ``official``, the same data config and names plus ``model_args``, the keyword arguments of the package's
  ``resnest.torch.resnet.ResNet`` (with its ``Bottleneck``) that build the network, and ``factory``, the
  package's own function for the variant where it has one.

timm has 8 of the 13 variants (the catalogue's ``timm`` names); the official package's ``ResNet`` builds all 13.
"""
import dataclasses
import errno
import os
import stat

import numpy as np

from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from ..models import store
from ..models.catalogue import CATALOGUE
from ..models.factory import get_model, model_data_config, model_record
from ..models.params import (ParamsMismatchError, check_params, classifier_size, nonfinite_names, read_params,
                             structural_arrays)
from ..utils.errors import OptionError
from ..utils.fileio import atomic_write, write_error
from ..utils.options import option
from ..utils.publish import StagedFiles
from .torch_names import batch_counter_names, gluon_to_torch_names

__all__ = ["ToTorchOptions", "TARGETS", "WEIGHTS_FILE", "CONFIG_FILE", "convert_to_torch", "read_our_weights",
           "torch_state_dict", "target_name", "timm_config", "official_config", "read_class_names"]

#: The PyTorch implementations written for.
TARGETS = ("timm", "official")
#: The files of a converted folder.
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".safetensors")
#: The interpolations of ours that timm's data config has, by the same names (timm has no "area").
_TIMM_INTERPOLATIONS = ("nearest", "bilinear", "bicubic")


@dataclasses.dataclass(frozen=True)
class ToTorchOptions:
    """Options of a conversion to PyTorch (``scripts/convert.py to-torch``)."""
    target: str = option("timm", "PyTorch models to write for: timm (a folder timm.create_model loads) or official "
                                 "(the resnest package's models)", choices=TARGETS)
    model: str = option("", "variant of the weights; none: the training run's", choices=tuple(CATALOGUE))
    class_names: str = option("", "text file with the class names, one per line in classifier order; none: the "
                                  "training run's class folders, ImageNet's for the published weights")
    input_size: int = option(0, "evaluation input size written to the data config; 0: the training run's, else "
                                "the variant's")
    crop_pct: float = option(0.0, "evaluation center-crop fraction written to the data config; 0: the training "
                                  "run's, else the variant's")


def target_name(name, target):
    """The network of variant ``name`` in ``target``: timm's model name, or for ``official`` the package's factory
    (``module:function``, ``None`` where the package has none and its ``ResNet`` class builds the variant).
    :class:`~gluon_resnest.utils.errors.OptionError` when timm lacks the variant."""
    rec = model_record(name)
    if target not in TARGETS:
        raise OptionError("{target} must be one of %s, got %r" % (", ".join(TARGETS), target))
    if target == "official":
        return rec.official
    if rec.timm is None:
        having = ", ".join("%s (%s)" % (r.name, r.timm) for r in CATALOGUE.values() if r.timm)
        raise OptionError("timm has no model of %s (it has %s); convert it with {target} official"
                          % (rec.name, having))
    return rec.timm


def read_class_names(path):
    """The class names in the text file ``path``, one per line (surrounding blanks and empty lines ignored)."""
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle]
    return [name for name in names if name]


def read_our_weights(weights, name, root=None):
    """``(source, {structural key: numpy array}, from_store)`` of our parameter file ``weights`` (a path, or
    ``True`` for the published weights of ``name``, read through the store with its sha1 check), checked strictly
    against variant ``name`` with the file's classifier width.

    ``ParamsMismatchError`` (a ``ValueError``) for a file that is not an MXNet parameter file or does not fit the
    variant, naming the arrays; ``ValueError`` naming the arrays that hold NaN or inf.
    """
    rec = model_record(name)
    if weights is True:
        source, data = store.read_model_file(rec.name, root=root)
    else:
        source, data = os.fspath(weights), None
        if os.path.isdir(source):
            raise IsADirectoryError("weights %s is a directory, not a .params file" % source)
        if not os.path.isfile(source):
            raise FileNotFoundError("weights file %s does not exist" % source)
    try:
        arrays = read_params(source, data)
    except ParamsMismatchError:
        if source.endswith(_TORCH_SUFFIXES):
            raise ParamsMismatchError("%s is a PyTorch checkpoint, not our parameter file; it converts the other way "
                                      "(convert.py from-torch)" % source) from None
        raise
    net = get_model(rec.name, classes=classifier_size(arrays) or IMAGENET1K_CLASSES)
    check_params(net, arrays, source, rec.name)
    bad = nonfinite_names(arrays)
    if bad:
        raise ValueError("%s holds NaN or inf in %d arrays (e.g. %s); refusing to convert it"
                         % (source, len(bad), ", ".join(bad[:3])))
    return source, {key: value.asnumpy() for key, value in structural_arrays(net, arrays).items()}, data is not None


def torch_state_dict(arrays):
    """The PyTorch state dict ``{key: numpy array}`` of our structural ``arrays`` (the same values, renamed),
    with a ``num_batches_tracked`` of 0 (int64) for each batch norm."""
    names = gluon_to_torch_names(arrays)
    state = {names[key]: np.ascontiguousarray(value) for key, value in arrays.items()}
    for key in batch_counter_names(state):
        state[key] = np.zeros((), dtype=np.int64)
    return state


def _data_fields(data_config, num_classes):
    """A data config as timm's ``pretrained_cfg`` fields. Both of our crop modes are timm's ``center`` geometry:
    the central ``crop_pct`` of the short side, at ``input_size`` (pixel rounding aside)."""
    if data_config.interpolation not in _TIMM_INTERPOLATIONS:
        raise ValueError("interpolation %r has no timm equivalent; use one of %s"
                         % (data_config.interpolation, ", ".join(_TIMM_INTERPOLATIONS)))
    size = data_config.input_size
    return {"input_size": [3, size, size], "crop_pct": data_config.crop_pct, "crop_mode": "center",
            "interpolation": data_config.interpolation, "mean": list(data_config.mean),
            "std": list(data_config.std), "num_classes": num_classes}


def _labels(names, descriptions):
    out = {}
    if names:
        out["label_names"] = list(names)
    if descriptions:
        out["label_descriptions"] = dict(descriptions)
    return out


def timm_config(name, num_classes, num_features, data_config, label_names=None, label_descriptions=None):
    """timm's ``config.json`` of a converted variant ``name``."""
    cfg = {"architecture": target_name(name, "timm"), "num_classes": num_classes, "num_features": num_features,
           "global_pool": "avg"}
    cfg.update(_labels(label_names, label_descriptions))
    cfg["pretrained_cfg"] = dict(_data_fields(data_config, num_classes), first_conv="conv1.0", classifier="fc")
    return cfg


def official_config(name, num_classes, data_config, label_names=None, label_descriptions=None):
    """The ``config.json`` of a variant ``name`` converted for the official package: ``model_args`` build it as
    ``resnest.torch.resnet.ResNet(Bottleneck, **model_args)``. Every variant has the deep stem, average-pool
    downsampling and the strided average pool in the block (``avd``)."""
    arch = model_record(name).arch
    model_args = {"layers": list(arch.layers), "radix": arch.radix, "groups": arch.cardinality,
                  "bottleneck_width": arch.bottleneck_width, "deep_stem": True, "stem_width": arch.stem_width,
                  "avg_down": True, "avd": True, "avd_first": arch.avd_first, "num_classes": num_classes}
    cfg = {"architecture": model_record(name).name, "factory": target_name(name, "official"),
           "model_args": model_args, "num_classes": num_classes}
    cfg.update(_labels(label_names, label_descriptions))
    cfg["pretrained_cfg"] = _data_fields(data_config, num_classes)
    return cfg


def _write_folder(out_dir, state, config):
    """Publish ``state`` as ``out_dir/model.safetensors`` and ``config`` as ``out_dir/config.json``, together.
    safetensors writes its file with mode 0600; it gets the mode of the config file (a plain ``open()``'s)."""
    from safetensors import SafetensorError
    from safetensors.numpy import save_file

    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise NotADirectoryError("output %s is a file; give a folder to write %s and %s into"
                                 % (out_dir, WEIGHTS_FILE, CONFIG_FILE))
    with StagedFiles(os.path.join(out_dir, os.path.splitext(WEIGHTS_FILE)[0])) as staged:
        folder = os.path.dirname(staged.prefix)
        config_path, weights_path = os.path.join(folder, CONFIG_FILE), os.path.join(folder, WEIGHTS_FILE)
        atomic_write(config_path, config)
        try:
            save_file(state, weights_path, metadata={"format": "pt"})
        except (OSError, SafetensorError) as err:
            reason = err if isinstance(err, OSError) else OSError(errno.EIO, str(err))
            raise write_error(os.path.join(out_dir, WEIGHTS_FILE), reason) from None
        os.chmod(weights_path, stat.S_IMODE(os.stat(config_path).st_mode))
        return staged.publish(CONFIG_FILE)


def _class_labels(class_names, num_classes, from_store):
    """``(label_names, label_descriptions)``: the given names, or ImageNet's synsets with their descriptions for
    the store's 1000-class weights."""
    if class_names is None:
        if from_store and num_classes == IMAGENET1K_CLASSES:
            names = imagenet1k_names()
            return names["synset"], dict(zip(names["synset"], names["classes_long"]))
        return None, None
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError("%d class names for a classifier of %d classes" % (len(names), num_classes))
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError("class names repeat: %s" % ", ".join(twice[:5]))
    return names, None


def convert_to_torch(weights, out_dir, name, target="timm", data_config=None, class_names=None, root=None):
    """Write our weights of variant ``name`` as a folder ``out_dir`` for the PyTorch ``target`` (see the module
    docstring); returns a report ``{target, model, architecture, num_classes, source, files, data_config}``
    (``architecture``: timm's name, the official factory, or ``"ResNet"`` where the package has none).

    ``weights``: a ``.params`` path (structural or prefixed keys, any classifier width) or ``True`` for the
    published weights (from the store in ``root``). ``data_config``: the
    :class:`~gluon_resnest.data.config.DataConfig` recorded (default: the variant's evaluation config).
    ``class_names``: the names in classifier order (default: none, or ImageNet's for the published 1000-class
    weights). Nothing is written when the target lacks the variant or the weights do not fit it.
    """
    architecture = target_name(name, target)
    source, arrays, from_store = read_our_weights(weights, name, root)
    fc = arrays["fc.weight"]
    num_classes, num_features = int(fc.shape[0]), int(fc.shape[1])
    data_config = data_config or model_data_config(name)
    labels = _class_labels(class_names, num_classes, from_store)
    if target == "timm":
        config = timm_config(name, num_classes, num_features, data_config, *labels)
    else:
        config = official_config(name, num_classes, data_config, *labels)
    files = _write_folder(out_dir, torch_state_dict(arrays), config)
    return {"target": target, "model": model_record(name).name, "architecture": architecture or "ResNet",
            "num_classes": num_classes, "source": source, "files": files, "data_config": data_config.as_dict()}
