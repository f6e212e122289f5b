"""Deployment: export script with standalone reload, baked preprocessing, ONNX parity, INT8, predict, errors."""
import contextlib
import importlib.util
import json
import os
import tempfile

import mxnet as mx
import numpy as np
import pytest

from gluon_resnest import get_model
from gluon_resnest.deploy.export import export_model, load_exported, run_without_package
from gluon_resnest.deploy.export_files import ExportMismatchError
from gluon_resnest.deploy.onnx_export import OnnxExportError, export_onnx, pinned_opset, run_onnx
from gluon_resnest.deploy.classifier import ExportedClassifier
from gluon_resnest.utils.errors import RuntimeUnavailable
from gluon_resnest.utils.publish import StaleFilesError

from tests.helpers.files import umask, wrong_modes
from tests.helpers.scripts import ROOT, run_script


def _script(name, *args):
    return run_script(name, *args)


def _net(name, **kw):
    net = get_model(name, **kw)
    net.initialize(mx.init.Xavier())
    for p in net.collect_params().values():
        if p.name.endswith("running_var"):
            p.set_data(mx.nd.random.uniform(0.5, 1.5, shape=p.shape))
    return net


@pytest.mark.parametrize("extra", [[], ["--preprocess", "--batch-size", "2"]])
def test_export_script_reloads_without_package(tmp_path, extra):
    prefix = str(tmp_path / "r14")
    result = _script("export.py", "--model", "resnest14", "--out", prefix, "--size", "64", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    reload = report["members"]["symbol"]["checks"][0]
    assert reload["method"] == "reload" and reload["runtime"] == "mxnet"
    assert reload["figures"]["max_abs_diff_symbolblock"] < 1e-5 and reload["figures"]["max_abs_diff_module"] < 1e-5
    assert "reloaded without gluon_resnest" in result.stderr
    meta = json.load(open(prefix + "-meta.json"))
    assert meta["version"] == 2 and meta["layout"] == ("NHWC" if extra else "NCHW")
    assert tuple(report["input_shape"]) == ((2, 64, 64, 3) if extra else (1, 3, 64, 64))
    assert meta["members"]["symbol"]["batch_size"] == (2 if extra else 1)


def test_baked_preprocessing_equals_manual_normalization(tmp_path):
    net = _net("resnest14")
    prefix = str(tmp_path / "pp")
    export_model(net, prefix, 64, preprocess=True)
    img = np.random.RandomState(0).randint(0, 256, (1, 64, 64, 3)).astype("uint8")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    manual = ((img / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype("float32")
    expected = net(mx.nd.array(manual)).asnumpy()
    got = load_exported(prefix)(mx.nd.array(img, dtype="uint8")).asnumpy()
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["resnest14", "resnest50", "resnest50_fast_4s2x40d", "resnest50_fast_1s4x24d"])
def test_onnx_matches_mxnet_with_dynamic_batch(name, tmp_path):
    net = _net(name)
    sym, params, shape = export_model(net, str(tmp_path / name), 64)
    onnx_path = export_onnx(sym, params, str(tmp_path / (name + ".onnx")), shape)
    import onnx

    ops = {node.op_type for node in onnx.load(onnx_path).graph.node}
    assert "Conv" in ops and not ops & {"BatchNormalization", "Div"}  # folded into the convolutions
    for batch in (1, 3):
        x = np.random.RandomState(batch).uniform(-1, 1, (batch, 3, 64, 64)).astype("float32")
        ref = net(mx.nd.array(x)).asnumpy()
        assert np.abs(run_onnx(onnx_path, x) - ref).max() / np.abs(ref).max() < 1e-4


def test_onnx_unsupported_operator_is_named(tmp_path):
    data = mx.sym.var("data")
    sym = mx.sym.khatri_rao(mx.sym.FullyConnected(data, num_hidden=2, name="fc"), data)
    sym.save(str(tmp_path / "odd-symbol.json"))
    mx.nd.save(str(tmp_path / "odd-0000.params"), {"arg:fc_weight": mx.nd.ones((2, 2)), "arg:fc_bias": mx.nd.zeros(2)})
    with pytest.raises(OnnxExportError, match="khatri_rao"):
        export_onnx(str(tmp_path / "odd-symbol.json"), str(tmp_path / "odd-0000.params"),
                    str(tmp_path / "odd.onnx"), (2, 2))
    assert not os.path.exists(tmp_path / "odd.onnx")


def test_mismatched_or_missing_pair_and_wrong_input_size(tmp_path):
    a, b = _net("resnest14"), _net("resnest26")
    export_model(a, str(tmp_path / "a"), 64)
    export_model(b, str(tmp_path / "b"), 64)
    os.replace(tmp_path / "b-0000.params", tmp_path / "a-0000.params")
    with pytest.raises(ValueError, match="not a matching symbol/params pair"):
        load_exported(str(tmp_path / "a"))
    with pytest.raises(FileNotFoundError, match="b-0000.params is missing"):
        load_exported(str(tmp_path / "b"))
    export_model(a, str(tmp_path / "c"), 64)
    clf = ExportedClassifier(str(tmp_path / "c"))
    with pytest.raises(ValueError, match=r"takes input \(N, 3, 64, 64\)"):
        clf.run(np.zeros((1, 3, 96, 96), "float32"))


def test_int8_quantization_agrees_and_predict_reads_all_forms(trained_toy, tmp_path, monkeypatch):
    out = str(tmp_path / "toy")
    val = str(trained_toy / "toy_data" / "toy_val.rec")
    train_rec = str(trained_toy / "toy_data" / "toy_train.rec")
    with umask(0o022):
        result = _script("export.py", "--model", "resnest14", "--checkpoint", str(trained_toy), "--out", out,
                         "--size", "48", "--onnx", "--int8", "naive", "--calib-data", train_rec, "--calib-batches", "2",
                         "--val-data", val)
    assert result.returncode == 0, result.stderr[-3000:]
    assert wrong_modes(str(tmp_path)) == {} and wrong_modes(str(trained_toy)) == {}
    members = json.load(open(out + "-meta.json"))["members"]
    assert {name: sorted(m["files"]) for name, m in members.items()} == {
        "symbol": ["toy-0000.params", "toy-symbol.json"], "onnx": ["toy.onnx"],
        "int8": ["toy-int8-0000.params", "toy-int8-symbol.json"], "int8_onnx": ["toy-int8.onnx"]}
    report = json.loads(result.stdout[result.stdout.index("{"):])["members"]
    assert report["onnx"]["checks"][0]["figures"]["max_rel_diff"] < 1e-4
    int8 = report["int8"]["checks"][0]
    assert (int8["runtime"], int8["precision"]) == ("mxnet", "int8") and report["int8"]["calibration"] == "naive"
    assert int8["figures"]["images"] == 500 and int8["figures"]["top1_agreement"] >= 0.9
    int8_onnx = report["int8_onnx"]["checks"][0]
    assert int8_onnx["figures"]["images"] == 500 and int8_onnx["figures"]["top1_agreement"] >= 0.9
    assert report["int8_onnx"]["files"] == [out + "-int8.onnx"]
    assert members["int8_onnx"]["checks"][0]["runtime"] == int8_onnx["runtime"] == _fastest_onnx_runtime()
    convs, quantized = _int8_convolutions(out + "-int8.onnx")
    assert quantized == convs == _int8_convolutions(out + ".onnx")[0] and _int8_convolutions(out + ".onnx")[1] == 0
    runs = [(model, "onnxruntime") for model in (out, out + ".onnx", out + "-int8", str(trained_toy / "resnest14"),
                                                 out + "-int8.onnx")]
    if importlib.util.find_spec("openvino"):
        runs.append((out + "-int8.onnx", "openvino"))
    for model, runtime in runs:
        pred = _script("predict.py", model, "--rec", val, "--count", "4", *(
            ("--runtime", runtime) if runtime != "onnxruntime" else ()))
        assert pred.returncode == 0, pred.stderr[-2000:]
        assert "top-1 on these 4 images" in pred.stdout
    assert ExportedClassifier(out + "-int8.onnx").runtime == int8_onnx["runtime"]
    assert ExportedClassifier(out + "-int8.onnx", runtime="onnxruntime").runtime == "onnxruntime"
    from gluon_resnest.deploy import openvino_runtime

    def no_openvino():
        raise openvino_runtime.OpenVinoUnavailable("OpenVINO is not installed")

    monkeypatch.setattr(openvino_runtime, "import_openvino", no_openvino)
    assert ExportedClassifier(out + "-int8.onnx").runtime == "onnxruntime"
    with pytest.raises(ValueError, match="precision applies to OpenVINO, which is not installed"):
        ExportedClassifier(out + "-int8.onnx", precision="bf16")
    with pytest.raises(RuntimeUnavailable, match="OpenVINO is not installed"):
        ExportedClassifier(out + "-int8.onnx", runtime="openvino")
    missing = _script("predict.py", str(tmp_path / "nothing"), "--rec", val)
    assert missing.returncode == 2 and "meta.json is missing" in missing.stderr


def test_export_named_like_an_int8_onnx_file_reads_as_its_own(tmp_path):
    prefix = str(tmp_path / "a-int8")
    result = _script("export.py", "--model", "resnest14", "--out", prefix, "--size", "32", "--onnx")
    assert result.returncode == 0, result.stderr[-3000:]
    clf = ExportedClassifier(prefix + ".onnx")
    assert clf.runtime == _fastest_onnx_runtime() and clf.shape == (1, 3, 32, 32)
    assert clf.batch_logits(np.zeros((2, 3, 32, 32), "float32")).shape == (2, 1000)


def _fastest_onnx_runtime():
    return "openvino" if importlib.util.find_spec("openvino") else "onnxruntime"


def test_export_runs_in_the_fastest_runtime_its_files_allow(tmp_path, monkeypatch):
    """A float32 export with an ONNX file runs it (OpenVINO, else onnxruntime) by default, from the prefix too;
    ``--runtime`` forces any of the three; every runtime gives the network's logits."""
    net = _net("resnest14")
    prefix, plain = str(tmp_path / "a"), str(tmp_path / "plain")
    with umask(0o022):
        assert _script("export.py", "--model", "resnest14", "--out", prefix, "--size", "32", "--onnx").returncode == 0
    export_model(net, plain, 32)
    x = np.random.RandomState(0).uniform(-2, 2, (3, 3, 32, 32)).astype("float32")
    reference = ExportedClassifier(prefix, runtime="mxnet")
    assert reference.runtime == "mxnet" and reference.description == "mxnet f32, a symbol/params"
    expected = reference.batch_logits(x)
    forms = {"default": ExportedClassifier(prefix), "onnx": ExportedClassifier(prefix + ".onnx"),
             "onnxruntime": ExportedClassifier(prefix, runtime="onnxruntime")}
    assert forms["default"].runtime == forms["onnx"].runtime == _fastest_onnx_runtime()
    assert forms["default"].description == "%s f32, a.onnx" % _fastest_onnx_runtime()
    assert forms["onnxruntime"].runtime == "onnxruntime"
    for clf in forms.values():
        assert np.abs(clf.batch_logits(x) - expected).max() <= 1e-4 * np.abs(expected).max()
    assert ExportedClassifier(plain).runtime == "mxnet"
    with pytest.raises(ValueError, match="has none; give PREFIX.onnx"):
        ExportedClassifier(plain, runtime="onnxruntime")
    with pytest.raises(ValueError, match="runtime mxnet runs the symbol/params files"):
        ExportedClassifier(prefix + ".onnx", runtime="mxnet")
    from gluon_resnest.deploy import openvino_runtime

    def no_openvino():
        raise openvino_runtime.OpenVinoUnavailable("OpenVINO is not installed")

    monkeypatch.setattr(openvino_runtime, "import_openvino", no_openvino)
    assert ExportedClassifier(prefix).runtime == "onnxruntime"
    img = str(tmp_path / "img.png")
    from PIL import Image

    Image.fromarray(np.full((40, 40, 3), 128, "uint8")).save(img)
    for extra, shown in (((), _fastest_onnx_runtime() + " f32, a.onnx"), (("--runtime", "mxnet"), "mxnet f32")):
        pred = _script("predict.py", prefix, img, *extra)
        assert pred.returncode == 0, pred.stderr[-2000:]
        assert pred.stdout.startswith("runtime: " + shown)


def _int8_convolutions(path):
    """``(convolutions, those whose input and weight come from DequantizeLinear)`` of an ONNX file: the weights
    and activations of a QDQ-quantized convolution are dequantized INT8 tensors."""
    import onnx

    graph = onnx.load(path).graph
    producers = {out: node.op_type for node in graph.node for out in node.output}
    convs = [node for node in graph.node if node.op_type == "Conv"]
    quantized = [node for node in convs if all(producers.get(i) == "DequantizeLinear" for i in node.input[:2])]
    return len(convs), len(quantized)


def test_entropy_calibration_quantizes(trained_toy):
    from gluon_resnest.data import make_loader, open_image_dataset
    from gluon_resnest.deploy.int8 import compare_outputs, quantize_model
    from gluon_resnest.data.config import DataConfig

    loader = make_loader(open_image_dataset(str(trained_toy / "toy_data" / "toy_val.rec")),
                         DataConfig(48).eval_transform(), 16)
    params = str(trained_toy / "best.params")
    qnet = quantize_model(get_model("resnest14", pretrained=params), loader, (16, 3, 48, 48), "entropy", 2)
    ref = get_model("resnest14", pretrained=params)
    report = compare_outputs(ref, qnet, loader, batches=8)
    assert report["images"] == 128 and report["top1_agreement"] >= 0.9
    with pytest.raises(ValueError, match="calib_mode"):
        quantize_model(ref, loader, (16, 3, 48, 48), "minmax")


def test_reexport_refuses_stale_files_unless_forced(tmp_path):
    net = _net("resnest14")
    prefix = str(tmp_path / "m")
    sym, params, shape = export_model(net, prefix, 32)
    export_onnx(sym, params, prefix + ".onnx", shape)
    with pytest.raises(StaleFilesError, match=r"m\.onnx"):
        export_model(_net("resnest26"), prefix, 32)
    script = _script("export.py", "--model", "resnest26", "--out", prefix, "--size", "32")
    assert script.returncode == 2 and "m.onnx" in script.stderr and "--force" in script.stderr
    assert "Traceback" not in script.stderr
    assert ExportedClassifier(prefix).meta.model == "resnest14"
    export_model(_net("resnest26"), prefix, 32, force=True)
    assert sorted(os.listdir(tmp_path)) == ["m-0000.params", "m-meta.json", "m-symbol.json"]
    assert ExportedClassifier(prefix).meta.model == "resnest26"


def test_classifier_refuses_files_from_two_exports(tmp_path):
    export_model(_net("resnest14"), str(tmp_path / "a"), 32)
    export_model(_net("resnest14"), str(tmp_path / "b"), 32)
    os.replace(tmp_path / "b-0000.params", tmp_path / "a-0000.params")
    with pytest.raises(ExportMismatchError, match="a-0000.params does not match the sha1"):
        ExportedClassifier(str(tmp_path / "a"))
    val = tmp_path / "img.png"
    pred = _script("predict.py", str(tmp_path / "a"), str(val))
    assert pred.returncode == 2 and "come from different exports" in pred.stderr


_DIE_DURING_PUBLISH = """
import os, sys
import mxnet as mx
from gluon_resnest import get_model
from gluon_resnest.deploy.export import export_model
from gluon_resnest.utils import publish

real_publish, real_replace = publish.StagedFiles.publish, os.replace
renamed = []

def replace_then_die(src, dst):
    renamed.append(dst)
    if len(renamed) == 2:
        os._exit(9)
    real_replace(src, dst)

def publish_and_die(self, *args, **kwargs):
    os.replace = replace_then_die
    return real_publish(self, *args, **kwargs)

publish.StagedFiles.publish = publish_and_die
net = get_model("resnest26")
net.initialize(mx.init.Xavier())
export_model(net, sys.argv[1], 32)
"""


def test_crash_between_renames_is_detected_and_cleaned_up(tmp_path):
    import subprocess
    import sys

    prefix = str(tmp_path / "m")
    export_model(_net("resnest14"), prefix, 32)
    crashed = subprocess.run([sys.executable, "-c", _DIE_DURING_PUBLISH, prefix], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=ROOT))
    assert crashed.returncode == 9, crashed.stderr[-2000:]
    leftovers = [name for name in os.listdir(tmp_path) if ".staging-" in name]
    assert len(leftovers) == 1
    with pytest.raises(FileNotFoundError, match="interrupted while publishing"):
        ExportedClassifier(prefix)
    export_model(_net("resnest14"), prefix, 32)
    assert sorted(os.listdir(tmp_path)) == ["m-0000.params", "m-meta.json", "m-symbol.json"]
    assert ExportedClassifier(prefix).meta.model == "resnest14"


def test_compare_many_runs_the_reference_once_per_batch():
    from gluon_resnest.deploy.agreement import compare_many

    rng = np.random.default_rng(0)
    batches = [(mx.nd.array(rng.normal(size=(4, 3, 2, 2))), None) for _ in range(5)]
    calls = []

    def reference(data):
        calls.append(data)
        return data.reshape((4, -1))

    def flipped(data):
        return -data.reshape((4, -1)).asnumpy()

    def scaled(data):
        return data.reshape((4, -1)) * 1.001

    report = compare_many(reference, {"scaled": scaled, "flipped": flipped}, batches, skip=1, batches=3)
    assert len(calls) == 3 and all(a is b[0] for a, b in zip(calls, batches[1:4]))
    assert report["scaled"]["top1_agreement"] == 1.0 and abs(report["scaled"]["max_rel_logit_error"] - 1e-3) < 1e-6
    assert report["flipped"]["top1_agreement"] < 0.5 and report["flipped"]["images"] == 12


def test_low_agreement_warns_or_fails_and_publishes_nothing(trained_toy, tmp_path, monkeypatch):
    from gluon_resnest.deploy import agreement, deployment

    low = {"top1_agreement": 0.366, "max_rel_logit_error": 0.5, "images": 484}
    with pytest.warns(agreement.AgreementWarning, match="36.6% of top-1"):
        agreement.check_agreement("INT8", low)
    with pytest.raises(agreement.ExportCheckError, match="below the required agreement 0.9"):
        agreement.check_agreement("INT8", low, 0.9)
    monkeypatch.setattr(agreement, "compare_many", lambda reference, candidates, *args, **kwargs:
                        {name: dict(low) for name in candidates})
    val = str(trained_toy / "toy_data" / "toy_val.rec")
    with pytest.raises(agreement.ExportCheckError, match="nothing was published"):
        deployment.export_deployment("resnest14", str(trained_toy / "best.params"), str(tmp_path / "q"),
                                     deployment.ExportOptions(size=48, int8="naive", calib_data=val, calib_batches=1,
                                                              min_agreement=0.9))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("opset", [None, 13])
def test_mxnet_onnx_exporter_converts_exported_resnest50(tmp_path, opset):
    """``mx.onnx.export_model`` on the exported symbol as a user calls it, at its default opset (that of the
    installed onnx) and at 13."""
    net = _net("resnest50")
    sym, params, _ = export_model(net, str(tmp_path / "m"), 96, 2)
    with pinned_opset(opset) if opset else contextlib.nullcontext():
        path = mx.onnx.export_model(sym, params, [(2, 3, 96, 96)], [np.float32], str(tmp_path / "m.onnx"))
    x = np.random.RandomState(0).uniform(-1, 1, (2, 3, 96, 96)).astype("float32")
    ref = net(mx.nd.array(x)).asnumpy()
    assert np.abs(run_onnx(path, x) - ref).max() / np.abs(ref).max() < 1e-5


def test_openvino_missing_or_cpu_without_bf16_is_a_clear_error(monkeypatch, tmp_path):
    import sys

    from gluon_resnest.deploy import openvino_runtime

    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(openvino_runtime.OpenVinoUnavailable, match=r"pip install .*openvino"):
        openvino_runtime.compile_onnx(str(tmp_path / "m.onnx"))

    class NoBf16Core:
        def get_property(self, device, name):
            return ["FP32", "INT8"]

    monkeypatch.setitem(sys.modules, "openvino", type(sys)("openvino"))
    with pytest.raises(openvino_runtime.OpenVinoUnavailable, match="no native bfloat16 support"):
        openvino_runtime.check_bf16_support(NoBf16Core())
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu avx512f avx512_bf16 avx512_vnni\n")
    assert openvino_runtime.cpu_bf16_flags(str(cpuinfo)) == ["avx512_bf16"]


def _openvino_bf16_or_skip():
    from gluon_resnest.deploy.openvino_runtime import OpenVinoUnavailable, check_bf16_support

    try:
        check_bf16_support()
    except OpenVinoUnavailable as err:
        pytest.skip(str(err))


def _mxnet_bf16_or_skip():
    from gluon_resnest.deploy.runtimes import InstalledRuntimes

    reason = InstalledRuntimes().reason("mxnet", "bf16")
    if reason:
        pytest.skip(reason)


def test_bf16_export_is_checked_and_predict_runs_it(trained_toy, tmp_path):
    """``--onnx --bf16``: the MXNet bf16 member and OpenVINO's bf16 inference of the ONNX member, each checked on
    the held-out images; PREFIX runs the fastest checked bf16 form, PREFIX-bf16 MXNet's, in a process that never
    imports gluon_resnest too (the bf16 casts are in the exported symbol)."""
    _mxnet_bf16_or_skip()
    _openvino_bf16_or_skip()
    out, val = str(tmp_path / "toy"), str(trained_toy / "toy_data" / "toy_val.rec")
    result = _script("export.py", "--model", "resnest14", "--checkpoint", str(trained_toy), "--out", out,
                     "--size", "48", "--onnx", "--bf16", "--val-data", val, "--min-agreement", "0.98")
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])["members"]
    for member, runtime in (("onnx", "openvino"), ("bf16", "mxnet")):
        check = [c for c in report[member]["checks"] if c["precision"] == "bf16"][0]
        assert check["runtime"] == runtime and check["method"] == "agreement"
        figures = check["figures"]
        assert figures["images"] == 500 and figures["top1_agreement"] >= 0.98 and \
            figures["max_rel_logit_error"] < 3e-2, (member, figures)
    assert sorted(report["bf16"]["files"]) == [out + "-bf16-0000.params", out + "-bf16-symbol.json"]
    for path, extra, shown in ((out + ".onnx", ("--runtime", "openvino"), "openvino bf16, toy.onnx"),
                               (out, (), "openvino bf16, toy.onnx"),
                               (out + "-bf16", (), "mxnet bf16, toy-bf16 symbol/params"),
                               (out, ("--runtime", "mxnet"), "mxnet bf16, toy-bf16 symbol/params"),
                               (out, ("--runtime", "mxnet", "--precision", "f32"), "mxnet f32, toy symbol/params")):
        pred = _script("predict.py", path, "--rec", val, "--count", "4", *extra)
        assert pred.returncode == 0, pred.stderr[-2000:]
        assert pred.stdout.startswith("runtime: " + shown) and "top-1 on these 4 images" in pred.stdout
    x = np.random.RandomState(0).uniform(-2, 2, (2, 3, 48, 48)).astype("float32")
    bf16 = ExportedClassifier(out + "-bf16")
    with tempfile.TemporaryDirectory() as work:
        plain = run_without_package(out + "-bf16", x, work)["symbolblock"]
    assert np.array_equal(plain, bf16.batch_logits(x))
    fp32 = ExportedClassifier(out, runtime="mxnet", precision="f32").batch_logits(x)
    rel = np.abs(plain - fp32).max() / np.abs(fp32).max()
    assert 0 < rel < 3e-2


