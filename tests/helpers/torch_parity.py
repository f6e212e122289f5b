"""Helpers for parity tests: random PyTorch reference weights with calibrated BN statistics, copied into ours;
the PyTorch models of a converted folder, loaded as docs/migration.md shows."""
import importlib
import json
import os

import numpy as np
import torch

import gluon_resnest
from gluon_resnest.interop.torch_convert import convert_state_dict, save_params_atomic
from gluon_resnest.interop.torch_convert import reference_model
from gluon_resnest.interop.torch_export import CONFIG_FILE


def randomize(model, x, seed=0, calibration_batch=16):
    """Random weights; BN running stats set to the statistics each BN receives (one train pass on a batch).

    Well conditioned on purpose, so that float32 rounding stays far below the 1e-4 tolerance: the last BN of each
    residual branch gets a small gamma (U(0.1, 0.4), scaled down by blocks / 16 beyond 16 blocks so that the deep
    variants' branches add up no more than resnest50's), statistics come from ``calibration_batch`` images (the
    attention BNs see one value per image) and variances are floored at a tenth of their median.
    """
    gen = torch.Generator().manual_seed(seed)
    blocks = sum(1 for name, _ in model.named_modules() if name.endswith("bn3"))
    depth_scale = min(1.0, 16.0 / max(blocks, 1))
    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if mod.bias is not None:
                    mod.bias.copy_(torch.rand(mod.bias.shape, generator=gen) * 0.2 - 0.1)
            elif isinstance(mod, torch.nn.BatchNorm2d):
                low, high = (0.1 * depth_scale, 0.4 * depth_scale) if name.endswith("bn3") else (0.5, 1.5)
                mod.weight.copy_(torch.rand(mod.weight.shape, generator=gen) * (high - low) + low)
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=gen) * 0.2 - 0.1)
                mod.reset_running_stats()
                mod.momentum = None
        model.train()
        calib = torch.randn((calibration_batch,) + tuple(x.shape[1:]), generator=gen, dtype=torch.float64)
        model(calib.to(x.dtype))
        model.eval()
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                floor = 0.1 * mod.running_var.median()
                mod.running_var.copy_(torch.maximum(mod.running_var, floor))
    return model


def reference_and_ours(name, source, shape=(2, 3, 64, 72), dtype="float64", seed=0, tmp_path=None):
    """(torch logits, our network loaded with the same weights, input as numpy) for one variant."""
    torch_dtype = getattr(torch, dtype)
    x = np.random.RandomState(seed).standard_normal(shape).astype(dtype)
    model = reference_model(name, source).to(torch_dtype)
    randomize(model, torch.from_numpy(x), seed)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    state = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    path = str(tmp_path / ("%s-%s-%s.params" % (name, source, dtype)))
    save_params_atomic(convert_state_dict(state, dtype=dtype), path)
    net = gluon_resnest.get_model(name)
    net.cast(dtype)
    net.load_parameters(path)
    return expected, net, x


def official_model(config):
    """The official package's network of a converted folder's ``config.json`` (a dict): the package's factory
    where it has one, else ``ResNet(Bottleneck, **model_args)``; random weights."""
    if config["factory"]:
        module, func = config["factory"].split(":")
        return getattr(importlib.import_module(module), func)(num_classes=config["num_classes"])
    from resnest.torch.resnet import Bottleneck, ResNet

    return ResNet(Bottleneck, **config["model_args"])


def read_config(folder):
    """The ``config.json`` of a converted folder."""
    with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as handle:
        return json.load(handle)
