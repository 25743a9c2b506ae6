"""Every ONNX op lemma reads, in a small model built with onnx.helper:

  1. ONNX Runtime runs the model: the expected outputs;
  2. `lemma import` reads it (graph text + weight data), `lemma export` writes it back,
     and ONNX Runtime runs the exported model: the same outputs;
  3. `lemma run --inputs --save` evaluates the ONNX model with lemma's reference
     evaluator (float64): the same outputs.
"""
import math

import numpy as np
import pytest

from conftest import (TensorProto, helper, lemma, lemma_tensors, make_model, onnx,
                      ort_inputs, ort_run, random_inputs)

R = np.random.default_rng(7)


def w(*shape, scale=0.5):
    return (R.standard_normal(shape) * scale).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


N = helper.make_node

# name -> (model, IR ops the imported text must contain)
CASES = {}


def case(name, model, expect=()):
    CASES[name] = (model, expect)


# ---- Conv, Gemm, MatMul
case("conv_bias", make_model(
    [N("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])],
    [("x", [1, 3, 8, 8])], [("y", [1, 4, 8, 8])], [("w", w(4, 3, 3, 3)), ("b", w(4))]),
    ["conv2d(", "broadcast_add("])
case("conv_group_stride_dilation", make_model(
    [N("Conv", ["x", "w"], ["y"], group=2, strides=[2, 2], dilations=[2, 2], pads=[1, 0, 2, 1],
       kernel_shape=[3, 3])],
    [("x", [1, 4, 9, 9])], [("y", None)], [("w", w(6, 2, 3, 3))]), ["groups=2"])
case("conv_same_upper", make_model(
    [N("Conv", ["x", "w"], ["y"], auto_pad="SAME_UPPER", strides=[2, 2])],
    [("x", [1, 2, 7, 6])], [("y", None)], [("w", w(3, 2, 3, 2))]), ["padding=same"])
case("conv_same_lower", make_model(
    [N("Conv", ["x", "w"], ["y"], auto_pad="SAME_LOWER", strides=[2, 1])],
    [("x", [1, 2, 6, 6])], [("y", None)], [("w", w(3, 2, 4, 4))]), ["pads="])
case("conv_valid_relu_fused", make_model(
    [N("Conv", ["x", "w"], ["c"], auto_pad="VALID"), N("Relu", ["c"], ["y"])],
    [("x", [2, 3, 5, 5])], [("y", None)], [("w", w(4, 3, 3, 3))]), ["activation=relu"])
case("conv_tanh_sigmoid_fused", make_model(
    [N("Conv", ["x", "w"], ["c"]), N("Tanh", ["c"], ["t"]),
     N("Conv", ["t", "w2"], ["d"]), N("Sigmoid", ["d"], ["y"])],
    [("x", [1, 3, 5, 5])], [("y", None)], [("w", w(3, 3, 1, 1)), ("w2", w(2, 3, 1, 1))]),
    ["activation=tanh", "activation=sigmoid"])
case("gemm_alpha_beta_transB", make_model(
    [N("Gemm", ["a", "b", "c"], ["y"], alpha=0.5, beta=2.0, transB=1)],
    [("a", [3, 5])], [("y", None)], [("b", w(4, 5)), ("c", w(4))]),
    ["transpose(", "scalar_mul(", "broadcast_add("])
case("gemm_transA_relu", make_model(
    [N("Gemm", ["a", "b"], ["g"], transA=1), N("Relu", ["g"], ["y"])],
    [("a", [5, 3])], [("y", None)], [("b", w(5, 4))]), ["activation=relu"])
case("matmul_batched", make_model(
    [N("MatMul", ["a", "b"], ["y"])], [("a", [2, 3, 4, 5])], [("y", None)], [("b", w(5, 6))]),
    ["matmul("])
case("matmul_vectors", make_model(
    [N("MatMul", ["v", "m"], ["p"]), N("MatMul", ["t", "v2"], ["q"])],
    [("v", [4]), ("m", [4, 3]), ("t", [2, 3, 4]), ("v2", [4])], [("p", [3]), ("q", [2, 3])]),
    ["reshape("])

# ---- Elementwise
case("add_sub_mul_div_broadcast", make_model(
    [N("Add", ["x", "b"], ["s"]), N("Sub", ["s", "x"], ["d"]), N("Mul", ["d", "c"], ["m"]),
     N("Div", ["m", "e"], ["y"]), N("Add", ["x", "x"], ["z"]), N("Mul", ["x", "x"], ["q"])],
    [("x", [2, 3, 4])], [("y", None), ("z", None), ("q", None)],
    [("b", w(4)), ("c", w(3, 1)), ("e", (np.abs(w(4)) + 1).astype(np.float32))]),
    ["broadcast_add(", "broadcast_sub(", "broadcast_mul(", "broadcast_div(", "ewadd(", "ewmul("])
case("mul_by_scalar", make_model(
    [N("Mul", ["x", "s"], ["y"])], [("x", [2, 3])], [("y", None)],
    [("s", np.array(0.25, dtype=np.float32))]), ["scalar_mul("])
case("relu_sigmoid_tanh", make_model(
    [N("Relu", ["x"], ["r"]), N("Sigmoid", ["r"], ["s"]), N("Tanh", ["x"], ["t"]),
     N("Add", ["s", "t"], ["y"])], [("x", [3, 4])], [("y", None)]),
    ["relu(", "sigmoid(", "tanh("])
SQRT2 = np.array(math.sqrt(2), dtype=np.float32)
case("gelu_erf_pytorch_form", make_model(
    [N("Div", ["x", "sqrt2"], ["a"]), N("Erf", ["a"], ["e"]), N("Add", ["e", "one"], ["f"]),
     N("Mul", ["x", "f"], ["g"]), N("Mul", ["g", "half"], ["y"])],
    [("x", [2, 5])], [("y", None)],
    [("sqrt2", SQRT2), ("one", np.array(1, np.float32)), ("half", np.array(0.5, np.float32))]),
    ["gelu("])
case("gelu_erf_half_first_form", make_model(
    [N("Mul", ["x", "half"], ["h"]), N("Mul", ["x", "isqrt2"], ["a"]), N("Erf", ["a"], ["e"]),
     N("Add", ["one", "e"], ["f"]), N("Mul", ["h", "f"], ["y"])],
    [("x", [2, 5])], [("y", None)],
    [("isqrt2", np.array(1 / math.sqrt(2), np.float32)), ("one", np.array(1, np.float32)),
     ("half", np.array(0.5, np.float32))]), ["gelu("])
case("gelu_op_opset20", make_model(
    [N("Gelu", ["x"], ["y"])], [("x", [3, 4])], [("y", None)], opset=20), ["gelu("])
case("batchnorm", make_model(
    [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], epsilon=1e-3)],
    [("x", [2, 3, 4, 4])], [("y", None)],
    [("s", w(3)), ("b", w(3)), ("m", w(3)), ("v", (np.abs(w(3)) + 0.5).astype(np.float32))]),
    ["batchnorm("])

