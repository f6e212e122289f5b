"""Build any ResNeSt variant by name, optionally with pretrained or given weights; list and describe the models."""
import dataclasses
import inspect
import os
import re

import mxnet as mx

from ..data.config import resolve_data_config
from ..data.imagenet import IMAGENET1K_CLASSES, imagenet1k_names
from . import store
from .catalogue import CATALOGUE
from .params import classifier_size, load_params, read_params
from .resnest import ResNeSt

__all__ = ["get_model", "list_models", "model_record", "model_data_config"]

_OVERRIDES = set(inspect.signature(ResNeSt.__init__).parameters) - {"self", "kwargs", "classes"}


def model_record(name):
    """The catalogue record of ``name``; ``ValueError`` listing the valid names otherwise."""
    try:
        return CATALOGUE[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError("unknown ResNeSt model %r; valid names: %s" % (name, ", ".join(CATALOGUE))) from None


def model_data_config(name, **overrides):
    """The evaluation :class:`~gluon_resnest.data.config.DataConfig` of variant ``name``'s pretrained record with
    ``overrides`` (``input_size``, ``crop_pct``, ...; see :func:`~gluon_resnest.data.config.resolve_data_config`)."""
    return resolve_data_config(model_record(name).pretrained, **overrides)


def list_models(pattern=None, pretrained=False):
    """Names of the ResNeSt variants, optionally filtered by a regular expression and by pretrained availability."""
    names = [n for n in CATALOGUE if pattern is None or re.search(pattern, n)]
    return [n for n in names if not pretrained or CATALOGUE[n].pretrained is not None]


def _read_weights(name, pretrained, root):
    """``(source name, bytes or None)``: a file of the store (bytes already read and sha1-checked; the bytes are
    not None) or a local path."""
    if pretrained is True:
        return store.read_model_file(name, root=root)
    if isinstance(pretrained, (str, os.PathLike)):
        path = os.path.expanduser(os.fspath(pretrained))
        if os.path.isfile(path):
            return path, None
        if os.path.isdir(path):
            raise IsADirectoryError("pretrained weights %s is a directory, not a .params file" % path)
        if not store.is_sha1_tag(path):
            raise FileNotFoundError("pretrained weights file %s does not exist (nor is it a sha1 prefix of at least "
                                    "8 hex digits)" % path)
        return store.read_model_file(name, tag=path, root=root)
    raise TypeError("pretrained must be False, True, a sha1 prefix or a file path, got %r" % (pretrained,))


def get_model(name, pretrained=False, classes=None, ctx=mx.cpu(), root=None, **overrides):
    """Build the ResNeSt variant ``name``.

    The network is the record's architecture with its recipe's final dropout (``final_drop``); its DropBlock
    layers (stages 3-4) are built at rate 0, so inference graphs carry none of their ops: the recipe's rate
    (``model_record(name).recipe.dropblock_prob``) is what the trainer ramps to, or pass ``dropblock_prob=`` here.
    ``overrides`` replace any :class:`ResNeSt` argument (``dropblock_prob``, ``final_drop``, ``norm_layer``,
    ``norm_kwargs``, ``dilated``, ``dilation``, ``last_gamma``, ``return_stages``, ...).
    ``pretrained``: ``True`` loads the published weights (downloaded and sha1-checked by
    :mod:`gluon_resnest.models.store`), a string loads a local file path or the file with that sha1 prefix. The
    file is read once. ``classes`` defaults to the loaded file's classifier width (1000 without weights); a
    different value loads everything but the classifier, which is freshly initialized (fine-tuning).
    Without weights the parameters are left uninitialized, as in GluonCV (call ``initialize()``).
    Networks with the store's ImageNet weights and their 1000-class classifier carry GluonCV's name attributes:
    ``classes`` (the 1000 short names), ``synset`` and ``classes_long``; ``num_classes`` is the classifier width.
    """
    rec = model_record(name)
    unknown = sorted(set(overrides) - _OVERRIDES - {"pretrained_base", "params"})
    if unknown:
        raise TypeError("%s got unknown argument(s) %s; accepted overrides: %s"
                        % (rec.name, ", ".join(unknown), ", ".join(sorted(_OVERRIDES))))
    overrides.pop("pretrained_base", None)
    kwargs = dict(dataclasses.asdict(rec.arch), final_drop=rec.recipe.final_drop)
    kwargs.update(overrides)
    if not pretrained:
        net = ResNeSt(classes=1000 if classes is None else classes, **kwargs)
        net.model_name = rec.name
        return net
    source, data = _read_weights(rec.name, pretrained, root)
    arrays = read_params(source, data)
    file_classes = classifier_size(arrays) or 1000
    net = ResNeSt(classes=file_classes, **kwargs)
    net.model_name = rec.name
    load_params(net, arrays, source, ctx=ctx)
    if classes is not None and classes != file_classes:
        net.reset_classifier(classes, ctx=ctx)
    elif data is not None and file_classes == IMAGENET1K_CLASSES:
        names = imagenet1k_names()
        net.classes, net.synset, net.classes_long = list(names["classes"]), names["synset"], names["classes_long"]
    return net
