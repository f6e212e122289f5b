"""gluon_resnest: ResNeSt (Split-Attention Networks) for MXNet Gluon.

>>> import gluon_resnest
>>> net = gluon_resnest.get_model("resnest50", pretrained=True)
"""
from .runtime import configure_threads

configure_threads()

from . import gluoncv_registry, model_store, nn  # noqa: E402
from .model_zoo import get_model, list_models, model_info  # noqa: E402
from .nn import DropBlock, SplitAttentionConv, set_drop_prob  # noqa: E402
from .resnest import Bottleneck, ResNeSt  # noqa: E402
from .variants import VARIANTS  # noqa: E402

__version__ = "0.1.0"
__all__ = ["get_model", "list_models", "model_info", "ResNeSt", "Bottleneck", "SplitAttentionConv", "DropBlock",
           "set_drop_prob", "VARIANTS", "model_store", "nn"]

gluoncv_registry.register()
