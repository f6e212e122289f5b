"""Build any ResNeSt variant by name, optionally with pretrained weights; list the available models."""
import inspect
import os
import re

import mxnet as mx

from . import model_store
from .params_check import classifier_size
from .resnest import ResNeSt
from .variants import ARCH_FIELDS, IMAGENET_MEAN, IMAGENET_STD, VARIANTS, variant

__all__ = ["get_model", "list_models", "model_info"]

_OVERRIDES = (set(inspect.signature(ResNeSt.__init__).parameters) | set(ARCH_FIELDS)) - {"self", "kwargs", "classes"}


def model_info(name):
    """The variant-table row of ``name`` as a dict: architecture, eval transform (size, crop_pct, interpolation,
    mean, std), published top-1/top-5, parameters, GMACs and the sha1 of the published file."""
    row = variant(name)._asdict()
    row.update(name=name.lower(), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    row["sha1"] = model_store.SHA1.get(name.lower())
    return row


def list_models(pattern=None, pretrained=False):
    """Names of the ResNeSt variants, optionally filtered by a regular expression and by pretrained availability."""
    names = [n for n in VARIANTS if pattern is None or re.search(pattern, n)]
    return [n for n in names if not pretrained or n in model_store.SHA1]


def _resolve_pretrained(name, pretrained, root):
    if pretrained is True:
        return model_store.get_model_file(name, root=root)
    if isinstance(pretrained, (str, os.PathLike)):
        path = os.path.expanduser(os.fspath(pretrained))
        if os.path.isfile(path):
            return path
        return model_store.get_model_file(name, tag=path, root=root)
    raise TypeError("pretrained must be False, True, a sha1 prefix or a file path, got %r" % (pretrained,))


def get_model(name, pretrained=False, classes=None, ctx=mx.cpu(), root=None, **overrides):
    """Build the ResNeSt variant ``name``.

    ``overrides`` replace any table column or :class:`ResNeSt` argument (``dropblock_prob``, ``final_drop``,
    ``norm_layer``, ``norm_kwargs``, ``dilated``, ``dilation``, ``last_gamma``, ``return_stages``, ...).
    DropBlock layers are built in stages 3-4 at rate 0, so inference graphs carry none of their ops; the recipe's
    rate (table column ``dropblock_prob``) is what the trainer ramps to, or pass ``dropblock_prob=`` here.
    ``pretrained``: ``True`` loads the published weights (downloaded and sha1-checked by
    :func:`gluon_resnest.model_store.get_model_file`), a string loads a local file path or the file with that sha1
    prefix. ``classes`` defaults to the loaded file's classifier width (1000 without weights); a different value
    loads everything but the classifier, which is freshly initialized (fine-tuning).
    Without pretrained weights the parameters are left uninitialized, as in GluonCV (call ``initialize()``).
    """
    row = variant(name)
    name = name.lower()
    unknown = sorted(set(overrides) - _OVERRIDES - {"pretrained_base", "params"})
    if unknown:
        raise TypeError("%s got unknown argument(s) %s; accepted overrides: %s"
                        % (name, ", ".join(unknown), ", ".join(sorted(_OVERRIDES))))
    overrides.pop("pretrained_base", None)
    kwargs = {field: getattr(row, field) for field in ARCH_FIELDS}
    kwargs["dropblock_prob"] = 0.0
    kwargs.update(overrides)
    if not pretrained:
        net = ResNeSt(classes=1000 if classes is None else classes, **kwargs)
        net.model_name = name
    else:
        path = _resolve_pretrained(name, pretrained, root)
        file_classes = classifier_size(path) or 1000
        net = ResNeSt(classes=file_classes, **kwargs)
        net.model_name = name
        net.load_parameters(path, ctx=ctx)
        if classes is not None and classes != file_classes:
            net.reset_classifier(classes, ctx=ctx)
    return net
