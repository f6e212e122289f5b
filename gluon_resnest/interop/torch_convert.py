"""Convert PyTorch ResNeSt checkpoints (official ``resnest`` or timm) into Gluon ``.params`` files, and build the
PyTorch reference models the conversions are checked against.

Both PyTorch implementations share the Gluon module hierarchy and tensor layouts, so conversion is a renaming
(:mod:`.torch_names`). A converted file is checked against the PyTorch model it came from
(:func:`compare_with_reference`; the reference names of each variant are written in its catalogue record, ``timm``
and ``official``). The other direction is :mod:`.torch_export`.

timm imports torchvision; PyPI's torchvision build may fail to load next to a CPU-only torch because its
``nms``/``qnms`` operator registrations need its compiled extension. :func:`import_timm` declares those two
operator schemas first when they are missing, which is all that timm's import needs.
"""
import dataclasses
import importlib
import os
import re

import mxnet as mx
import numpy as np

from ..models.catalogue import CATALOGUE
from ..models.factory import model_record
from ..utils.fileio import atomic_write
from ..utils.options import option
from .torch_export import WEIGHTS_FILE
from .torch_names import torch_to_gluon_names

__all__ = ["FromTorchOptions", "REFERENCES", "read_checkpoint", "convert_state_dict", "save_params_atomic",
           "convert_checkpoint", "compare_with_reference", "import_timm", "available_references", "reference_model"]

#: The PyTorch implementations a converted file is checked against.
REFERENCES = ("official", "timm")


@dataclasses.dataclass(frozen=True)
class FromTorchOptions:
    """Options of a conversion from PyTorch (``scripts/convert.py from-torch``)."""
    model: str = option("", "variant of the checkpoint", choices=tuple(CATALOGUE))
    check: bool = option(True, "compare the converted network with the PyTorch reference loaded with the same "
                               "checkpoint (needs torch)", negate="--no-check")
    reference: str = option(None, "reference implementation to check with; none: the first that loads the "
                                  "checkpoint", type=str, choices=REFERENCES)
    tolerance: float = option(1e-4, "largest relative logit difference the check accepts (float32)")


def _unwrap(state):
    for key in ("state_dict", "model", "state_dict_ema"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    return {re.sub(r"^module\.", "", k): v for k, v in state.items()}


def read_checkpoint(path):
    """``{name: numpy array}`` from a ``.pth``/``.pt`` (needs torch) or ``.safetensors`` (no torch needed) file, or
    from the ``model.safetensors`` of a folder (as :func:`~.torch_export.convert_to_torch` and timm write them)."""
    if os.path.isdir(path) and os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
        path = os.path.join(path, WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError("checkpoint %s does not exist" % path)
    if path.endswith(".safetensors"):
        from safetensors.numpy import load_file

        try:
            return _unwrap(load_file(path))
        except Exception as err:  # safetensors raises its own SafetensorError and OSError-like errors
            raise ValueError("%s is not a readable safetensors file: %s" % (path, err)) from None
    try:
        import torch
    except ImportError:
        raise ImportError("reading %s needs torch, which is not installed; install it (pip install torch==2.13.0) "
                          "or convert the checkpoint to .safetensors" % path) from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and RuntimeError kinds for damaged or unsafe files
        raise ValueError("%s is not a readable PyTorch checkpoint (only tensors are loaded): %s"
                         % (path, str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)) \
            from None
    if not isinstance(state, dict):
        raise ValueError("%s holds a %s, not a state dict" % (path, type(state).__name__))
    return {k: v.detach().cpu().numpy() for k, v in _unwrap(state).items() if hasattr(v, "detach")}


def convert_state_dict(state, dtype=np.float32):
    """Convert a ``{torch key: array}`` dict to ``{gluon key: mx.nd.NDArray}``."""
    out = {}
    for key, name in torch_to_gluon_names(state).items():
        if name is not None:
            out[name] = mx.nd.array(np.asarray(state[key]), dtype=dtype)
    return out


def save_params_atomic(arrays, path):
    """``mx.nd.save`` to a temporary file beside ``path``, then rename it into place."""
    return atomic_write(path, lambda tmp: mx.nd.save(tmp, arrays))


def convert_checkpoint(src, dst, name):
    """Convert checkpoint ``src`` for variant ``name`` into ``dst`` after strictly loading it into our network.

    Returns the loaded Gluon network. Raises ``ParamsMismatchError`` (and writes nothing) if the checkpoint is not
    of ``name``.
    """
    from ..models.factory import get_model
    from ..models.params import load_params

    arrays = convert_state_dict(read_checkpoint(src))
    net = get_model(name, classes=arrays["fc.weight"].shape[0] if "fc.weight" in arrays else 1000)
    load_params(net, arrays, src)
    save_params_atomic(arrays, dst)
    return net


def compare_with_reference(net, name, src, source=None, shape=(2, 3, 224, 224), seed=0):
    """Max relative logit difference between ``net`` and the PyTorch reference loaded with checkpoint ``src``."""
    import torch

    sources = [source] if source else list(available_references(name))
    state = {k: torch.from_numpy(np.array(v)) for k, v in read_checkpoint(src).items()}
    last_error = None
    for candidate in sources:
        model = reference_model(name, candidate)
        if state.get("fc.weight") is not None and state["fc.weight"].shape[0] != model.fc.out_features:
            model.fc = torch.nn.Linear(model.fc.in_features, state["fc.weight"].shape[0])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            last_error = err
            continue
        x = np.random.RandomState(seed).standard_normal(shape).astype("float32")
        with torch.no_grad():
            expected = model.eval()(torch.from_numpy(x)).numpy()
        got = net(mx.nd.array(x)).asnumpy()
        return candidate, float(np.abs(got - expected).max() / max(np.abs(expected).max(), 1e-12))
    raise ValueError("checkpoint %s does not load into any PyTorch reference of %s: %s" % (src, name, last_error))


_TORCHVISION_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_fragment = None


def import_timm():
    """Import timm, working around a torchvision build whose C++ ops cannot load next to this torch."""
    global _fragment
    import torch

    try:
        return importlib.import_module("timm")
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
    if _fragment is None:
        _fragment = torch.library.Library("torchvision", "FRAGMENT")
        for schema in _TORCHVISION_SCHEMAS:
            _fragment.define(schema)
    for mod in [m for m in list(importlib.sys.modules) if m == "torchvision" or m.startswith(("torchvision.", "timm"))]:
        del importlib.sys.modules[mod]
    return importlib.import_module("timm")


def available_references(name):
    """Which references exist for ``name``: a subset of ``("official", "timm")``."""
    rec = model_record(name)
    return tuple(src for src in REFERENCES if getattr(rec, src))


def reference_model(name, source):
    """A randomly initialized PyTorch model of variant ``name`` from ``source`` ("official" or "timm"), eval mode."""
    rec = model_record(name)
    if source not in available_references(name):
        raise ValueError("no %r reference for %s; available: %s" % (source, name, available_references(name)))
    if source == "official":
        module, func = rec.official.split(":")
        model = getattr(importlib.import_module(module), func)(pretrained=False)
    else:
        model = import_timm().create_model(rec.timm, pretrained=False)
    return model.eval()
