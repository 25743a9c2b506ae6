"""Shape computations as torch.onnx exports them (Shape, Gather, Unsqueeze, Concat,
Cast, ConstantOfShape, Range, Expand, Slice of shapes, ...), folded by lemma at import
time into constants; and the forms of ops whose axes moved from attributes to inputs
between opsets 11 and 18, checked in every opset lemma reads (11 to 21). Each model is
built with onnx.helper, run in ONNX Runtime, imported by lemma, exported again and
run: the outputs must agree."""
import re

import numpy as np
import pytest

from conftest import (TensorProto, helper, lemma, make_model, onnx, ort_inputs, ort_run,
                      random_inputs)

R = np.random.default_rng(11)
N = helper.make_node


def w(*shape, scale=0.5):
    return (R.standard_normal(shape) * scale).astype(np.float32)


def i64(*values):
    return np.array(values, dtype=np.int64)


def scalar64(v):
    return np.array(v, dtype=np.int64)


def roundtrip(model, tmp_path):
    """Imports `model` with lemma and exports it again; both run in ONNX Runtime on the
    same inputs and agree. Returns the imported graph's text."""
    src = tmp_path / "model.onnx"
    onnx.save(model, src)
    feeds = random_inputs(src)
    want = ort_run(src, feeds)
    lemma("import", src, "-o", tmp_path / "m.lemma", "--weights", tmp_path / "w.tensors")
    text = (tmp_path / "m.lemma").read_text()
    back = tmp_path / "back.onnx"
    lemma("export", tmp_path / "m.lemma", "--weights", tmp_path / "w.tensors",
          "--missing-weights", "error", "-o", back)
    onnx.checker.check_model(onnx.load(back), full_check=True)
    names = [n for n, _ in ort_inputs(back)]
    got = ort_run(back, dict(zip(names, feeds.values())))
    assert len(got) == len(want)
    for (wn, wv), gv in zip(want.items(), got.values()):
        assert gv.shape == wv.shape, wn
        np.testing.assert_allclose(gv, wv, rtol=1e-4, atol=1e-5, err_msg=wn)
    return text


def flatten_chain(opset):
    """torch.flatten(x, 1): Shape -> Gather(0) -> Unsqueeze -> Concat([., -1]) -> Reshape."""
    unsq = (N("Unsqueeze", ["b"], ["bu"], axes=[0]) if opset < 13
            else N("Unsqueeze", ["b", "zero_axis"], ["bu"]))
    inits = [("idx0", scalar64(0)), ("minus1", i64(-1))]
    if opset >= 13:
        inits.append(("zero_axis", i64(0)))
    return make_model(
        [N("Shape", ["x"], ["s"]), N("Gather", ["s", "idx0"], ["b"], axis=0), unsq,
         N("Concat", ["bu", "minus1"], ["shape"], axis=0), N("Reshape", ["x", "shape"], ["f"]),
         N("Gemm", ["f", "fw"], ["y"], transB=1)],
        [("x", [2, 3, 4, 5])], [("y", [2, 7])], inits + [("fw", w(7, 60))], opset=opset)


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_flatten_via_shape_gather_unsqueeze_concat(tmp_path, opset):
    text = roundtrip(flatten_chain(opset), tmp_path)
    assert re.search(r"= reshape\(x\) \{shape=\[2, ?-1\]\} : f32\[2,60\]", text), text
    assert "i64" not in text, "the shape chain should leave no integer tensors behind"


