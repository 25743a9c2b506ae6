"""Every lemma op exports to ONNX that ONNX Runtime runs with lemma's results.

Each graph is written in lemma's text format, exported with seeded random weights
(`lemma export --seed`), run in ONNX Runtime, and compared with `lemma run` on the
text graph (float32, the same seed: the same weights) on the same inputs. The
exported model is then imported again and must print as the same graph, for the
ops whose ONNX form reads back as themselves.
"""
import numpy as np
import pytest

from conftest import lemma, lemma_tensors, onnx, ort_inputs, ort_run, random_inputs

GRAPHS = {
    "conv_fused_activations": """
        input x: f32[1,4,6,6]
        weight w: f32[4,4,3,3]
        weight v: f32[2,4,1,3]
        a = conv2d(x, w) {padding=same, activation=sigmoid}
        b = conv2d(a, v) {stride=[2,1], pads=[0,1,1,1], activation=tanh}
        output y = b""",
    "matmul_activation_broadcast_batch": """
        input x: f32[2,3,4]
        weight w: f32[4,5]
        y = matmul(x, w) {activation=relu}
        output y = y""",
    "enlarge_and_constants": """
        input x: f32[1,3,5,5]
        weight k: f32[3,3,1,3]
        big = enlarge(k) {kernel=[3,5]}
        c1 = conv2d(x, big) {padding=same}
        pool = const_pool() {channels=3, kernel=[3,3]}
        c2 = conv2d(c1, pool) {padding=same, groups=3}
        eye = const_iconv() {channels=3, kernel=[3,3]}
        c3 = conv2d(c2, eye) {padding=same}
        ones = const_ones() {shape=[1,3,5,5]}
        s = ewadd(c3, ones)
        output y = s""",
    "identity_matrix_matmul": """
        input x: f32[3,4]
        i = const_imm() {size=4}
        y = matmul(x, i) {activation=tanh}
        output y = y""",
    "split_sizes_concat_transpose": """
        input x: f32[2,7,3]
        a, b, c = split(x) {axis=1, sizes=[1,4,2]}
        t = transpose(b) {perm=[2,0,1]}
        j = concat(c, a) {axis=1}
        output t = t
        output j = j""",
    "elementwise_family": """
        input x: f32[2,3]
        input z: f32[3]
        weight s: f32[]
        a = ewadd(x, x)
        m = ewmul(a, x)
        sm = scalar_mul(m, s)
        ba = broadcast_add(sm, z)
        bm = broadcast_mul(ba, z)
        bs = broadcast_sub(bm, z)
        one = const_ones() {shape=[3]}
        two = broadcast_add(one, one)
        bd = broadcast_div(bs, two)
        r = relu(bd)
        g = gelu(bs)
        sg = sigmoid(g)
        th = tanh(sg)
        output r = r
        output th = th""",
    "pools_same_and_explicit": """
        input x: f32[1,2,7,6]
        a = avgpool2d(x) {kernel=[3,3], stride=[2,2], padding=same}
        b = avgpool2d(x) {kernel=[3,2], pads=[1,1,1,0], count_include_pad=1}
        c = maxpool2d(x) {kernel=[2,3], stride=[2,2], padding=same}
        output a = a
        output b = b
        output c = c""",
    "norms_softmax_reshape": """
        input x: f32[2,3,4]
        weight g: f32[3,4]
        weight b: f32[3,4]
        weight s: f32[3]
        weight o: f32[3]
        weight m: f32[3]
        weight v: f32[3]
        ln = layernorm(x, g, b) {axis=1, epsilon=0.001}
        sm = softmax(ln) {axis=0}
        bn = batchnorm(sm, s, o, m, v)
        r = reshape(bn) {shape=[4,-1]}
        output y = r""",
    "pad_slice_reduce": """
        input x: f32[3,4,5]
        p = pad(x) {pads=[0,1,2,1,0,0], value=-1.5}
        s = slice(p) {axes=[2,0], starts=[1,1], ends=[7,4], steps=[2,1]}
        rs = reduce_sum(s) {axes=[0], keepdims=0}
        rm = reduce_mean(s) {axes=[1,2]}
        rx = reduce_max(s) {axes=[-1], keepdims=0}
        output rs = rs
        output rm = rm
        output rx = rx""",
    "outputs_that_are_inputs_or_shared": """
        input x: f32[2,2]
        weight w: f32[2,2]
        r = relu(x)
        output a = r
        output b = r
        output c = x
        output d = w
        output x = x""",
}


def graph_text(name):
    body = "\n".join(line.strip() for line in GRAPHS[name].strip().splitlines())
    return f"graph {name} {{\n{body}\n}}\n"


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_export_runs_in_onnxruntime_like_lemma(name, tmp_path):
    src = tmp_path / "g.lemma"
    src.write_text(graph_text(name))
    text = lemma("print", src)
    out = tmp_path / "g.onnx"
    lemma("export", src, "-o", out, "--seed", 3)
    onnx.checker.check_model(onnx.load(out), full_check=True)
    feeds = random_inputs(out, seed=5)
    want = ort_run(out, feeds)

    lemma_tensors.write(tmp_path / "in.tensors", feeds)
    lemma("run", src, "--domain", "f32", "--seed", 3, "--inputs", tmp_path / "in.tensors",
          "--save", tmp_path / "out.tensors")
    mine = lemma_tensors.read(tmp_path / "out.tensors")
    assert sorted(mine) == sorted(want)
    for k in want:
        assert mine[k].shape == want[k].shape, k
        np.testing.assert_allclose(mine[k], want[k], rtol=2e-4, atol=2e-5, err_msg=k)

    # Import the export: the same outputs again (through lemma's evaluator).
    lemma("run", out, "--domain", "f32", "--inputs", tmp_path / "in.tensors",
          "--save", tmp_path / "again.tensors")
    again = lemma_tensors.read(tmp_path / "again.tensors")
    for k in want:
        np.testing.assert_allclose(again[k], want[k], rtol=2e-4, atol=2e-5, err_msg=k)
    assert text  # the graph printed


def test_missing_weights_as_inputs(tmp_path):
    src = tmp_path / "g.lemma"
    src.write_text(graph_text("matmul_activation_broadcast_batch"))
    out = tmp_path / "g.onnx"
    lemma("export", src, "-o", out, "--missing-weights", "input")
    names = [n for n, _ in ort_inputs(out)]
    assert names == ["x", "w"]
    assert "weight 'w'" in lemma("export", src, "-o", out, "--missing-weights", "error", expect=1)


def test_zoo_block_matches_onnxruntime(tmp_path):
    src = tmp_path / "block.lemma"
    lemma("zoo", "resnext_block", "-o", src)
    out = tmp_path / "block.onnx"
    lemma("export", src, "-o", out, "--seed", 1)
    feeds = random_inputs(out)
    want = ort_run(out, feeds)["y"]
    lemma_tensors.write(tmp_path / "in.tensors", feeds)
    lemma("run", src, "--domain", "f32", "--seed", 1, "--inputs", tmp_path / "in.tensors",
          "--save", tmp_path / "out.tensors")
    mine = lemma_tensors.read(tmp_path / "out.tensors")["y"]
    np.testing.assert_allclose(mine, want, rtol=1e-3, atol=1e-4)
    # The round trip keeps the structural hash.
    h1 = [line for line in lemma("stats", src).splitlines() if "structural hash" in line]
    h2 = [line for line in lemma("stats", out).splitlines() if "structural hash" in line]
    assert h1 == h2
