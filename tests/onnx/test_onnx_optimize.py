"""`lemma optimize model.onnx -o model.opt.onnx`: reads ONNX with its weights, optimizes
with the shipped rules, writes ONNX with the weights' data; the optimized model runs
in ONNX Runtime and computes what the original computes."""
import re

import numpy as np

from conftest import helper, lemma, make_model, onnx, ort_run, random_inputs

R = np.random.default_rng(21)
N = helper.make_node


def w(*shape):
    return (R.standard_normal(shape) * 0.1).astype(np.float32)


def branches_model():
    """Two 3x3 convs of x, added (the rules merge them into one conv of the summed
    weights, a tensor computed from weights alone), then a reshape fed by a shape
    chain and a Gemm."""
    nodes = [N("Conv", ["x", "w1"], ["a"], auto_pad="SAME_UPPER"),
             N("Conv", ["x", "w2"], ["b"], auto_pad="SAME_UPPER"),
             N("Add", ["a", "b"], ["s"]), N("Relu", ["s"], ["r"]),
             N("Shape", ["r"], ["shape"]), N("Gather", ["shape", "zero"], ["n"]),
             N("Unsqueeze", ["n", "axis0"], ["n1"]), N("Concat", ["n1", "minus1"], ["to"], axis=0),
             N("Reshape", ["r", "to"], ["f"]), N("Gemm", ["f", "fc", "fcb"], ["y"], transB=1)]
    inits = [("w1", w(8, 8, 3, 3)), ("w2", w(8, 8, 3, 3)), ("zero", np.array(0, np.int64)),
             ("axis0", np.array([0], np.int64)), ("minus1", np.array([-1], np.int64)),
             ("fc", w(10, 8 * 6 * 6)), ("fcb", w(10))]
    return make_model(nodes, [("x", [2, 8, 6, 6])], [("y", [2, 10])], inits)


def test_optimize_onnx_round_trip(tmp_path):
    src = tmp_path / "model.onnx"
    onnx.save(branches_model(), src)
    out = tmp_path / "model.opt.onnx"
    report = lemma("optimize", src, "-o", out, "--budget", "50", "--explain")
    before = float(re.search(r"cost before ([0-9.]+) ms", report).group(1))
    after = float(re.search(r"cost after +([0-9.]+) ms", report).group(1))
    assert after < before, report
    assert re.search(r"optimized in [0-9.]+ s", report), report
    assert re.search(r"rule g\d+ at ", report), report
    opt = onnx.load(out)
    onnx.checker.check_model(opt, full_check=True)
    assert sum(n.op_type == "Conv" for n in opt.graph.node) == 1
    assert {i.name for i in opt.graph.initializer} >= {"w1", "w2", "fc"}
    feeds = random_inputs(src)
    want = ort_run(src, feeds)["y"]
    got = ort_run(out, feeds)["y"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # Deterministic: the same model again, byte for byte.
    lemma("optimize", src, "-o", tmp_path / "again.onnx", "--budget", "50")
    assert (tmp_path / "again.onnx").read_bytes() == out.read_bytes()


def test_optimize_text_model_to_onnx_needs_weights(tmp_path):
    src = tmp_path / "model.onnx"
    onnx.save(branches_model(), src)
    lemma("import", src, "-o", tmp_path / "m.lemma", "--weights", tmp_path / "w.tensors")
    out = lemma("optimize", tmp_path / "m.lemma", "-o", tmp_path / "x.onnx", expect=1)
    assert "weight 'w1' has no data" in out and "--weights" in out
    lemma("optimize", tmp_path / "m.lemma", "--weights", tmp_path / "w.tensors",
          "-o", tmp_path / "t.onnx")
    feeds = random_inputs(src)
    np.testing.assert_allclose(ort_run(tmp_path / "t.onnx", feeds)["y"], ort_run(src, feeds)["y"],
                               rtol=1e-4, atol=1e-5)
    # A text OUT is still lemma's text format.
    lemma("optimize", src, "-o", tmp_path / "opt.lemma")
    assert (tmp_path / "opt.lemma").read_text().startswith("graph ")


def test_optimize_zoo_nasrnn_precomputed_weights(tmp_path):
    """NASRNN (small sizes): the rules rewrite its matmuls into ones of tensors
    computed from weights alone (precomputed); the exported model computes them
    with ONNX ops from the original data and matches the original."""
    lemma("zoo", "nasrnn", "--small", "-o", tmp_path / "nasrnn.lemma")
    src = tmp_path / "nasrnn.onnx"
    lemma("export", tmp_path / "nasrnn.lemma", "--seed", "3", "-o", src)
    out = tmp_path / "nasrnn.opt.onnx"
    report = lemma("optimize", src, "-o", out, "--budget", "20")
    applied = int(re.search(r"rules applied (\d+); (\d+) ops precomputed", report).group(1))
    precomputed = int(re.search(r"(\d+) ops precomputed", report).group(1))
    assert applied > 0 and precomputed > 0, report
    feeds = random_inputs(src)
    want, got = ort_run(src, feeds), ort_run(out, feeds)
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-4, atol=1e-5, err_msg=name)