def test_int8_onnx_quantization_bad_input_and_file_mode(tmp_path):
    from gluon_resnest.deploy.int8_onnx import quantize_onnx

    prefix = str(tmp_path / "q")
    sym, params, shape = export_model(_net("resnest14"), prefix, 32)
    source = export_onnx(sym, params, prefix + ".onnx", shape)
    batch = np.random.RandomState(0).uniform(-2, 2, (2, 3, 32, 32)).astype("float32")
    with pytest.raises(ValueError, match="calibration mode must be one of naive, entropy, got 'minmax'"):
        quantize_onnx(source, prefix + "-int8.onnx", [batch], "minmax")
    with pytest.raises(ValueError, match="at least one batch"):
        quantize_onnx(source, prefix + "-int8.onnx", [])
    assert not os.path.exists(prefix + "-int8.onnx")
    with umask(0o022):
        out = quantize_onnx(source, prefix + "-int8.onnx", [batch], "entropy")
    assert wrong_modes(str(tmp_path)) == {}
    assert run_onnx(out, batch).shape == (2, 1000)
    assert sorted(os.listdir(tmp_path)) == ["q-0000.params", "q-int8.onnx", "q-meta.json", "q-symbol.json", "q.onnx"]


def test_bf16_export_needs_bf16_units_and_writes_nothing_without(tmp_path, monkeypatch):
    from gluon_resnest.deploy import runtimes
    from gluon_resnest.deploy.deployment import ExportOptions, export_deployment

    monkeypatch.setattr(runtimes, "_mxnet_bf16_problem", lambda: "MXNet's bf16 member needs a CPU with bf16 units")
    with pytest.raises(RuntimeUnavailable, match="bf16 export cannot be checked here: MXNet's bf16 member needs"):
        export_deployment("resnest14", None, str(tmp_path / "m"), ExportOptions(size=32, bf16=True,
                                                                                val_data=str(tmp_path)))
    assert os.listdir(tmp_path) == []
