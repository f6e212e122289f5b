"""scripts/convert.py: PyTorch checkpoints (.pth and .safetensors) to Gluon .params, checked end to end."""
import os

import mxnet as mx
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from tests.helpers.torch_parity import randomize  # noqa: E402

from gluon_resnest import get_model  # noqa: E402
from gluon_resnest.interop.torch_convert import torch_to_gluon_names  # noqa: E402
from gluon_resnest.models.params import ParamsMismatchError  # noqa: E402
from gluon_resnest.interop.torch_convert import reference_model  # noqa: E402

from tests.helpers.scripts import run_script  # noqa: E402


def _run(*args):
    return run_script("convert.py", *args, timeout=600)


def test_name_mapping():
    keys = ["conv1.1.weight", "conv1.1.running_mean", "layer1.0.conv2.bn0.weight", "layer1.0.conv2.bn0.running_var",
            "layer1.0.conv2.fc1.bias", "layer1.0.bn1.num_batches_tracked", "fc.weight"]
    mapping = torch_to_gluon_names(keys)
    assert mapping["conv1.1.weight"] == "conv1.1.gamma"
    assert mapping["layer1.0.conv2.bn0.weight"] == "layer1.0.conv2.bn.gamma"
    assert mapping["layer1.0.conv2.fc1.bias"] == "layer1.0.conv2.fc1.bias"
    assert mapping["layer1.0.bn1.num_batches_tracked"] is None
    assert mapping["fc.weight"] == "fc.weight"


@pytest.fixture(scope="module")
def timm_resnest14(tmp_path_factory):
    model = reference_model("resnest14", "timm")
    randomize(model, torch.zeros(1, 3, 64, 64))
    folder = tmp_path_factory.mktemp("ckpt")
    pth = str(folder / "resnest14d.pth")
    torch.save({"state_dict": model.state_dict()}, pth)
    from safetensors.torch import save_file
    st = str(folder / "resnest14d.safetensors")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, st)
    return model, pth, st


@pytest.mark.parametrize("kind", ["pth", "safetensors"])
def test_convert_script_checks_against_reference(timm_resnest14, kind, tmp_path):
    model, pth, st = timm_resnest14
    out = str(tmp_path / "resnest14.params")
    result = _run("--model", "resnest14", pth if kind == "pth" else st, out)
    assert result.returncode == 0, result.stderr
    assert "strict load ok" in result.stdout and "relative logit difference vs timm" in result.stdout
    net = get_model("resnest14")
    net.load_parameters(out)
    x = np.random.RandomState(1).standard_normal((1, 3, 64, 64)).astype("float32")
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert np.abs(net(mx.nd.array(x)).asnumpy() - expected).max() / np.abs(expected).max() < 1e-4


def test_convert_wrong_variant_is_a_clear_error(timm_resnest14, tmp_path):
    _, pth, _ = timm_resnest14
    out = str(tmp_path / "wrong.params")
    result = _run("--model", "resnest50", pth, out)
    assert result.returncode != 0
    assert "does not fit resnest50" in result.stderr and "resnest14" in result.stderr
    assert not os.path.exists(out)
    with pytest.raises(ParamsMismatchError):
        from gluon_resnest.interop.torch_convert import convert_checkpoint
        convert_checkpoint(pth, out, "resnest26")
