"""The ResNeSt network, its catalogue of variants, the factory, the pretrained-weight store and parameter files."""
from . import store
from .catalogue import CATALOGUE, Architecture, ModelRecord, PretrainedRecord, Recipe
from .complexity import count_macs, count_parameters
from .factory import get_model, list_models, model_data_config, model_record
from .params import ParamsMismatchError, load_params, read_params
from .resnest import Bottleneck, ResNeSt

__all__ = ["get_model", "list_models", "model_record", "model_data_config", "CATALOGUE", "ModelRecord",
           "Architecture", "Recipe", "PretrainedRecord", "ResNeSt", "Bottleneck", "store", "count_parameters",
           "count_macs", "ParamsMismatchError", "read_params", "load_params"]
