"""GluonCV integration: our ResNeSt behind GluonCV's names, builders, model store and DropBlock tools.

:func:`install` (run by ``import gluon_resnest`` unless ``GLUON_RESNEST_GLUONCV=0`` is set) acts on GluonCV's
modules in memory, at once for those already imported and through an import hook for those imported later; nothing
on disk is changed and gluoncv is not imported by it. GluonCV's functions are routed in place: the function object
stays the same and runs ours, so a name taken from GluonCV before ``import gluon_resnest`` (``from
gluoncv.nn.dropblock import set_drop_prob``, ``from gluoncv.model_zoo import resnest50``) is routed as well:

* ``gluoncv.model_zoo.resnest``: its ``resnest14`` ... ``resnest269`` factories build ours (GluonCV's keywords and
  default DropBlock rates), so ``gluoncv.model_zoo.get_model``, ``gluoncv.model_zoo.resnest50`` and the detection
  and segmentation builders that call them (``faster_rcnn_fpn_syncbn_resnest*``, ``deeplab_resnest*``) build
  ours; the seven fast variants are added to ``get_model``'s registry.
* ``gluoncv.model_zoo.model_store``: the fast variants join its sha1 table, so ``pretrained_model_list()`` (which
  GluonCV's tests consult before asking for pretrained weights) names all 13, and its ``get_model_file`` fetches
  the 13 through :mod:`gluon_resnest.models.store` (each from its publisher, into GluonCV's cache and lock names).
* ``gluoncv.nn.dropblock.set_drop_prob`` (used by ``DropBlockScheduler``) also sets the rate of our DropBlock.
* ``gluoncv.check``: torch >= 2 installed next to gluoncv 0.10.5 counts as "no PyTorch" instead of failing
  ``import gluoncv``.

GluonCV's classes are not routed (constructing ``gluoncv.model_zoo.resnest.ResNeSt`` or its ``DropBlock`` gets
GluonCV's). GluonCV's own factories stay reachable through :func:`gluoncv_original` (for comparisons).
:func:`uninstall` puts everything back.
"""
import functools
import importlib
import importlib.abc
import os
import sys
import types

__all__ = ["import_gluoncv", "install", "uninstall", "installed", "gluoncv_original", "gluoncv_factory",
           "GLUONCV_NAMES", "DISABLE_ENV"]

#: Setting this environment variable to 0 before ``import gluon_resnest`` leaves GluonCV untouched.
DISABLE_ENV = "GLUON_RESNEST_GLUONCV"
#: The ResNeSt factories GluonCV defines in ``gluoncv.model_zoo.resnest``.
GLUONCV_NAMES = ("resnest14", "resnest26", "resnest50", "resnest101", "resnest200", "resnest269")

_RESNEST_MODULE = "gluoncv.model_zoo.resnest"
_ZOO_MODULE = "gluoncv.model_zoo.model_zoo"
_STORE_MODULE = "gluoncv.model_zoo.model_store"
_DROPBLOCK_MODULE = "gluoncv.nn.dropblock"
_CHECK_MODULE = "gluoncv.check"

#: The attribute a routed GluonCV function carries: ``(its own code, defaults, keyword defaults, the name of the
#: route in its module, the replacement)``.
_ROUTE = "_gluon_resnest_route"
#: ``routed``: the GluonCV functions routed; ``added``: ``(dict, key)`` entries added to GluonCV's registries.
_state = {"installed": False, "routed": [], "added": []}


def _trampoline(*args, **kwargs):
    """The code a routed function runs; its one global name is renamed per function to the replacement's name in
    that function's module (see :func:`_route`)."""
    return _gluon_resnest_route(*args, **kwargs)  # noqa: F821


def _route(func, replacement):
    """Make GluonCV's function ``func`` call ``replacement`` (which gets ``.original``: a copy of ``func`` as
    GluonCV wrote it). The object keeps its identity, so every name bound to it, before or after, is routed."""
    if _ROUTE in vars(func) or not isinstance(func, types.FunctionType) or func.__closure__:
        return
    original = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__)
    original.__kwdefaults__, original.__doc__ = func.__kwdefaults__, func.__doc__
    original.__qualname__, original.__module__ = func.__qualname__, func.__module__
    replacement.original = original
    key = "_gluon_resnest_route_" + func.__name__
    func.__globals__[key] = replacement
    setattr(func, _ROUTE, (func.__code__, func.__defaults__, func.__kwdefaults__, key, replacement))
    func.__code__ = _trampoline.__code__.replace(co_names=(key,), co_name=func.__name__,
                                                 co_qualname=func.__qualname__)
    func.__defaults__ = func.__kwdefaults__ = None
    _state["routed"].append(func)


