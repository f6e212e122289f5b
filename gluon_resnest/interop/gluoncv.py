"""GluonCV integration: our ResNeSt behind GluonCV's names, builders and DropBlock tools.

:func:`install` (run by ``import gluon_resnest`` unless ``GLUON_RESNEST_GLUONCV=0`` is set) acts on GluonCV's
modules in memory, at once for those already imported and through an import hook for those imported later; nothing
on disk is changed and gluoncv is not imported by it:

* ``gluoncv.model_zoo.resnest``: its ``resnest14`` ... ``resnest269`` factories become ours (GluonCV's keywords and
  default DropBlock rates), so ``gluoncv.model_zoo.get_model``, ``gluoncv.model_zoo.resnest50`` and the detection
  and segmentation builders that import them (``faster_rcnn_fpn_syncbn_resnest*``, ``deeplab_resnest*``) build
  ours; the seven fast variants are added to ``get_model``'s registry. Every module already holding GluonCV's
  factories (``from .resnest import resnest50``) gets ours.
* ``gluoncv.nn.dropblock.set_drop_prob`` (used by ``DropBlockScheduler``) also sets the rate of our DropBlock.
* ``gluoncv.check``: torch >= 2 installed next to gluoncv 0.10.5 counts as "no PyTorch" instead of failing
  ``import gluoncv``.

GluonCV's own factories stay reachable through :func:`gluoncv_original` (for comparisons). :func:`uninstall`
puts everything back.
"""
import functools
import importlib
import importlib.abc
import os
import sys

__all__ = ["import_gluoncv", "install", "uninstall", "installed", "gluoncv_original", "gluoncv_factory",
           "GLUONCV_NAMES", "DISABLE_ENV"]

#: Setting this environment variable to 0 before ``import gluon_resnest`` leaves GluonCV untouched.
DISABLE_ENV = "GLUON_RESNEST_GLUONCV"
#: The ResNeSt factories GluonCV defines in ``gluoncv.model_zoo.resnest``.
GLUONCV_NAMES = ("resnest14", "resnest26", "resnest50", "resnest101", "resnest200", "resnest269")

_RESNEST_MODULE = "gluoncv.model_zoo.resnest"
_ZOO_MODULE = "gluoncv.model_zoo.model_zoo"
_DROPBLOCK_MODULE = "gluoncv.nn.dropblock"
_CHECK_MODULE = "gluoncv.check"

_PATCHED_ATTRS = GLUONCV_NAMES + ("set_drop_prob", "_require_pytorch_version")
_state = {"installed": False}


