"""ONNX graph folding: batch norms into convolutions, divisions by 1 dropped, the function unchanged."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from gluon_resnest.deploy.onnx_export import run_onnx  # noqa: E402
from gluon_resnest.deploy.onnx_fold import fold_graph  # noqa: E402


def _graph():
    """x -> conv a (bias) -> bn a -> div by 1 -> relu -> y1; x -> conv b -> (bn b, and y3 directly) -> div by 2 -> y2."""
    rng = np.random.RandomState(0)
    inits = [numpy_helper.from_array(rng.randn(*shape).astype("float32"), name) for name, shape in [
        ("wa", (4, 3, 3, 3)), ("ba", (4,)), ("wb", (4, 3, 1, 1))]]
    for tag in ("a", "b"):
        inits += [numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype("float32"), "gamma_" + tag),
                  numpy_helper.from_array(rng.randn(4).astype("float32"), "beta_" + tag),
                  numpy_helper.from_array(rng.randn(4).astype("float32"), "mean_" + tag),
                  numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype("float32"), "var_" + tag)]
    inits += [numpy_helper.from_array(np.array([1.0], "float32"), "one"),
              numpy_helper.from_array(np.array([2.0], "float32"), "two")]
    nodes = [
        helper.make_node("Conv", ["x", "wa", "ba"], ["ca"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["ca", "gamma_a", "beta_a", "mean_a", "var_a"], ["na"], epsilon=1e-3),
        helper.make_node("Div", ["na", "one"], ["da"]),
        helper.make_node("Relu", ["da"], ["y1"]),
        helper.make_node("Conv", ["x", "wb"], ["cb"]),
        helper.make_node("BatchNormalization", ["cb", "gamma_b", "beta_b", "mean_b", "var_b"], ["nb"]),
        helper.make_node("Div", ["nb", "two"], ["y2"]),
        helper.make_node("Relu", ["cb"], ["y3"]),
    ]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 4, 8, 8]) for name in ("y1", "y2", "y3")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 8, 8])],
                              outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_fold_keeps_the_function_and_folds_only_what_is_safe(tmp_path):
    model = _graph()
    before, after = str(tmp_path / "before.onnx"), str(tmp_path / "after.onnx")
    onnx.save(model, before)
    assert fold_graph(model) == 2
    onnx.checker.check_model(model)
    onnx.save(model, after)
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("BatchNormalization") == 1 and ops.count("Div") == 1  # conv b's output is read twice; 2 != 1
    assert {init.name for init in model.graph.initializer}.isdisjoint({"gamma_a", "beta_a", "mean_a", "var_a", "one"})
    x = np.random.RandomState(1).randn(2, 3, 8, 8).astype("float32")
    import onnxruntime

    outs = [onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
            for path in (before, after)]
    for ref, got in zip(*outs):
        assert np.abs(got - ref).max() <= 1e-5 * np.abs(ref).max()
    assert np.allclose(run_onnx(after, x), outs[0][0], rtol=1e-5, atol=1e-5)
