"""lemma.optimize: lemma::Optimize with the shipped rules, on models built with
onnx.helper; the optimized model, exported with its weights' data, runs in ONNX
Runtime and computes what the original computes."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

import lemma

RNG = np.random.default_rng(5)


def ort_run(path, feeds):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return {o.name: v for o, v in zip(s.get_outputs(), s.run(None, feeds))}


def two_convs_model(branches=2, c=8, hw=12):
    """y = Conv1x1(sum of `branches` 3x3 convs of x): the shipped rules merge convs of
    one input into one conv of the summed weights (a sum of weights, computed once)."""
    nodes, inits, outs = [], [], []
    for k in range(branches):
        wk = (RNG.standard_normal((c, c, 3, 3)) * 0.1).astype(np.float32)
        inits.append(numpy_helper.from_array(wk, f"w{k}"))
        nodes.append(helper.make_node("Conv", ["x", f"w{k}"], [f"c{k}"], auto_pad="SAME_UPPER"))
        outs.append(f"c{k}")
    acc = outs[0]
    for k in range(1, branches):
        nodes.append(helper.make_node("Add", [acc, outs[k]], [f"s{k}"]))
        acc = f"s{k}"
    w_out = (RNG.standard_normal((c, c, 1, 1)) * 0.1).astype(np.float32)
    inits.append(numpy_helper.from_array(w_out, "wo"))
    nodes.append(helper.make_node("Conv", [acc, "wo"], ["y"]))
    graph = helper.make_graph(
        nodes, "branches", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, c, hw, hw])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(two_convs_model(), str(path))
    return path


def test_optimized_model_runs_in_onnxruntime(model_path, tmp_path):
    g = lemma.load_onnx(str(model_path))
    opt = lemma.optimize(g, budget=50)
    r = opt.optimization
    assert g.optimization is None and isinstance(r, lemma.OptimizeResult)
    assert r.applied_rules, "the shipped rules should merge the two convs"
    assert r.cost_after < r.cost_before
    assert r.cost_before == pytest.approx(g.cost(), rel=1e-9)
    assert opt.ops()["conv2d"] == 2 and g.ops()["conv2d"] == 3
    assert r.stats["explored"] >= 1 and r.stats["stop"] == "exhausted"
    assert r.stats["generated"] >= len(r.applied_rules)
    assert [s["rule"] for s in r.steps if s["kind"] == "rule"] == r.applied_rules
    assert set(opt.weights) == set(g.weights)
    out = tmp_path / "opt.onnx"
    lemma.export_onnx(opt, str(out), missing_weights="error")
    x = RNG.standard_normal((1, 8, 12, 12)).astype(np.float32)
    want = ort_run(model_path, {"x": x})["y"]
    got = ort_run(out, {"x": x})["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # The reference evaluator agrees too.
    np.testing.assert_allclose(opt.run({"x": x}, domain="f32")["y"], want, rtol=1e-4, atol=1e-5)


def test_budget_is_honoured(model_path):
    g = lemma.load_onnx(str(model_path))
    full = lemma.optimize(g, budget=1000).optimization
    assert full.stats["explored"] > 1
    one = lemma.optimize(g, budget=1).optimization
    assert one.stats["explored"] == 1 and one.stats["stop"] == "budget"
    none = lemma.optimize(g, budget=0).optimization
    assert none.stats["explored"] == 0 and none.applied_rules == []


def test_time_limit_is_honoured(tmp_path):
    path = tmp_path / "wide.onnx"
    onnx.save(two_convs_model(branches=6), str(path))
    g = lemma.load_onnx(str(path))
    r = lemma.optimize(g, budget=10**9, time_limit=0.2).optimization
    assert r.stats["stop"] == "time limit"
    assert r.stats["seconds"] < 5


def test_deterministic(model_path):
    g = lemma.load_onnx(str(model_path))
    a = lemma.optimize(g, budget=100, threads=1)
    b = lemma.optimize(g, budget=100, threads=3)
    assert a.hash() == b.hash() and a.to_text() == b.to_text()
    assert a.optimization.applied_rules == b.optimization.applied_rules
    assert a.optimization.cost_after == b.optimization.cost_after
    assert a.optimization.stats["explored"] == b.optimization.stats["explored"]


def test_rules_argument_and_environment(model_path, tmp_path, monkeypatch):
    g = lemma.load_onnx(str(model_path))
    empty = tmp_path / "empty.rules"
    empty.write_text("")
    r = lemma.optimize(g, rules=str(empty)).optimization
    assert r.applied_rules == [] and r.rules_used == 0 and r.rules_redundant == 0
    both = lemma.optimize(g, rules=[lemma.default_rules_path(), empty], budget=20).optimization
    assert both.applied_rules
    # The default rules repeat each other; the repeats are left out.
    assert 0 < both.rules_redundant < both.rules_used
    with pytest.raises(ValueError, match="cannot read the rules file .*missing.rules"):
        lemma.optimize(g, rules=str(tmp_path / "missing.rules"))
    monkeypatch.setenv("LEMMA_RULES", str(tmp_path / "env.rules"))
    assert lemma.default_rules_path() == str(tmp_path / "env.rules")
    with pytest.raises(ValueError, match="env.rules"):
        lemma.optimize(g)


def test_default_rules_ship_with_the_package():
    import os
    path = lemma.default_rules_path()
    assert os.path.dirname(os.path.dirname(path)) == os.path.dirname(lemma.__file__)
    assert os.path.getsize(path) > 0


def test_bad_options_raise(model_path):
    g = lemma.load_onnx(str(model_path))
    with pytest.raises(ValueError, match="alpha"):
        lemma.optimize(g, alpha=0.5)


def test_cost_of_a_hand_built_graph():
    g = lemma.Graph()
    x = g.input("x", [4, 64])
    w = g.weight("w", [64, 64])
    g.output("y", g.matmul(x, w))
    small = g.cost()
    g2 = lemma.Graph()
    x2 = g2.input("x", [4, 64])
    w2 = g2.weight("w", [64, 64])
    g2.output("y", g2.matmul(g2.matmul(x2, w2), w2))
    assert 0 < small < g2.cost()