def test_transformer_heads_reshape(tmp_path):
    """[B,S,H] -> [B,S,heads,H/heads] with the sizes read from Shape, the head size
    computed by Div, then the usual transpose and the scale 1/sqrt(head size)."""
    heads = 3
    nodes = [
        N("MatMul", ["x", "wq"], ["q"]),
        N("Shape", ["q"], ["s"]),
        N("Gather", ["s", "i0"], ["b"], axis=0), N("Gather", ["s", "i1"], ["sq"], axis=0),
        N("Gather", ["s", "i2"], ["h"], axis=0), N("Div", ["h", "nheads"], ["dh"]),
        N("Unsqueeze", ["b", "ax0"], ["b1"]), N("Unsqueeze", ["sq", "ax0"], ["s1"]),
        N("Unsqueeze", ["dh", "ax0"], ["d1"]),
        N("Concat", ["b1", "s1", "heads_1d", "d1"], ["shape"], axis=0),
        N("Reshape", ["q", "shape"], ["r"]),
        N("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
        # The attention scale 1/sqrt(head size), from the shape as well.
        N("Cast", ["dh"], ["dhf"], to=TensorProto.FLOAT), N("Sqrt", ["dhf"], ["root"]),
        N("Reciprocal", ["root"], ["scale"]), N("Mul", ["t", "scale"], ["y"]),
    ]
    inits = [("wq", w(12, 12)), ("i0", scalar64(0)), ("i1", scalar64(1)), ("i2", scalar64(2)),
             ("nheads", scalar64(heads)), ("ax0", i64(0)), ("heads_1d", i64(heads))]
    text = roundtrip(make_model(nodes, [("x", [2, 5, 12])], [("y", [2, 3, 5, 4])], inits), tmp_path)
    assert re.search(r"= reshape\(q\) \{shape=\[2, ?5, ?3, ?4\]\} : f32\[2,5,3,4\]", text), text
    assert "scalar_mul(" in text and "i64" not in text


def test_shape_slice_cast_and_constant_of_shape_expand_range(tmp_path):
    """Shape -> Slice -> Concat -> Reshape (flatten from dim 2), Cast round trips of a
    shape, ConstantOfShape and Expand of a weight to the shape of x, and Range feeding
    a position term."""
    nodes = [
        N("Shape", ["x"], ["s"]),
        N("Slice", ["s", "st", "en"], ["s2"]),
        N("Cast", ["s2"], ["s2f"], to=TensorProto.FLOAT),
        N("Cast", ["s2f"], ["s2i"], to=TensorProto.INT64),
        N("Concat", ["s2i", "minus1"], ["shape"], axis=0),
        N("Reshape", ["x", "shape"], ["flat"]),                     # [2,3,20]
        N("Shape", ["flat"], ["fs"]),
        N("ConstantOfShape", ["fs"], ["ones"],
          value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
        N("Mul", ["flat", "ones"], ["m"]),
        N("Expand", ["bias", "fs"], ["be"]),
        N("Add", ["m", "be"], ["a"]),
        N("Gather", ["fs", "i2"], ["n"], axis=0),
        N("Range", ["zero", "n", "one"], ["pos"]),
        N("Cast", ["pos"], ["posf"], to=TensorProto.FLOAT),
        N("Add", ["a", "posf"], ["y"]),
    ]
    inits = [("st", i64(0)), ("en", i64(2)), ("minus1", i64(-1)), ("bias", w(20)),
             ("i2", scalar64(2)), ("zero", scalar64(0)), ("one", scalar64(1))]
    text = roundtrip(make_model(nodes, [("x", [2, 3, 4, 5])], [("y", [2, 3, 20])], inits), tmp_path)
    assert re.search(r"= reshape\(x\) \{shape=\[2, ?3, ?-1\]\} : f32\[2,3,20\]", text), text
    assert "i64" not in text


def test_expand_and_gather_of_computed_tensors(tmp_path):
    """Expand of an activation (a broadcast), Gather of one position of an activation
    (the CLS token: a slice), and a Cast to the tensor's own type."""
    nodes = [
        N("Relu", ["x"], ["r"]),                                   # [2,1,4]
        N("Expand", ["r", "to"], ["e"]),                           # [2,3,4]
        N("Gather", ["e", "first"], ["cls"], axis=1),             # [2,4]
        N("Cast", ["cls"], ["c"], to=TensorProto.FLOAT),
        N("Gather", ["e", "pair"], ["two"], axis=-1),             # [2,3,2]
    ]
    inits = [("to", i64(2, 3, 4)), ("first", scalar64(0)), ("pair", i64(1, 2))]
    roundtrip(make_model(nodes, [("x", [2, 1, 4])], [("c", [2, 4]), ("two", [2, 3, 2])], inits),
              tmp_path)


def test_a_chain_that_is_not_static_names_the_node(tmp_path):
    nodes = [N("Greater", ["x", "zero"], ["gt"], name="mask"),
             N("Where", ["gt", "x", "zero"], ["y"])]
    model = make_model(nodes, [("x", [2, 3])], [("y", None)], [("zero", np.array(0, np.float32))])
    onnx.save(model, tmp_path / "dyn.onnx")
    out = lemma("import", tmp_path / "dyn.onnx", expect=1)
    assert "node 'mask' (Greater, opset 17)" in out
    assert "not known when the model is read" in out and "'x'" in out


def test_gather_of_computed_tensor_with_scattered_indices_is_an_error(tmp_path):
    nodes = [N("Gather", ["x", "idx"], ["y"], axis=1, name="pick")]
    model = make_model(nodes, [("x", [2, 5])], [("y", None)], [("idx", i64(0, 3))])
    onnx.save(model, tmp_path / "g.onnx")
    out = lemma("import", tmp_path / "g.onnx", expect=1)
    assert "node 'pick' (Gather, opset 17)" in out and "ascending run" in out


def test_bad_folds_are_errors_not_crashes(tmp_path):
    cases = {
        "div0": ([N("Shape", ["x"], ["s"]), N("Div", ["s", "z"], ["d"], name="div0"),
                  N("Reshape", ["x", "d"], ["y"])], [("z", i64(0, 0))], "division by zero"),
        "gather_range": ([N("Shape", ["x"], ["s"]),
                          N("Gather", ["s", "k"], ["g"], name="gather_range"),
                          N("Reshape", ["x", "g"], ["y"])], [("k", i64(7))], "out of range"),
        "huge": ([N("ConstantOfShape", ["big"], ["c"], name="huge"),
                  N("Add", ["x", "c"], ["y"])], [("big", i64(1 << 20, 1 << 20, 1 << 20))],
                 "elements"),
    }
    for name, (nodes, inits, message) in cases.items():
        model = make_model(nodes, [("x", [2, 3])], [("y", None)], inits)
        onnx.save(model, tmp_path / f"{name}.onnx")
        out = lemma("import", tmp_path / f"{name}.onnx", expect=1)
        assert f"node '{name}'" in out and message in out, out


# ---- Ops whose form changed between opsets 11 and 18: each in the form of its opset.

def axes_forms(opset):
    """Squeeze, Unsqueeze, ReduceSum, ReduceMean, Split and Softmax as a model of `opset`
    writes them (axes as attributes or inputs, split sizes, softmax's axis)."""
    nodes, inits = [], []
    if opset >= 13:
        nodes += [N("Unsqueeze", ["x", "ax1"], ["u"]), N("Squeeze", ["u", "ax1"], ["s"]),
                  N("ReduceSum", ["x", "ax2"], ["rs"], keepdims=1)]
        inits += [("ax1", i64(1)), ("ax2", i64(2))]
        nodes.append(N("Split", ["s", "sizes"], ["p", "q"], axis=2))
        inits.append(("sizes", i64(1, 3)))
    else:
        nodes += [N("Unsqueeze", ["x"], ["u"], axes=[1]), N("Squeeze", ["u"], ["s"], axes=[1]),
                  N("ReduceSum", ["x"], ["rs"], axes=[2], keepdims=1),
                  N("Split", ["s"], ["p", "q"], axis=2, split=[1, 3])]
    if opset >= 18:
        nodes.append(N("ReduceMean", ["x", "ax0"], ["rm"], keepdims=0))
        inits.append(("ax0", i64(0)))
    else:
        nodes.append(N("ReduceMean", ["x"], ["rm"], axes=[0], keepdims=0))
    # Softmax over axis 1 of a rank-3 tensor: before 13 it normalises dims 1 and 2 together.
    nodes.append(N("Softmax", ["x"], ["sm"], axis=1))
    outputs = [("p", None), ("q", None), ("rs", None), ("rm", None), ("sm", None)]
    return make_model(nodes, [("x", [2, 3, 4])], outputs, inits, opset=opset)


@pytest.mark.parametrize("opset", list(range(11, 22)))
def test_axes_attribute_and_input_forms(tmp_path, opset):
    text = roundtrip(axes_forms(opset), tmp_path)
    assert "split(" in text and "reduce_mean(" in text and "softmax(" in text


def test_softmax_before_13_differs_from_13(tmp_path):
    """The same Softmax node means two things: lemma follows the opset."""
    x = R.standard_normal((2, 3, 4)).astype(np.float32)
    outs = []
    for opset in (12, 13):
        model = make_model([N("Softmax", ["x"], ["y"], axis=1)], [("x", [2, 3, 4])], [("y", None)],
                           opset=opset)
        path = tmp_path / f"s{opset}.onnx"
        onnx.save(model, path)
        lemma("export", path, "-o", tmp_path / f"b{opset}.onnx")
        outs.append(ort_run(tmp_path / f"b{opset}.onnx", {"x": x})["y"])
    np.testing.assert_allclose(outs[0].reshape(2, 12).sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(outs[1].sum(1), 1, rtol=1e-5)
    assert not np.allclose(outs[0], outs[1])


# ---- Folding, op by op, on constants: ONNX Runtime computes the same values.

def arange(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape) - 3


FOLDS = {
    "slice_negative_step": ([N("Slice", ["d", "st", "en", "ax", "sp"], ["v"])],
                            [("d", arange(2, 5)), ("st", i64(4)), ("en", i64(-10)), ("ax", i64(1)),
                             ("sp", i64(-2))]),
    "slice_big_end_and_step": ([N("Slice", ["d", "st", "en", "ax", "sp"], ["v"])],
                               [("d", arange(3, 4)), ("st", i64(1, 0)), ("en", i64(2**62, -1)),
                                ("ax", i64(0, 1)), ("sp", i64(2**40, 2))]),
    "gather_axis1_matrix_indices": ([N("Gather", ["d", "k"], ["v"], axis=1)],
                                    [("d", arange(2, 5)),
                                     ("k", np.array([[0, 4], [-1, 1]], np.int64))]),
    "where_equal_minus_one": ([N("Equal", ["a", "m1"], ["e"]),
                               N("Where", ["e", "one", "a"], ["v"])],
                              [("a", i64(2, -1, 4)), ("m1", i64(-1)), ("one", i64(1))]),
    "range_negative_delta": ([N("Range", ["s", "l", "dl"], ["v"])],
                             [("s", scalar64(10)), ("l", scalar64(2)), ("dl", scalar64(-3))]),
    "range_float": ([N("Range", ["s", "l", "dl"], ["v"])],
                    [("s", np.array(0.5, np.float32)), ("l", np.array(3, np.float32)),
                     ("dl", np.array(0.75, np.float32))]),
    "concat_axis1": ([N("Concat", ["a", "b"], ["v"], axis=1)],
                     [("a", arange(2, 2)), ("b", arange(2, 3))]),
    "expand_constant": ([N("Expand", ["a", "to"], ["v"])],
                        [("a", arange(3, 1)), ("to", i64(2, 1, 4))]),
    "div_mul_sub_truncating": ([N("Div", ["a", "b"], ["q"]), N("Mul", ["q", "b"], ["p"]),
                                N("Sub", ["a", "p"], ["v"])],
                               [("a", i64(-7, 7, -8)), ("b", i64(2, -2, 3))]),
    "min_max_neg_abs": ([N("Min", ["a", "b"], ["lo"]), N("Max", ["lo", "c"], ["hi"]),
                         N("Neg", ["hi"], ["n"]), N("Abs", ["n"], ["v"])],
                        [("a", arange(2, 3)), ("b", i64(1)), ("c", i64(-2, 0, 0))]),
    "constant_of_shape_int": ([N("ConstantOfShape", ["sh"], ["v"],
                                 value=helper.make_tensor("v", TensorProto.INT64, [1], [7]))],
                              [("sh", i64(2, 3))]),
    "squeeze_reshape_flatten": ([N("Reshape", ["a", "sh"], ["r"]),
                                 N("Flatten", ["r"], ["v"], axis=2)],
                                [("a", arange(2, 3, 4)), ("sh", i64(0, 1, -1, 2))]),
    "cast_float_floor_ceil": ([N("Cast", ["a"], ["f"], to=TensorProto.FLOAT),
                               N("Div", ["f", "two"], ["h"]), N("Floor", ["h"], ["lo"]),
                               N("Ceil", ["h"], ["hi"]), N("Add", ["lo", "hi"], ["s"]),
                               N("Cast", ["s"], ["v"], to=TensorProto.INT64)],
                              [("a", i64(-3, 5, 4)), ("two", np.array(2, np.float32))]),
}


@pytest.mark.parametrize("name", sorted(FOLDS))
def test_folded_values_match_onnxruntime(tmp_path, name):
    nodes, inits = FOLDS[name]
    nodes = nodes + [N("Cast", ["v"], ["y"], to=TensorProto.FLOAT), N("Relu", ["x"], ["z"])]
    model = make_model(nodes, [("x", [2])], [("y", None), ("z", None)], inits)
    text = roundtrip(model, tmp_path)
    assert "weight y" in text, "the chain should fold into a constant"
