"""Register the ResNeSt variants in GluonCV's model zoo, whether gluoncv is imported before or after us.

``gluoncv.model_zoo.get_model`` looks names up in ``gluoncv.model_zoo.model_zoo._models``. If that module is
already imported, the entries are replaced now; otherwise an import hook adds them the moment it is imported.
Nothing in gluoncv is modified on disk, and gluoncv is not imported by this module.
"""
import functools
import importlib.abc
import sys

from .factory import get_model, list_models

__all__ = ["register", "GLUONCV_ZOO_MODULE"]

GLUONCV_ZOO_MODULE = "gluoncv.model_zoo.model_zoo"


def _factory(name):
    def build(**kwargs):
        return get_model(name, **kwargs)

    build.__name__ = name
    build.__doc__ = "gluon_resnest's %s (see gluon_resnest.get_model)." % name
    return build


def _register_into(module):
    module._models.update({name: _factory(name) for name in list_models()})


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Finder that wraps the loader of GluonCV's zoo module so our entries are added right after it executes."""

    def find_spec(self, fullname, path, target=None):
        if fullname != GLUONCV_ZOO_MODULE:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None:
            return None
        original = spec.loader.exec_module

        @functools.wraps(original)
        def exec_module(module):
            original(module)
            _register_into(module)

        spec.loader.exec_module = exec_module
        return spec


def register():
    """Make ``gluoncv.model_zoo.get_model`` return gluon_resnest models for all ResNeSt names."""
    module = sys.modules.get(GLUONCV_ZOO_MODULE)
    if module is not None and hasattr(module, "_models"):
        _register_into(module)
    elif not any(isinstance(f, _RegisterOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterOnImport())
