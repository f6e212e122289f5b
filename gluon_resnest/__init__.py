"""gluon_resnest: ResNeSt (Split-Attention Networks) for MXNet Gluon.

>>> import gluon_resnest
>>> net = gluon_resnest.get_model("resnest50", pretrained=True)

Subpackages: ``nn`` (layers), ``models`` (network, catalogue, factory, weight store), ``data``, ``train``,
``deploy``, ``interop`` (PyTorch and GluonCV), ``utils``.
"""
import sys

from .utils.cpu_runtime import configure_cpu_runtime, cpu_runtime

configure_cpu_runtime()  # first: OpenMP threads and oneDNN's ISA must be set before MXNet loads

from . import nn  # noqa: E402
from .models import (CATALOGUE, Bottleneck, ResNeSt, get_model, list_models, model_data_config,  # noqa: E402
                     model_record)
from .models import store as model_store  # noqa: E402
from .interop.gluoncv import install as _install_gluoncv  # noqa: E402
from .nn import DropBlock, SplitAttentionConv, set_drop_prob  # noqa: E402

__version__ = "0.2.0"
__all__ = ["get_model", "list_models", "model_record", "model_data_config", "CATALOGUE", "ResNeSt", "Bottleneck",
           "SplitAttentionConv", "DropBlock", "set_drop_prob", "model_store", "nn",
           "cpu_runtime"]

#: ``gluon_resnest.model_store`` (GluonCV's module name) is the store module itself, for imports and patches alike.
sys.modules[__name__ + ".model_store"] = model_store
_install_gluoncv()
