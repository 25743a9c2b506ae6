"""The Python binding: building graphs by hand, inspecting them, ONNX in and out,
and evaluation, checked against ONNX Runtime and numpy."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import lemma

RNG = np.random.default_rng(3)


def ort_run(path, feeds):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {o.name: v for o, v in zip(s.get_outputs(), s.run(None, feeds))}


def block():
    """A ResNeXt-like block built the TASO way."""
    g = lemma.Graph("block")
    x = g.input("x", [1, 8, 6, 6])
    w1 = g.weight("w1", [8, 8, 1, 1])
    w2 = g.weight("w2", [8, 2, 3, 3])
    t = g.conv2d(x, w1, activation="relu")
    t = g.conv2d(t, w2, padding="same", groups=4, activation="relu")
    g.output("y", g.relu(g.add(x, t)))
    return g


def test_build_and_inspect():
    g = block()
    assert g.name == "block"
    assert g.ops() == {"conv2d": 2, "ewadd": 1, "input": 1, "relu": 1, "weight": 2}
    assert [t.shape for t in g.inputs] == [(1, 8, 6, 6)]
    assert g.outputs["y"].shape == (1, 8, 6, 6)
    assert g.outputs["y"].dtype == "f32"
    convs = [n for n in g.nodes if n["op"] == "conv2d"]
    assert convs[1]["attrs"]["groups"] == 4 and convs[1]["attrs"]["padding"] == "same"
    assert convs[1]["attrs"]["activation"] == "relu"
    assert [t.name for t in convs[0]["inputs"]] == ["x", "w1"]
    text = g.to_text()
    assert text.startswith("graph block {") and str(g) == text
    again = lemma.parse(text)
    assert again.hash() == g.hash()
    g.validate()


def test_shape_errors_raise_at_once():
    g = lemma.Graph()
    x = g.input("x", [2, 3])
    with pytest.raises(ValueError, match="inner dimensions differ"):
        g.matmul(x, x)
    with pytest.raises(ValueError, match="unknown op"):
        g.op("conv3d", [x])
    with pytest.raises(ValueError, match="already taken"):
        g.input("x", [1])


def test_every_registry_op_through_op():
    g = lemma.Graph()
    m = g.input("m", [4, 4])
    for name in ["relu", "sigmoid", "tanh", "gelu"]:
        (y,) = g.op(name, [m])
        assert y.shape == (4, 4)
    a, b = g.op("split", [m], {"axis": 0, "sizes": [1, 3]})
    assert (a.shape, b.shape) == ((1, 4), (3, 4))
    (s,) = g.op("reduce_sum", [m], {"axes": [1], "keepdims": False})
    assert s.shape == (4,)
    assert "conv2d" in lemma.op_names() and "Conv" in lemma.supported_onnx_ops()


def test_run_matches_numpy():
    g = lemma.Graph()
    x = g.input("x", [2, 3])
    w = g.weight("w", data=np.arange(12, dtype=np.float32).reshape(3, 4))
    b = g.weight("b", data=np.array([1, -1, 2, -2], dtype=np.float32))
    y = g.add(g.matmul(x, w), b)
    g.output("y", g.softmax(y))
    xv = RNG.standard_normal((2, 3)).astype(np.float32)
    got = g.run({"x": xv})["y"]
    z = xv.astype(np.float64) @ np.arange(12).reshape(3, 4) + [1, -1, 2, -2]
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
    assert set(g.weights) == {"w", "b"}


def test_export_runs_in_onnxruntime(tmp_path):
    g = block()
    path = tmp_path / "block.onnx"
    lemma.export_onnx(g, str(path), seed=4)
    xv = RNG.standard_normal((1, 8, 6, 6)).astype(np.float32)
    want = ort_run(path, {"x": xv})["y"]
    back = lemma.load_onnx(str(path))
    assert back.hash() == g.hash()
    assert set(back.weights) == {"w1", "w2"}
    np.testing.assert_allclose(back.run({"x": xv}, domain="f32")["y"], want, rtol=1e-4, atol=1e-5)
    # The same weights without data, drawn from the same seed, in lemma's own run.
    np.testing.assert_allclose(g.run({"x": xv}, seed=4, domain="f32")["y"], want, rtol=1e-4,
                               atol=1e-5)


def test_missing_weights_options(tmp_path):
    g = block()
    with pytest.raises(ValueError, match="has no data"):
        lemma.export_onnx(g, str(tmp_path / "a.onnx"), missing_weights="error")
    lemma.export_onnx(g, str(tmp_path / "b.onnx"), missing_weights="input")
    s = ort.InferenceSession(str(tmp_path / "b.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in s.get_inputs()] == ["x", "w1", "w2"]


def test_load_onnx_built_with_helper(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1),
             helper.make_node("Relu", ["h"], ["y"])]
    w = RNG.standard_normal((4, 3)).astype(np.float32)
    b = RNG.standard_normal(4).astype(np.float32)
    graph = helper.make_graph(
        nodes, "fc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "fc.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match="symbolic dimension 'batch'"):
        lemma.load_onnx(str(path))
    g = lemma.load_onnx(str(path), dims={"batch": 2})
    np.testing.assert_array_equal(g.weights["w"], w)
    xv = RNG.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(g.run({"x": xv})["y"], np.maximum(xv @ w.T + b, 0), rtol=1e-5,
                               atol=1e-6)
    g.set_weight("b", np.zeros(4, np.float32))
    np.testing.assert_allclose(g.run({"x": xv})["y"], np.maximum(xv @ w.T, 0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="f32\\[4\\]"):
        g.set_weight("b", np.zeros(5, np.float32))


def test_save_and_load(tmp_path):
    g = block()
    g.save(str(tmp_path / "b.lemma"))
    assert lemma.load(str(tmp_path / "b.lemma")).hash() == g.hash()
    g.set_weight("w1", np.ones((8, 8, 1, 1), np.float32))
    with pytest.raises(ValueError, match="weight 'w2'"):
        g.save(str(tmp_path / "b.onnx"))
    g.set_weight("w2", np.full((8, 2, 3, 3), 0.5, np.float32))
    g.save(str(tmp_path / "b.onnx"))
    back = lemma.load(str(tmp_path / "b.onnx"))
    assert back.hash() == g.hash()
    np.testing.assert_array_equal(back.weights["w2"], g.weights["w2"])