# ---- Pooling
case("maxpool_pads_strides", make_model(
    [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])],
    [("x", [1, 2, 7, 7])], [("y", None)]), ["maxpool2d("])
case("maxpool_ceil_mode", make_model(
    [N("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)],
    [("x", [1, 2, 6, 8])], [("y", [1, 2, 3, 4])]), ["maxpool2d("])
case("avgpool_exclude_and_include_pad", make_model(
    [N("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
     N("AveragePool", ["x"], ["b"], kernel_shape=[2, 3], pads=[1, 1, 0, 1], strides=[2, 1],
       count_include_pad=1)],
    [("x", [1, 2, 5, 5])], [("a", None), ("b", None)]), ["count_include_pad=1"])
case("avgpool_same_upper", make_model(
    [N("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2])],
    [("x", [1, 2, 6, 5])], [("y", None)]), ["padding=same"])
case("global_pools", make_model(
    [N("GlobalAveragePool", ["x"], ["a"]), N("GlobalMaxPool", ["x"], ["m"])],
    [("x", [2, 3, 4, 5])], [("a", [2, 3, 1, 1]), ("m", None)]), ["avgpool2d(", "maxpool2d("])

# ---- Shapes and data movement
case("concat_split_opset13", make_model(
    [N("Concat", ["x", "z"], ["c"], axis=1), N("Split", ["c", "sizes"], ["p", "q", "r"], axis=1)],
    [("x", [2, 3, 2]), ("z", [2, 4, 2])], [("p", None), ("q", None), ("r", None)],
    [("sizes", i64(2, 1, 4))]), ["concat(", "split("])
case("split_attribute_opset11", make_model(
    [N("Split", ["x"], ["a", "b"], axis=-1, split=[1, 3])],
    [("x", [2, 4])], [("a", None), ("b", None)], opset=11), ["sizes=[1,3]"])
case("split_equal_parts", make_model(
    [N("Split", ["x"], ["a", "b", "c"], axis=0)], [("x", [6, 2])],
    [("a", None), ("b", None), ("c", None)]), ["sizes=[2,2,2]"])
case("split_num_outputs_opset18", make_model(
    [N("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)], [("x", [2, 7])],
    [("a", None), ("b", None), ("c", None)], opset=18), ["sizes=[3,3,1]"])
case("reshape_flatten_transpose", make_model(
    [N("Reshape", ["x", "shape"], ["r"]), N("Transpose", ["r"], ["t"], perm=[2, 0, 1]),
     N("Flatten", ["t"], ["f"], axis=2), N("Transpose", ["f"], ["y"])],
    [("x", [2, 3, 4])], [("y", None)], [("shape", i64(0, -1, 2))]), ["reshape(", "transpose("])
case("softmax_opset13_axis1", make_model(
    [N("Softmax", ["x"], ["y"], axis=1)], [("x", [2, 3, 4])], [("y", None)], opset=13),
    ["softmax("])
case("softmax_opset11_coerced_2d", make_model(
    [N("Softmax", ["x"], ["y"], axis=1)], [("x", [2, 3, 4])], [("y", None)], opset=11),
    ["softmax("])
case("layernorm_op", make_model(
    [N("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1, epsilon=1e-5)],
    [("x", [2, 3, 6])], [("y", None)], [("g", w(6)), ("b", w(6))]), ["layernorm("])
case("layernorm_op_no_bias_two_axes", make_model(
    [N("LayerNormalization", ["x", "g"], ["y"], axis=1)],
    [("x", [2, 3, 4])], [("y", None)], [("g", w(3, 4))]), ["layernorm("])
case("layernorm_decomposed", make_model(
    [N("ReduceMean", ["x"], ["m"], axes=[-1]), N("Sub", ["x", "m"], ["d"]),
     N("Pow", ["d", "two"], ["p"]), N("ReduceMean", ["p"], ["v"], axes=[-1]),
     N("Add", ["v", "eps"], ["ve"]), N("Sqrt", ["ve"], ["s"]), N("Div", ["d", "s"], ["n"]),
     N("Mul", ["n", "g"], ["gn"]), N("Add", ["gn", "b"], ["y"])],
    [("x", [2, 3, 8])], [("y", None)],
    [("two", np.array(2, np.float32)), ("eps", np.array(1e-5, np.float32)), ("g", w(8)),
     ("b", w(8))], opset=13), ["layernorm("])
case("pad_constant", make_model(
    [N("Pad", ["x", "pads", "value"], ["y"])], [("x", [2, 3])], [("y", [4, 6])],
    [("pads", i64(1, 0, 1, 3)), ("value", np.array(1.5, np.float32))]), ["pad("])
case("slice_negative_steps_clamped", make_model(
    [N("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])], [("x", [5, 6, 7])],
    [("y", None)],
    [("starts", i64(-4, 1)), ("ends", i64(2**62, -1)), ("axes", i64(2, 0)), ("steps", i64(2, 1))]),
    ["slice("])
case("squeeze_unsqueeze_opset13", make_model(
    [N("Unsqueeze", ["x", "ax"], ["u"]), N("Squeeze", ["u", "ax2"], ["s"]), N("Squeeze", ["s"], ["y"])],
    [("x", [2, 1, 3])], [("y", [2, 3])], [("ax", i64(0, -1)), ("ax2", i64(4))]), ["reshape("])
case("squeeze_unsqueeze_opset11", make_model(
    [N("Unsqueeze", ["x"], ["u"], axes=[1]), N("Squeeze", ["u"], ["y"], axes=[1])],
    [("x", [2, 3])], [("y", [2, 3])], opset=11), ["reshape("])
case("reduce_attr_axes_opset17", make_model(
    [N("ReduceMean", ["x"], ["a"], axes=[1], keepdims=0), N("ReduceMax", ["x"], ["b"], axes=[0, 2]),
     N("ReduceSum", ["x", "ax"], ["c"], keepdims=0)],
    [("x", [2, 3, 4])], [("a", None), ("b", None), ("c", None)], [("ax", i64(-1))]),
    ["reduce_mean(", "reduce_max(", "reduce_sum("])
case("reduce_input_axes_opset18", make_model(
    [N("ReduceMean", ["x", "ax"], ["a"]), N("ReduceMax", ["x"], ["b"], keepdims=0)],
    [("x", [2, 3, 4])], [("a", None), ("b", None)], [("ax", i64(0, 2))], opset=18),
    ["reduce_mean(", "reduce_max("])
case("constant_identity_dropout", make_model(
    [N("Constant", [], ["k"], value=helper.make_tensor("k", TensorProto.FLOAT, [3], [1, -2, 3])),
     N("Constant", [], ["f"], value_float=2.0),
     N("Mul", ["x", "k"], ["m"]), N("Identity", ["m"], ["i"]), N("Dropout", ["i"], ["d"]),
     N("Mul", ["d", "f"], ["y"])],
    [("x", [2, 3])], [("y", None)]), ["broadcast_mul(", "scalar_mul("])
case("odd_names_sanitized", make_model(
    [N("Relu", ["input.1"], ["onnx::Relu_3"]), N("Add", ["onnx::Relu_3", "1bias"], ["out:0"])],
    [("input.1", [2, 2])], [("out:0", None)], [("1bias", w(2))]), ["onnx__Relu_3"])

# ---- Small networks as exporters write them.
case("torchvision_style_cnn", make_model(
    [N("Conv", ["x", "c1w", "c1b"], ["c1"], pads=[3, 3, 3, 3], strides=[2, 2]),
     N("BatchNormalization", ["c1", "bns", "bnb", "bnm", "bnv"], ["bn"]),
     N("Relu", ["bn"], ["r"]),
     N("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
     N("Conv", ["p", "c2w"], ["c2"], pads=[1, 1, 1, 1]), N("Relu", ["c2"], ["r2"]),
     N("Add", ["r2", "p"], ["res"]), N("GlobalAveragePool", ["res"], ["g"]),
     N("Flatten", ["g"], ["f"]), N("Gemm", ["f", "fcw", "fcb"], ["y"], transB=1)],
    [("x", [1, 3, 32, 32])], [("y", [1, 10])],
    [("c1w", w(8, 3, 7, 7, scale=0.2)), ("c1b", w(8)), ("bns", w(8)), ("bnb", w(8)),
     ("bnm", w(8)), ("bnv", (np.abs(w(8)) + 0.5).astype(np.float32)),
     ("c2w", w(8, 8, 3, 3, scale=0.2)), ("fcw", w(10, 8)), ("fcb", w(10))], opset=13),
    ["batchnorm(", "activation=relu", "avgpool2d("])
case("transformer_block", make_model(
    [N("MatMul", ["x", "wq"], ["q"]), N("MatMul", ["x", "wk"], ["k"]),
     N("MatMul", ["x", "wv"], ["v"]),
     N("Reshape", ["q", "heads"], ["qh"]), N("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
     N("Reshape", ["k", "heads"], ["kh"]), N("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
     N("Reshape", ["v", "heads"], ["vh"]), N("Transpose", ["vh"], ["vt"], perm=[0, 2, 1, 3]),
     N("MatMul", ["qt", "kt"], ["s"]), N("Div", ["s", "scale"], ["ss"]),
     N("Softmax", ["ss"], ["a"], axis=-1), N("MatMul", ["a", "vt"], ["o"]),
     N("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]), N("Reshape", ["ot", "flat"], ["of"]),
     N("Add", ["of", "x"], ["res"]),
     N("LayerNormalization", ["res", "g", "b"], ["ln"]),
     N("MatMul", ["ln", "w1"], ["h1"]), N("Add", ["h1", "b1"], ["h1b"]),
     N("Div", ["h1b", "sqrt2"], ["ga"]), N("Erf", ["ga"], ["ge"]), N("Add", ["ge", "one"], ["gf"]),
     N("Mul", ["h1b", "gf"], ["gm"]), N("Mul", ["gm", "half"], ["gelu"]),
     N("MatMul", ["gelu", "w2"], ["h2"]), N("Add", ["h2", "ln"], ["y"])],
    [("x", [2, 5, 8])], [("y", [2, 5, 8])],
    [("wq", w(8, 8)), ("wk", w(8, 8)), ("wv", w(8, 8)), ("heads", i64(2, 5, 2, 4)),
     ("scale", np.array(2.0, np.float32)), ("flat", i64(2, 5, 8)), ("g", w(8)), ("b", w(8)),
     ("w1", w(8, 16)), ("b1", w(16)), ("sqrt2", SQRT2), ("one", np.array(1, np.float32)),
     ("half", np.array(0.5, np.float32)), ("w2", w(16, 8))]),
    ["softmax(", "layernorm(", "gelu("])


@pytest.mark.parametrize("name", sorted(CASES))
def test_import_export_run(name, tmp_path):
    model, expect = CASES[name]
    src = tmp_path / "model.onnx"
    onnx.save(model, src)
    feeds = random_inputs(src)
    want = ort_run(src, feeds)

    lemma("import", src, "-o", tmp_path / "model.lemma", "--weights", tmp_path / "w.tensors")
    text = (tmp_path / "model.lemma").read_text()
    for op in expect:
        assert op in text, f"imported graph lacks {op!r}:\n{text}"
    assert "Erf" not in text

    back = tmp_path / "back.onnx"
    lemma("export", tmp_path / "model.lemma", "--weights", tmp_path / "w.tensors",
          "--missing-weights", "error", "-o", back)
    onnx.checker.check_model(onnx.load(back), full_check=True)
    back_inputs = [n for n, _ in ort_inputs(back)]
    assert len(back_inputs) == len(feeds)
    got = ort_run(back, dict(zip(back_inputs, feeds.values())))
    assert len(got) == len(want)
    for (wn, wv), (gn, gv) in zip(want.items(), got.items()):
        assert gv.shape == wv.shape, (wn, gn)
        np.testing.assert_allclose(gv, wv, rtol=1e-4, atol=1e-5, err_msg=f"{wn} after export")

    # The reference evaluator on the ONNX model, inputs fed by (sanitized) name.
    inputs = {n: v for n, v in zip(lemma_input_names(text), feeds.values())}
    lemma_tensors.write(tmp_path / "in.tensors", inputs)
    lemma("run", src, "--inputs", tmp_path / "in.tensors", "--save", tmp_path / "out.tensors")
    mine = lemma_tensors.read(tmp_path / "out.tensors")
    outputs = lemma_output_names(text)
    assert len(outputs) == len(want)
    for out, (wn, wv) in zip(outputs, want.items()):
        np.testing.assert_allclose(mine[out], wv, rtol=1e-4, atol=1e-5, err_msg=f"{wn} by lemma run")


def lemma_input_names(text):
    return [line.split()[1].rstrip(":") for line in text.splitlines() if line.strip().startswith("input ")]


def lemma_output_names(text):
    return [line.split()[1] for line in text.splitlines() if line.strip().startswith("output ")]


def test_declared_shapes_are_checked(tmp_path):
    model = make_model([N("Relu", ["x"], ["y"])], [("x", [2, 3])], [("y", [3, 2])])
    onnx.save(model, tmp_path / "bad.onnx")
    out = lemma("import", tmp_path / "bad.onnx", expect=1)
    assert "bad.onnx" in out and "declares f32[3,2] but lemma infers f32[2,3]" in out


def test_unsupported_op_names_node_type_and_opset(tmp_path):
    model = make_model([N("Erf", ["x"], ["y"], name="the_erf")], [("x", [2])], [("y", None)])
    onnx.save(model, tmp_path / "erf.onnx")
    out = lemma("import", tmp_path / "erf.onnx", expect=1)
    assert "node 'the_erf' (Erf, opset 17)" in out and "not supported" in out


def test_truncated_file_is_an_error(tmp_path):
    model = CASES["torchvision_style_cnn"][0]
    data = model.SerializeToString()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    out = lemma("stats", tmp_path / "cut.onnx", expect=1)
    assert "cut.onnx" in out


def test_symbolic_batch_needs_a_value(tmp_path):
    model = make_model([N("Relu", ["x"], ["y"])], [("x", ["batch", 3])], [("y", None)])
    onnx.save(model, tmp_path / "dyn.onnx")
    assert "symbolic dimension 'batch'" in lemma("print", tmp_path / "dyn.onnx", expect=1)
    assert "f32[4,3]" in lemma("print", tmp_path / "dyn.onnx", "--dim", "batch=4")


def test_print_stats_run_read_onnx(tmp_path):
    model = CASES["torchvision_style_cnn"][0]
    onnx.save(model, tmp_path / "cnn.onnx")
    assert "graph test" in lemma("print", tmp_path / "cnn.onnx")
    stats = lemma("stats", tmp_path / "cnn.onnx")
    assert "weights w/ data  9 of 9" in stats
    assert "checksum" in lemma("run", tmp_path / "cnn.onnx")


def test_no_fuse_keeps_activations(tmp_path):
    model = CASES["conv_valid_relu_fused"][0]
    onnx.save(model, tmp_path / "m.onnx")
    text = lemma("print", tmp_path / "m.onnx", "--no-fuse")
    assert "relu(" in text and "activation" not in text