def _unroute(func):
    code, defaults, kwdefaults, key, _ = vars(func).pop(_ROUTE)
    func.__code__, func.__defaults__, func.__kwdefaults__ = code, defaults, kwdefaults
    func.__globals__.pop(key, None)


def _replacement(func):
    """The replacement a GluonCV function is routed to, or ``None``."""
    route = vars(func).get(_ROUTE) if hasattr(func, "__dict__") else None
    return route[-1] if route else None


def _gluoncv_root(root):
    """GluonCV's rule for a model root: ``$MXNET_HOME/models`` wins over the ``root`` argument (``None``: the
    store's default root, which follows ``MXNET_HOME``)."""
    return None if "MXNET_HOME" in os.environ else root


def gluoncv_factory(name):
    """GluonCV-style factory ``f(pretrained=False, root=None, ctx=cpu(), **kwargs)`` building our ``name``, with
    GluonCV's default DropBlock rate (the catalogue's recipe rate) unless ``dropblock_prob`` is given."""
    from ..models.factory import get_model, model_record

    rate = model_record(name).recipe.dropblock_prob

    def build(pretrained=False, root=None, ctx=None, **kwargs):
        kwargs.setdefault("dropblock_prob", rate)
        if ctx is not None:
            kwargs["ctx"] = ctx
        return get_model(name, pretrained=pretrained, root=_gluoncv_root(root), **kwargs)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = "gluon_resnest's %s with GluonCV's keywords and defaults (see gluon_resnest.get_model)." % name
    build.gluon_resnest = True
    return build


def gluoncv_original(name):
    """GluonCV's own factory ``name`` (``resnest50``, ...), whether or not :func:`install` routed it."""
    factory = getattr(import_gluoncv().model_zoo.resnest, name)
    replacement = _replacement(factory)
    return replacement.original if replacement else factory


def _set_drop_prob_bridge():
    from ..nn.dropblock import DropBlock

    def set_drop_prob(drop_prob, module):
        if isinstance(module, DropBlock):
            module.drop_prob = drop_prob
        else:
            set_drop_prob.original(drop_prob, module)

    return set_drop_prob


def _torch_check_bridge():
    def require_pytorch_version(*args, **kwargs):
        try:
            return require_pytorch_version.original(*args, **kwargs)
        except RuntimeError as err:
            raise ImportError("gluoncv's PyTorch half is disabled: %s" % err) from None

    return require_pytorch_version


def _get_model_file_bridge():
    from ..models import store
    from ..models.catalogue import CATALOGUE

    def get_model_file(name, tag=None, root=os.path.join("~", ".mxnet", "models")):
        if name not in CATALOGUE:
            return get_model_file.original(name, tag=tag, root=root)
        return store.get_model_file(name, tag=tag, root=_gluoncv_root(root))

    return get_model_file


def _add(registry, key, value):
    if key not in registry:
        registry[key] = value
        _state["added"].append((registry, key))


def _patch_resnest(module):
    for name in GLUONCV_NAMES:
        _route(getattr(module, name), gluoncv_factory(name))


def _patch_zoo(module):
    from ..models.factory import list_models

    for name in list_models():
        _add(module._models, name, gluoncv_factory(name))


def _patch_store(module):
    from ..models.catalogue import CATALOGUE

    for name, rec in CATALOGUE.items():
        _add(module._model_sha1, name, rec.pretrained.sha1)
    _route(module.get_model_file, _get_model_file_bridge())


def _patch_dropblock(module):
    _route(module.set_drop_prob, _set_drop_prob_bridge())


def _patch_check(module):
    _route(module._require_pytorch_version, _torch_check_bridge())


_PATCHES = {_CHECK_MODULE: _patch_check, _RESNEST_MODULE: _patch_resnest, _DROPBLOCK_MODULE: _patch_dropblock,
            _ZOO_MODULE: _patch_zoo, _STORE_MODULE: _patch_store}


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
    """Give GluonCV back its own functions and registries; later imports are left alone."""
    _state["installed"] = False
    while _state["routed"]:
        _unroute(_state["routed"].pop())
    while _state["added"]:
        registry, key = _state["added"].pop()
        registry.pop(key, None)


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