def gluoncv_factory(name):
    """GluonCV-style factory ``f(pretrained=False, root=None, ctx=cpu(), **kwargs)`` building our ``name``, with
    GluonCV's default DropBlock rate (the catalogue's recipe rate) unless ``dropblock_prob`` is given."""
    from ..models.factory import get_model, model_record

    rate = model_record(name).recipe.dropblock_prob

    def build(pretrained=False, root=None, ctx=None, **kwargs):
        if "MXNET_HOME" in os.environ:
            root = None  # GluonCV's rule: $MXNET_HOME/models wins over the root argument
        kwargs.setdefault("dropblock_prob", rate)
        if ctx is not None:
            kwargs["ctx"] = ctx
        return get_model(name, pretrained=pretrained, root=root, **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = "gluon_resnest's %s with GluonCV's keywords and defaults (see gluon_resnest.get_model)." % name
    build.gluon_resnest = True
    return build


def _ours(obj):
    return getattr(obj, "gluon_resnest", False)


def gluoncv_original(name):
    """GluonCV's own factory ``name`` (``resnest50``, ...), whether or not :func:`install` replaced it."""
    factory = getattr(import_gluoncv().model_zoo.resnest, name)
    return factory.original if _ours(factory) else factory


def _set_drop_prob_bridge(original):
    from ..nn.dropblock import DropBlock

    @functools.wraps(original)
    def set_drop_prob(drop_prob, module):
        if isinstance(module, DropBlock):
            module.drop_prob = drop_prob
        else:
            original(drop_prob, module)

    set_drop_prob.gluon_resnest = True
    return set_drop_prob


def _torch_check_bridge(original):
    @functools.wraps(original)
    def require_pytorch_version(*args, **kwargs):
        try:
            return original(*args, **kwargs)
        except RuntimeError as err:
            raise ImportError("gluoncv's PyTorch half is disabled: %s" % err) from None

    require_pytorch_version.gluon_resnest = True
    return require_pytorch_version


def _replace(module_name, attr, new):
    """Put ``new`` (which remembers the replaced object as ``new.original``) in place of ``module.attr`` in that
    module and in every loaded gluoncv module holding the same object."""
    old = getattr(sys.modules[module_name], attr, None)
    if old is None or _ours(old):
        return
    new.original = old
    for other_name, other in list(sys.modules.items()):
        if other_name.startswith("gluoncv") and getattr(other, attr, None) is old:
            setattr(other, attr, new)


def _patch_resnest(module):
    for name in GLUONCV_NAMES:
        _replace(module.__name__, name, gluoncv_factory(name))


def _patch_zoo(module):
    from ..models.factory import list_models

    registry = module._models
    for name in list_models():
        if not _ours(registry.get(name)):
            factory = gluoncv_factory(name)
            factory.original = registry.get(name)
            registry[name] = factory


def _patch_dropblock(module):
    _replace(module.__name__, "set_drop_prob", _set_drop_prob_bridge(module.set_drop_prob))


def _patch_check(module):
    _replace(module.__name__, "_require_pytorch_version", _torch_check_bridge(module._require_pytorch_version))


_PATCHES = {_CHECK_MODULE: _patch_check, _RESNEST_MODULE: _patch_resnest, _DROPBLOCK_MODULE: _patch_dropblock,
            _ZOO_MODULE: _patch_zoo}


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of the GluonCV modules in :data:`_PATCHES` so each is patched right after it executes."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PATCHES or not _state["installed"]:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None:
            return None
        original = spec.loader.exec_module

        @functools.wraps(original)
        def exec_module(module):
            original(module)
            if _state["installed"]:
                _PATCHES[fullname](module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    """Route GluonCV's ResNeSt names, builders and DropBlock tools to ours (see the module docstring)."""
    if os.environ.get(DISABLE_ENV) == "0":
        return False
    _state["installed"] = True
    for name, patch in _PATCHES.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
    if not any(isinstance(f, _PatchOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchOnImport())
    return True


def uninstall():
    """Give every loaded gluoncv module back GluonCV's own factories and functions; later imports are left alone."""
    _state["installed"] = False
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith("gluoncv") or module is None:
            continue
        for attr in _PATCHED_ATTRS:
            obj = getattr(module, attr, None)
            if _ours(obj):
                setattr(module, attr, obj.original)
        registry = getattr(module, "_models", None) if module_name == _ZOO_MODULE else None
        for name, factory in list((registry or {}).items()):
            if _ours(factory):
                if factory.original is None:
                    del registry[name]
                else:
                    registry[name] = factory.original


def installed():
    return _state["installed"]


def import_gluoncv():
    """Import and return ``gluoncv`` whatever torch version is installed (torch is hidden during the import when
    :func:`install` has not bridged GluonCV's version check)."""
    if "gluoncv" in sys.modules:
        return sys.modules["gluoncv"]
    if _state["installed"]:
        return importlib.import_module("gluoncv")
    saved = sys.modules.get("torch", _ABSENT)
    sys.modules["torch"] = None
    try:
        return importlib.import_module("gluoncv")
    finally:
        if saved is _ABSENT:
            del sys.modules["torch"]
        else:
            sys.modules["torch"] = saved


_ABSENT = object()
