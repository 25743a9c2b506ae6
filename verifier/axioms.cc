#include "verifier/axioms.h"

#include <cinttypes>
#include <cstdio>

#include "ir/hash.h"
#include "ir/strings.h"
#include "verifier/encode.h"

namespace lemma::verifier {
namespace {

using TT = TensorTerm;
using IT = IntTerm;
using BT = BoolTerm;
using Cases = std::vector<ShapeCase>;

const BT kTrue = BT::Constant(true);

// ---------------------------------------------------------------- sampling helpers

// Size variables, drawn in [1, 3] (spatial sizes in [1, 5]).
IT D(int i) { return IntVar(StrCat("d", i), 1, 3); }
IT Size(std::string_view name, int64_t high = 3) { return IntVar(std::string(name), 1, high); }

std::vector<IT> Dims(int rank) {
  std::vector<IT> d;
  for (int i = 0; i < rank; ++i) d.push_back(D(i));
  return d;
}

// Every tensor of `ts` with the same dims, one case per rank.
Cases Same(const std::vector<TT>& ts, std::vector<int> ranks = {0, 1, 2, 3, 4}) {
  Cases out;
  for (int r : ranks) {
    ShapeCase c;
    for (const TT& t : ts) c.shapes.emplace_back(t, Dims(r));
    out.push_back(std::move(c));
  }
  return out;
}

// `cases` with tensor `t` of `dims` added to each.
Cases With(Cases cases, const TT& t, const std::vector<IT>& dims) {
  for (ShapeCase& c : cases) c.shapes.emplace_back(t, dims);
  return cases;
}

Cases Where(Cases cases, const BT& cond) {
  for (ShapeCase& c : cases) c.where = c.where && cond;
  return cases;
}

Cases Join(Cases a, const Cases& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Axis variables: drawn in [-4, 3], so negative axes are tried too.
IT AxisVar(std::string name) { return IntVar(std::move(name), -4, 3); }

// -rank <= ax < rank.
BT AxisIn(const IT& ax, int rank) { return IT(-rank) <= ax && ax < IT(rank); }

// Dims d0..d{r-1} with the one at `ax` (normalized) replaced by `at_axis`.
std::vector<IT> AxisDims(const IT& ax, int rank, const IT& at_axis) {
  std::vector<IT> d;
  for (int i = 0; i < rank; ++i) {
    d.push_back(Ite(ax == IT(i) || ax == IT(i - rank), at_axis, D(i)));
  }
  return d;
}

// Tensors concatenated along `ax`: parts[k] has size sizes[k] there and the
// shared dims elsewhere; ranks 1-4.
Cases AlongAxis(const IT& ax, const std::vector<std::pair<TT, IT>>& parts,
                std::vector<int> ranks = {1, 2, 3, 4}) {
  Cases out;
  for (int r : ranks) {
    ShapeCase c;
    for (const auto& [t, size] : parts) c.shapes.emplace_back(t, AxisDims(ax, r, size));
    c.where = AxisIn(ax, r);
    out.push_back(std::move(c));
  }
  return out;
}

// A permutation of rank r as variables p0..p{r-1}, drawn in [0, r-1].
std::vector<IT> PermVars(int rank) {
  std::vector<IT> p;
  for (int i = 0; i < rank; ++i) p.push_back(IntVar(StrCat("p", i), 0, rank - 1));
  return p;
}
// `cases` with each group of `perms` drawn as a permutation.
Cases Permuted(Cases cases, const std::vector<std::vector<IT>>& perms) {
  for (ShapeCase& c : cases) {
    for (const std::vector<IT>& p : perms) c.permutations.push_back(p);
  }
  return cases;
}
// p[i] for an integer term i.
IT At(const std::vector<IT>& p, const IT& i) {
  IT out = p.back();
  for (size_t k = p.size() - 1; k-- > 0;) out = Ite(i == IT(static_cast<int64_t>(k)), p[k], out);
  return out;
}
// The j with p[j] == v.
IT IndexOf(const std::vector<IT>& p, const IT& v) {
  IT out = IT(static_cast<int64_t>(p.size() - 1));
  for (size_t k = p.size() - 1; k-- > 0;) out = Ite(p[k] == v, IT(static_cast<int64_t>(k)), out);
  return out;
}

// Attribute values that type-check: same padding comes without pads, and a
// pool's padding is smaller than its kernel (others are left to the
// perturbed samples). Each case becomes two, same and explicit padding, so
// that both are drawn as often.
Cases Sane(const Cases& cases, const IT& padding, const std::vector<IT>& pads,
           const BT& explicit_ok) {
  Cases out;
  for (const ShapeCase& c : cases) {
    ShapeCase same = c, expl = c;
    same.fixed.emplace_back(padding, 1);
    for (const IT& pad : pads) same.fixed.emplace_back(pad, 0);
    expl.fixed.emplace_back(padding, 0);
    expl.where = expl.where && explicit_ok;
    out.push_back(std::move(same));
    out.push_back(std::move(expl));
  }
  return out;
}
Cases Sane(const Cases& cases, const ConvAttrs& p) {
  return Sane(cases, p.padding, {p.pad_top, p.pad_left, p.pad_bottom, p.pad_right},
              BT::Constant(true));
}
Cases Sane(const Cases& cases, const PoolAttrs& q) {
  return Sane(cases, q.padding, {q.pad_top, q.pad_left, q.pad_bottom, q.pad_right},
              q.pad_top < q.kernel_h && q.pad_bottom < q.kernel_h && q.pad_left < q.kernel_w &&
                  q.pad_right < q.kernel_w);
}

// Output size of a window along one spatial dim: `in` input, `k` kernel.
IT WindowOut(const IT& padding, const IT& in, const IT& k, const IT& stride, const IT& pad_begin,
             const IT& pad_end, const IT& dilation) {
  return Ite(padding == IT(1), FloorDiv(in + stride - IT(1), stride),
             FloorDiv(in + pad_begin + pad_end - (k - IT(1)) * dilation - IT(1), stride) + IT(1));
}

// Convolution sizes: x [n, c*g, h, wd] and w [o*g, c, kh, kw].
struct ConvSizes {
  IT n = Size("n", 2), c = Size("c", 2), o = Size("o", 2);
  IT h = Size("h", 5), wd = Size("wd", 5), kh = Size("kh", 3), kw = Size("kw", 3);
  std::vector<IT> X(const IT& g) const { return {n, c * g, h, wd}; }
  std::vector<IT> W(const IT& g) const { return {o * g, c, kh, kw}; }
};

// Matrices: x [m, k] and y [k, q], and batched ones that must not satisfy a
// rank-2 law.
IT M() { return Size("m"); }
IT K() { return Size("k"); }
IT Q() { return Size("q"); }
IT B() { return Size("b", 2); }

// ---------------------------------------------------------------- the list

class AxiomList {
 public:
  void Add(std::string name, std::string meaning, BT formula, Cases cases,
           std::vector<std::vector<Term>> triggers = {}) {
    list_.push_back(Axiom{std::move(name), std::move(meaning), std::move(formula),
                          std::move(cases), std::move(triggers)});
  }
  std::vector<Axiom> Take() { return std::move(list_); }

 private:
  std::vector<Axiom> list_;
};

const TT x = TensorVar("x"), y = TensorVar("y"), z = TensorVar("z"), w = TensorVar("w");
const TT v = TensorVar("v"), s = TensorVar("s"), t = TensorVar("t");

ConvAttrs WithAct(ConvAttrs p, const IT& act) {
  p.activation = act;
  return p;
}
ConvAttrs WithGroups(ConvAttrs p, const IT& groups) {
  p.groups = groups;
  return p;
}

void ElementwiseLaws(AxiomList& a) {
  a.Add("ewadd_comm", "ewadd is commutative", x + y == y + x, Same({x, y}));
  a.Add("ewadd_assoc", "ewadd is associative", x + (y + z) == (x + y) + z, Same({x, y, z}));
  a.Add("ewmul_comm", "ewmul is commutative", x * y == y * x, Same({x, y}));
  a.Add("ewmul_assoc", "ewmul is associative", x * (y * z) == (x * y) * z, Same({x, y, z}));
  a.Add("ewmul_distrib", "ewmul distributes over ewadd", (x + y) * z == x * z + y * z,
        Same({x, y, z}));
  a.Add("relu_idempotent", "relu of relu is relu", Relu(Relu(x)) == Relu(x), Same({x}));
  a.Add("ewmul_relu_self", "relu(x) * x is relu(x) squared",
        Relu(x) * x == Relu(x) * Relu(x), Same({x}));
  for (int r = 1; r <= 4; ++r) {
    const std::vector<IT> ones = Dims(r);
    a.Add(StrCat("ewmul_ones_r", r), StrCat("multiplying by a rank-", r, " tensor of ones is the identity"),
          Implies(Ok(x * ConstOnes(ones)), x * ConstOnes(ones) == x), Same({x}, {r, r - 1}));
    a.Add(StrCat("relu_ones_r", r), "relu leaves ones as they are",
          Relu(ConstOnes(ones)) == ConstOnes(ones), {ShapeCase{}});
  }
  const IT c = Size("c"), kh = IntVar("kh", 1, 3), kw = IntVar("kw", 1, 3);
  a.Add("relu_identity_matrix", "relu leaves the identity matrix as it is",
        Relu(ConstIdentityMatrix(c)) == ConstIdentityMatrix(c), {ShapeCase{}});
  a.Add("relu_identity_conv", "relu leaves the identity kernel as it is",
        Relu(ConstIdentityConv(c, kh, kw)) == ConstIdentityConv(c, kh, kw), {ShapeCase{}});
  // The identity kernels and matrix hold only 0 and 1: squaring keeps them,
  // and relu commutes with multiplying by them.
  for (const bool matrix : {true, false}) {
    const TT k = matrix ? ConstIdentityMatrix(c) : ConstIdentityConv(c, kh, kw);
    const std::string name = matrix ? "identity_matrix" : "identity_conv";
    a.Add(StrCat("ewmul_", name, "_square"), StrCat("the ", name, " squared is itself"),
          k * k == k, {ShapeCase{}});
    a.Add(StrCat("relu_ewmul_", name), StrCat("relu commutes with multiplying by the ", name),
          Relu(x * k) == Relu(x) * k,
          {ShapeCase{{{x, matrix ? std::vector<IT>{c, c} : std::vector<IT>{c, c, kh, kw}}}}});
  }
  for (int r = 1; r <= 4; ++r) {
    const std::vector<IT> ones = Dims(r);
    a.Add(StrCat("relu_ewmul_ones_r", r), "relu commutes with multiplying by ones",
          Relu(x * ConstOnes(ones)) == Relu(x) * ConstOnes(ones), Same({x}, {r}));
  }
  {
    const IT m = Size("m"), k = Size("k");
    a.Add("transpose_ones", "the transpose of a matrix of ones is ones",
          Transpose({1, 0}, ConstOnes({m, k})) == ConstOnes({k, m}), {ShapeCase{}});
  }
  {
    const TT l = ConstIdentityMatrix(c) * Transpose({1, 0}, x);
    a.Add("ewmul_identity_transpose", "the diagonal of a transposed matrix is its diagonal",
          Implies(Ok(l), l == ConstIdentityMatrix(c) * x), {ShapeCase{{{x, {c, c}}}}});
  }
}

void ScalarLaws(AxiomList& a) {
  const Cases xs = With(Same({x}), s, {});
  const Cases xys = With(Same({x, y}), s, {});
  a.Add("scalar_mul_assoc", "scaling twice is scaling by the product",
        ScalarMul(ScalarMul(x, s), t) == ScalarMul(x, ScalarMul(s, t)), With(xs, t, {}));
  a.Add("scalar_mul_comm", "two scalings commute",
        ScalarMul(ScalarMul(x, s), t) == ScalarMul(ScalarMul(x, t), s), With(xs, t, {}));
  a.Add("scalar_mul_distrib", "scaling distributes over ewadd",
        ScalarMul(x, s) + ScalarMul(y, s) == ScalarMul(x + y, s), xys);
  a.Add("scalar_mul_ewmul", "scaling a product scales a factor",
        x * ScalarMul(y, s) == ScalarMul(x * y, s), xys);
  const Cases mat = With(With(With({ShapeCase{}}, x, {M(), K()}), y, {K(), Q()}), s, {});
  a.Add("scalar_mul_matmul_right", "scaling a matmul scales its right factor",
        MatMul(x, ScalarMul(y, s)) == ScalarMul(MatMul(x, y), s), mat);
  a.Add("scalar_mul_matmul_left", "scaling a matmul scales its left factor",
        MatMul(ScalarMul(x, s), y) == ScalarMul(MatMul(x, y), s), mat);
  const IT ax = AxisVar("ax");
  a.Add("scalar_mul_concat", "scaling a concat scales each part",
        Concat(ax, {ScalarMul(x, s), ScalarMul(y, s)}) == ScalarMul(Concat(ax, {x, y}), s),
        Join(With(AlongAxis(ax, {{x, Size("a")}, {y, Size("e")}}), s, {}),
             With(AlongAxis(ax, {{x, Size("a")}, {y, Size("e")}}, {2}), s, {1})));
  const IT sa = Size("a"), sb = Size("e");
  for (int k = 0; k < 2; ++k) {
    a.Add(StrCat("scalar_mul_split_", k), "scaling commutes with split",
          Split(ax, {sa, sb}, ScalarMul(x, s), k) == ScalarMul(Split(ax, {sa, sb}, x, k), s),
          With(AlongAxis(ax, {{x, sa + sb}}), s, {}));
  }
  const ConvSizes cs;
  const ConvAttrs p = ConvVars("");
  const ConvAttrs p0 = WithAct(p, 0);
  const Cases conv =
      Sane(With(With(With({ShapeCase{}}, x, cs.X(p.groups)), w, cs.W(p.groups)), s, {}), p);
  a.Add("scalar_mul_conv_input", "conv2d without activation is linear in its input (scaling)",
        Conv2d(ScalarMul(x, s), w, p0) == ScalarMul(Conv2d(x, w, p0), s), conv);
  a.Add("scalar_mul_conv_weight", "conv2d without activation is linear in its kernel (scaling)",
        Conv2d(x, ScalarMul(w, s), p0) == ScalarMul(Conv2d(x, w, p0), s), conv);
  a.Add("scalar_mul_conv_swap", "scaling the input of a conv2d is scaling its kernel",
        Conv2d(ScalarMul(x, s), w, p) == Conv2d(x, ScalarMul(w, s), p), conv);
  const PoolAttrs q = PoolVars("");
  a.Add("scalar_mul_avgpool", "average pooling is linear (scaling)",
        AvgPool2d(ScalarMul(x, s), q) == ScalarMul(AvgPool2d(x, q), s),
        Sane(With(With({ShapeCase{}}, x, {cs.n, cs.c, cs.h, cs.wd}), s, {}), q));
  const IT eh = IntVar("eh", 1, 5), ew = IntVar("ew", 1, 5);
  a.Add("scalar_mul_enlarge", "enlarging a kernel commutes with scaling",
        Enlarge(ScalarMul(w, s), eh, ew) == ScalarMul(Enlarge(w, eh, ew), s),
        With(With({ShapeCase{}}, w, cs.W(1)), s, {}));
  for (int r = 2; r <= 3; ++r) {
    const std::vector<IT> perm = PermVars(r);
    a.Add(StrCat("scalar_mul_transpose_r", r), "scaling commutes with transpose",
          Transpose(perm, ScalarMul(x, s)) == ScalarMul(Transpose(perm, x), s),
          Permuted(With(Same({x}, {r}), s, {}), {perm}));
  }
}

void MatMulLaws(AxiomList& a) {
  const IT m = M(), k = K(), q = Q(), n = Size("n"), b = B(), e = Size("e");
  const IT act = IntVar("act", 0, 3);
  auto rank2 = [](std::vector<TT> ts) {
    BT all = kTrue;
    for (const TT& t : ts) all = all && Ok(t) && Rank(t) == IT(2);
    return all;
  };
  // Rank-2 cases, and batched ones (broadcast batch dims) a rank-2 law must refuse.
  const Cases mm3 = Join(With(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}), z, {q, n}),
                         With(With(With({ShapeCase{}}, x, {b, m, k}), y, {k, q}), z, {b, q, n}));
  a.Add("matmul_assoc", "matmul is associative",
        MatMul(x, MatMul(y, z)) == MatMul(MatMul(x, y), z), mm3);
  const Cases right = Join(With(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}), z, {k, q}),
                           With(With(With({ShapeCase{}}, x, {b, m, k}), y, {k, q}), z, {b, k, q}));
  a.Add("matmul_linear_right", "matmul is additive in its right factor",
        Implies(Ok(MatMul(x, y + z)), MatMul(x, y + z) == MatMul(x, y) + MatMul(x, z)), right);
  const Cases left = Join(With(With(With({ShapeCase{}}, x, {m, k}), y, {m, k}), z, {k, q}),
                          With(With(With({ShapeCase{}}, x, {b, m, k}), y, {m, k}), z, {b, k, q}));
  a.Add("matmul_linear_left", "matmul is additive in its left factor",
        Implies(Ok(MatMul(x + y, z)), MatMul(x + y, z) == MatMul(x, z) + MatMul(y, z)), left);
  a.Add("matmul_relu", "matmul with fused relu is relu of matmul",
        MatMul(x, y, 1) == Relu(MatMul(x, y)), mm3);
  // Concatenation along the free dims (rank 2).
  const Cases cat_right =
      Join(With(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}), z, {k, e}),
           With(With(With({ShapeCase{}}, x, {b, m, k}), y, {k, q}), z, {k, e}));
  a.Add("matmul_concat_right", "matmul by columns side by side gives the products side by side",
        Implies(rank2({x, y, z}), MatMul(x, Concat(1, {y, z}), act) ==
                                      Concat(1, {MatMul(x, y, act), MatMul(x, z, act)})),
        cat_right);
  const Cases cat_left = Join(With(With(With({ShapeCase{}}, x, {m, k}), y, {e, k}), z, {k, q}),
                              With(With(With({ShapeCase{}}, x, {b, m, k}), y, {e, k}), z, {k, q}));
  a.Add("matmul_concat_left", "matmul of rows stacked gives the products stacked",
        Implies(rank2({x, y, z}), MatMul(Concat(0, {x, y}), z, act) ==
                                      Concat(0, {MatMul(x, z, act), MatMul(y, z, act)})),
        cat_left);
  const Cases inner =
      Join(With(With(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}), z, {m, e}), w, {e, q}),
           With(With(With(With({ShapeCase{}}, x, {m, k}), y, {e, q}), z, {m, e}), w, {k, q}));
  a.Add("matmul_concat_inner",
        "a sum of two matmuls is one matmul over the concatenated inner dimension",
        Implies(Ok(MatMul(x, y) + MatMul(z, w)),
                MatMul(x, y) + MatMul(z, w) == MatMul(Concat(1, {x, z}), Concat(0, {y, w}))),
        inner);
  {
    const TT l = MatMul(Concat(1, {x, z}), Concat(0, {y, w}));
    a.Add("matmul_concat_inner_split",
          "a matmul over concatenated inner dims that line up is a sum of two matmuls",
          Implies(Ok(l) && Dim(x, 1) == Dim(y, 0), l == MatMul(x, y) + MatMul(z, w)), inner);
  }
  for (int out = 0; out < 2; ++out) {
    const IT sa = Size("a"), sb = Size("e");
    a.Add(StrCat("matmul_split_right_", out), "matmul by a column block is a block of the product",
          Implies(rank2({x, y}), MatMul(x, Split(1, {sa, sb}, y, out), act) ==
                                     Split(1, {sa, sb}, MatMul(x, y, act), out)),
          Join(With(With({ShapeCase{}}, x, {m, k}), y, {k, sa + sb}),
               With(With({ShapeCase{}}, x, {b, m, k}), y, {k, sa + sb})));
    a.Add(StrCat("matmul_split_left_", out), "matmul of a row block is a block of the product",
          Implies(rank2({x, y}), MatMul(Split(0, {sa, sb}, x, out), y, act) ==
                                     Split(0, {sa, sb}, MatMul(x, y, act), out)),
          Join(With(With({ShapeCase{}}, x, {sa + sb, k}), y, {k, q}),
               With(With({ShapeCase{}}, x, {sa + sb, k}), y, {b, k, q})));
  }
  a.Add("matmul_transpose", "the transpose of a product is the product of the transposes, swapped",
        Implies(rank2({x, y}), Transpose({1, 0}, MatMul(x, y, act)) ==
                                   MatMul(Transpose({1, 0}, y), Transpose({1, 0}, x), act)),
        Join(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}),
             With(With({ShapeCase{}}, x, {b, m, k}), y, {k, q})));
  const IT sz = Size("n");
  a.Add("matmul_identity_right", "x times the identity matrix is x",
        Implies(Ok(MatMul(x, ConstIdentityMatrix(sz))), MatMul(x, ConstIdentityMatrix(sz)) == x),
        Join(With({ShapeCase{}}, x, {m, sz}), With({ShapeCase{}}, x, {b, m, sz})));
  a.Add("matmul_identity_left", "the identity matrix times x is x",
        Implies(Ok(MatMul(ConstIdentityMatrix(sz), x)), MatMul(ConstIdentityMatrix(sz), x) == x),
        Join(With({ShapeCase{}}, x, {sz, q}), With({ShapeCase{}}, x, {b, sz, q})));
  a.Add("transpose_identity_matrix", "the identity matrix is its own transpose",
        Transpose({1, 0}, ConstIdentityMatrix(sz)) == ConstIdentityMatrix(sz), {ShapeCase{}});
}

void ConvLaws(AxiomList& list) {
  const ConvSizes cs;
  const ConvAttrs p = ConvVars("");
  // Every case with attributes that type-check.
  struct Sanitized {
    AxiomList& list;
    const ConvAttrs& p;
    void Add(std::string name, std::string meaning, BT formula, Cases cases,
             std::vector<std::vector<Term>> triggers = {}) {
      list.Add(std::move(name), std::move(meaning), std::move(formula), Sane(cases, p),
               std::move(triggers));
    }
  } a{list, p};
  const ConvAttrs p0 = WithAct(p, 0);
  const IT g = p.groups;
  const Cases xw = With(With({ShapeCase{}}, x, cs.X(g)), w, cs.W(g));
  a.Add("conv_relu", "conv2d with fused relu is relu of conv2d",
        Conv2d(x, w, WithAct(p, 1)) == Relu(Conv2d(x, w, p0)), xw);
  // Guarded: with stride 2, inputs (or kernels) of different sizes can give
  // outputs of one size, so the sum of the conv2ds may exist without the
  // conv2d of the sum.
  a.Add("conv_linear_input", "conv2d without activation is additive in its input",
        Implies(Ok(Conv2d(x + y, w, p0)),
                Conv2d(x + y, w, p0) == Conv2d(x, w, p0) + Conv2d(y, w, p0)),
        With(xw, y, cs.X(g)));
  a.Add("conv_linear_weight", "conv2d without activation is additive in its kernel",
        Implies(Ok(Conv2d(x, w + v, p0)),
                Conv2d(x, w + v, p0) == Conv2d(x, w, p0) + Conv2d(x, v, p0)),
        With(xw, v, cs.W(g)));
  const IT n2 = Size("e", 2);
  a.Add("conv_concat_batch", "conv2d of a batch concatenation is the concatenation of the conv2ds",
        Implies(Ok(Conv2d(Concat(0, {x, y}), w, p)),
                Conv2d(Concat(0, {x, y}), w, p) == Concat(0, {Conv2d(x, w, p), Conv2d(y, w, p)})),
        With(xw, y, {n2, cs.c * g, cs.h, cs.wd}));
  const ConvAttrs p1 = WithGroups(p, 1);
  const IT o2 = Size("e", 2);
  a.Add("conv_concat_weight",
        "conv2d (one group) with kernels stacked gives the outputs stacked along channels",
        Implies(Ok(Conv2d(x, Concat(0, {w, v}), p1)),
                Conv2d(x, Concat(0, {w, v}), p1) == Concat(1, {Conv2d(x, w, p1), Conv2d(x, v, p1)})),
        With(With(With({ShapeCase{}}, x, cs.X(1)), w, cs.W(1)), v, {o2, cs.c, cs.kh, cs.kw}));
  const ConvAttrs p10 = WithAct(p1, 0);
  const IT c2 = Size("e", 2);
  a.Add("conv_concat_channels",
        "conv2d (one group, no activation) over concatenated channels is the sum of the conv2ds",
        Implies(Ok(Conv2d(Concat(1, {x, z}), Concat(1, {w, v}), p10)) &&
                    Dim(x, 1) == Dim(w, 1),
                Conv2d(Concat(1, {x, z}), Concat(1, {w, v}), p10) ==
                    Conv2d(x, w, p10) + Conv2d(z, v, p10)),
        With(With(With(With({ShapeCase{}}, x, cs.X(1)), w, cs.W(1)), z, {cs.n, c2, cs.h, cs.wd}),
             v, {cs.o, c2, cs.kh, cs.kw}));
  // Grouped convolutions side by side are one grouped convolution with the
  // groups of both, when every group has the same number of outputs.
  {
    const IT g1 = IntVar("g1", 1, 2), g2 = IntVar("g2", 1, 2), gs = IntVar("gs", 2, 4);
    const IT per = Size("u", 2);  // outputs per group
    const ConvAttrs a1 = WithGroups(p, g1), a2 = WithGroups(p, g2), as = WithGroups(p, gs);
    const TT c1 = Conv2d(x, w, a1), c2 = Conv2d(z, v, a2);
    const TT l = Concat(1, {c1, c2});
    const TT r = Conv2d(Concat(1, {x, z}), Concat(0, {w, v}), as);
    ShapeCase c;
    c.shapes = {{x, {cs.n, cs.c * g1, cs.h, cs.wd}},
                {z, {cs.n, cs.c * g2, cs.h, cs.wd}},
                {w, {per * g1, cs.c, cs.kh, cs.kw}},
                {v, {per * g2, cs.c, cs.kh, cs.kw}}};
    c.where = gs == g1 + g2;
    ShapeCase uneven = c;  // per-group outputs differ: the law must not apply
    uneven.shapes[3].second[0] = (per + 1) * g2;
    a.Add("conv_group_merge",
          "two grouped conv2ds side by side are one conv2d with both sets of groups, when their "
          "groups have equally many outputs",
          Implies(Ok(r) && Ok(c1) && Ok(c2) && gs == g1 + g2 && Dim(w, 0) * g2 == Dim(v, 0) * g1,
                  l == r),
          {c, uneven}, {{r, c1, c2}});
  }
  for (int out = 0; out < 2; ++out) {
    const IT sa = Size("a", 2), sb = Size("e", 2);
    a.Add(StrCat("conv_split_batch_", out), "conv2d of a batch slice is a slice of the conv2d",
          Conv2d(Split(0, {sa, sb}, x, out), w, p) == Split(0, {sa, sb}, Conv2d(x, w, p), out),
          With(With({ShapeCase{}}, x, {sa + sb, cs.c * g, cs.h, cs.wd}), w, cs.W(g)));
    a.Add(StrCat("conv_split_weight_", out),
          "conv2d (one group) with a slice of the kernels is a channel slice of the conv2d",
          Conv2d(x, Split(0, {sa, sb}, w, out), p1) == Split(1, {sa, sb}, Conv2d(x, w, p1), out),
          With(With({ShapeCase{}}, x, cs.X(1)), w, {sa + sb, cs.c, cs.kh, cs.kw}));
  }
  // A kernel of height 1, with stride 1 and no padding along the height,
  // never mixes rows: it commutes with concat and split along the height;
  // the same along the width. A 1x1 kernel without activation mixes channels
  // at each position, so it also commutes with average pooling.
  {
    const IT ax = IntVar("ax", 1, 3);
    const IT sa = Size("a", 3), sb = Size("e", 3);
    auto dims = [&](const IT& along, const IT& g) {
      return std::vector<IT>{cs.n, cs.c * g, Ite(ax == IT(2), along, cs.h),
                             Ite(ax == IT(3), along, cs.wd)};
    };
    // Kernels of height 1 when ax is 2 and of width 1 when ax is 3.
    const std::vector<IT> line = {cs.o * g, cs.c, Ite(ax == IT(2), IT(1), cs.kh),
                                  Ite(ax == IT(3), IT(1), cs.kw)};
    for (const int axis : {2, 3}) {
      const bool height = axis == 2;
      const IT stride = height ? p.stride_h : p.stride_w;
      const IT pad_begin = height ? p.pad_top : p.pad_left;
      const IT pad_end = height ? p.pad_bottom : p.pad_right;
      const BT along = ax == IT(axis) && Dim(w, axis) == IT(1) && stride == IT(1) &&
                       (p.padding == IT(1) || (pad_begin == IT(0) && pad_end == IT(0)));
      const std::string name = height ? "height" : "width";
      const TT l = Conv2d(Concat(ax, {x, y}), w, p);
      a.Add(StrCat("conv_concat_", name),
            StrCat("a conv2d whose kernel has ", name,
                   " 1 (stride 1, no padding there) of a concat along it is the concat"),
            Implies(Ok(l) && along, l == Concat(ax, {Conv2d(x, w, p), Conv2d(y, w, p)})),
            {ShapeCase{{{x, dims(sa, g)}, {y, dims(sb, g)}, {w, line}},
                       ax == IT(axis) && stride == IT(1)}});
      for (int out = 0; out < 2; ++out) {
        const TT ls = Conv2d(Split(ax, {sa, sb}, x, out), w, p);
        a.Add(StrCat("conv_split_", name, "_", out),
              StrCat("a conv2d whose kernel has ", name,
                     " 1 (stride 1, no padding there) of a slice along it is a slice"),
              Implies(Ok(ls) && along, ls == Split(ax, {sa, sb}, Conv2d(x, w, p), out)),
              {ShapeCase{{{x, dims(sa + sb, g)}, {w, line}}, ax == IT(axis) && stride == IT(1)}});
      }
    }
    ConvAttrs pw = p;
    pw.stride_h = pw.stride_w = 1;
    pw.pad_top = pw.pad_left = pw.pad_bottom = pw.pad_right = 0;
    const BT one_by_one = Dim(w, 2) == IT(1) && Dim(w, 3) == IT(1);
    const std::vector<IT> kernel = {cs.o * g, cs.c, 1, 1};
    const PoolAttrs q = PoolVars("q");
    const ConvAttrs pw0 = WithAct(pw, 0);
    const TT lp = AvgPool2d(Conv2d(x, w, pw0), q);
    a.Add("conv_pointwise_avgpool",
          "average pooling a 1x1 conv2d without activation is the conv2d of the pooled input",
          Implies(Ok(lp) && one_by_one, lp == Conv2d(AvgPool2d(x, q), w, pw0)),
          Sane({ShapeCase{{{x, cs.X(g)}, {w, kernel}}}}, q));
  }
  // Enlarging a kernel under same padding and stride 1 changes nothing.
  {
    ConvAttrs same = p;
    same.stride_h = same.stride_w = 1;
    same.padding = 1;
    same.pad_top = same.pad_left = same.pad_bottom = same.pad_right = 0;
    same.dilation_h = same.dilation_w = 1;
    const IT eh = IntVar("eh", 1, 5), ew = IntVar("ew", 1, 5);
    const TT r = Conv2d(x, Enlarge(w, eh, ew), same);
    a.Add("conv_enlarge", "conv2d with same padding and stride 1 is unchanged by enlarging its kernel",
          Implies(Ok(r), r == Conv2d(x, w, same)), xw);
    const IT c = Size("c", 3);
    const TT ident = Conv2d(x, ConstIdentityConv(c, eh, ew),
                            WithAct(WithGroups(same, 1), 0));
    a.Add("conv_identity", "conv2d with the identity kernel (same padding, stride 1) is the identity",
          Implies(Ok(ident), ident == x), With({ShapeCase{}}, x, {cs.n, c, cs.h, cs.wd}));
  }
  // A convolution with const_pool, one group per channel, is an average pool
  // that counts padding.
  {
    const IT c = Size("c", 3), kh = IntVar("kh", 1, 3), kw = IntVar("kw", 1, 3);
    ConvAttrs pc = WithAct(WithGroups(p, c), 0);
    pc.dilation_h = pc.dilation_w = 1;
    const PoolAttrs q{.kernel_h = kh,
                      .kernel_w = kw,
                      .stride_h = p.stride_h,
                      .stride_w = p.stride_w,
                      .padding = p.padding,
                      .pad_top = p.pad_top,
                      .pad_left = p.pad_left,
                      .pad_bottom = p.pad_bottom,
                      .pad_right = p.pad_right,
                      .count_include_pad = 1};
    const TT l = Conv2d(x, ConstPool(c, kh, kw), pc);
    const TT r = AvgPool2d(x, q);
    // A pool's padding must be smaller than its window; a conv2d's need not.
    const BT pool_pads = p.padding == IT(1) || (p.pad_top < kh && p.pad_bottom < kh &&
                                                p.pad_left < kw && p.pad_right < kw);
    a.Add("conv_const_pool",
          "conv2d with const_pool and a group per channel is an average pool counting padding",
          Implies(Ok(l) && pool_pads, l == r), With({ShapeCase{}}, x, {cs.n, c, cs.h, cs.wd}));
  }
}

void EnlargeLaws(AxiomList& a) {
  const ConvSizes cs;
  const IT eh = IntVar("eh", 1, 5), ew = IntVar("ew", 1, 5);
  // Kernels that enlarge to eh x ew: smaller by an even amount.
  const IT uh = IntVar("uh", 0, 2), uw = IntVar("uw", 0, 2);
  const IT kh = eh - IT(2) * uh, kw = ew - IT(2) * uw;
  auto enl = [&](const TT& t) { return Enlarge(t, eh, ew); };
  const IT o = cs.o, c = cs.c;
  const Cases ww = With(With({ShapeCase{}}, w, {o, c, kh, kw}), v, {o, c, kh, kw});
  // Enlarge moves outward, towards the conv2d that can drop it; guarded by
  // equal kernel sizes, as kernels of different sizes can enlarge to one.
  const BT same_kernel = Dim(w, 2) == Dim(v, 2) && Dim(w, 3) == Dim(v, 3);
  Cases mixed = ww;
  mixed.push_back(ShapeCase{{{w, {o, c, kh, kw}}, {v, {o, c, eh, ew}}}});
  for (const bool add : {true, false}) {
    const TT l = add ? enl(w) + enl(v) : enl(w) * enl(v);
    a.Add(add ? "enlarge_ewadd" : "enlarge_ewmul",
          add ? "the sum of enlarged kernels of one size is the enlarged sum"
              : "the product of enlarged kernels of one size is the enlarged product",
          Implies(Ok(l) && same_kernel, l == enl(add ? w + v : w * v)), mixed);
  }
  a.Add("enlarge_relu", "relu of an enlarged kernel is the enlarged relu",
        Relu(enl(w)) == enl(Relu(w)), With({ShapeCase{}}, w, {o, c, kh, kw}));
  // And inward, so that a term on either side meets the other.
  for (const bool add : {true, false}) {
    const TT l = enl(add ? w + v : w * v);
    a.Add(add ? "enlarge_of_ewadd" : "enlarge_of_ewmul",
          add ? "the enlarged sum is the sum of the enlarged kernels"
              : "the enlarged product is the product of the enlarged kernels",
          Implies(Ok(l), l == (add ? enl(w) + enl(v) : enl(w) * enl(v))), mixed);
  }
  a.Add("enlarge_of_relu", "the enlarged relu is relu of the enlarged kernel",
        enl(Relu(w)) == Relu(enl(w)), With({ShapeCase{}}, w, {o, c, kh, kw}));
  const IT ax = IntVar("ax", -1, 2);
  const IT sa = Size("a", 2), sb = Size("e", 2);
  auto along = [&](const IT& size) {
    return std::vector<IT>{Ite(ax == IT(0), size, o), Ite(ax == IT(1), size, c), kh, kw};
  };
  const BT batch_or_channel = IT(0) <= ax && ax <= IT(1);
  a.Add("enlarge_concat", "enlarging stacked kernels stacks the enlarged kernels",
        Implies(Ok(enl(Concat(ax, {w, v}))) && batch_or_channel,
                enl(Concat(ax, {w, v})) == Concat(ax, {enl(w), enl(v)})),
        With(With({ShapeCase{}}, w, along(sa)), v, along(sb)));
  for (int out = 0; out < 2; ++out) {
    a.Add(StrCat("enlarge_split_", out), "enlarging a slice of kernels slices the enlarged ones",
          Implies(batch_or_channel,
                  enl(Split(ax, {sa, sb}, w, out)) == Split(ax, {sa, sb}, enl(w), out)),
          With({ShapeCase{}}, w, along(sa + sb)));
  }
  const IT fh = IntVar("fh", 1, 7), fw = IntVar("fw", 1, 7);
  const IT vh = IntVar("vh", 0, 1), vw = IntVar("vw", 0, 1);
  a.Add("enlarge_twice", "enlarging twice is enlarging once to the final size",
        Implies(Ok(Enlarge(enl(w), fh, fw)), Enlarge(enl(w), fh, fw) == Enlarge(w, fh, fw)),
        {ShapeCase{{{w, {o, c, kh, kw}}}, fh == eh + IT(2) * vh && fw == ew + IT(2) * vw}});
  const IT ch = Size("c", 3), ih = IntVar("ih", 1, 3), iw = IntVar("iw", 1, 3);
  a.Add("enlarge_identity_conv", "the enlarged identity kernel is the larger identity kernel",
        Implies(Ok(enl(ConstIdentityConv(ch, ih, iw))),
                enl(ConstIdentityConv(ch, ih, iw)) == ConstIdentityConv(ch, eh, ew)),
        {ShapeCase{{}, (ih == IT(1) || ih == IT(3)) && (iw == IT(1) || iw == IT(3)) &&
                           (eh == ih || eh == ih + IT(2)) && (ew == iw || ew == iw + IT(2))}});
}

void ReluPoolLaws(AxiomList& a) {
  const IT ax = AxisVar("ax");
  const IT sa = Size("a"), sb = Size("e");
  a.Add("relu_concat", "relu of a concat is the concat of the relus",
        Relu(Concat(ax, {x, y})) == Concat(ax, {Relu(x), Relu(y)}),
        AlongAxis(ax, {{x, sa}, {y, sb}}));
  for (int out = 0; out < 2; ++out) {
    a.Add(StrCat("relu_split_", out), "relu commutes with split",
          Relu(Split(ax, {sa, sb}, x, out)) == Split(ax, {sa, sb}, Relu(x), out),
          AlongAxis(ax, {{x, sa + sb}}));
  }
  for (int r = 2; r <= 4; ++r) {
    const std::vector<IT> perm = PermVars(r);
    a.Add(StrCat("relu_transpose_r", r), "relu commutes with transpose",
          Transpose(perm, Relu(x)) == Relu(Transpose(perm, x)),
          Permuted(Same({x}, {r}), {perm}));
  }
  const ConvSizes cs;
  const PoolAttrs q = PoolVars("");
  const Cases img = Sane(With({ShapeCase{}}, x, {cs.n, cs.c, cs.h, cs.wd}), q);
  a.Add("relu_maxpool", "relu commutes with max pooling", Relu(MaxPool2d(x, q)) == MaxPool2d(Relu(x), q),
        img);
  a.Add("avgpool_ewadd", "average pooling is additive",
        Implies(Ok(AvgPool2d(x + y, q)), AvgPool2d(x + y, q) == AvgPool2d(x, q) + AvgPool2d(y, q)),
        With(img, y, {cs.n, cs.c, cs.h, cs.wd}));
  {
    const IT n = cs.n, c = cs.c, h = cs.h, wd = cs.wd;
    const TT l = MaxPool2d(ConstOnes({n, c, h, wd}), q);
    a.Add("maxpool_ones", "max pooling ones gives ones",
          Implies(Ok(l), l == ConstOnes({n, c,
                                         WindowOut(q.padding, h, q.kernel_h, q.stride_h,
                                                   q.pad_top, q.pad_bottom, 1),
                                         WindowOut(q.padding, wd, q.kernel_w, q.stride_w,
                                                   q.pad_left, q.pad_right, 1)})),
          Sane({ShapeCase{}}, q));
  }
  const IT pax = IntVar("ax", -1, 2);
  const BT batch_or_channel = IT(0) <= pax && pax <= IT(1);
  const Cases parts = Sane(Where(AlongAxis(pax, {{x, sa}, {y, sb}}, {4}), batch_or_channel), q);
  for (const bool avg : {true, false}) {
    auto pool = [&](const TT& t) { return avg ? AvgPool2d(t, q) : MaxPool2d(t, q); };
    const std::string name = avg ? "avgpool" : "maxpool";
    const TT l = pool(Concat(pax, {x, y}));
    a.Add(StrCat(name, "_concat"), "pooling a batch or channel concat pools each part",
          Implies(Ok(l) && batch_or_channel, l == Concat(pax, {pool(x), pool(y)})), parts);
    for (int out = 0; out < 2; ++out) {
      a.Add(StrCat(name, "_split_", out), "pooling commutes with a batch or channel split",
            Implies(batch_or_channel,
                    pool(Split(pax, {sa, sb}, x, out)) == Split(pax, {sa, sb}, pool(x), out)),
            Sane(Where(AlongAxis(pax, {{x, sa + sb}}, {4}), batch_or_channel), q));
    }
  }
}

void ConcatSplitLaws(AxiomList& a) {
  const IT ax = AxisVar("ax");
  const IT sa = Size("a"), sb = Size("e"), sc = Size("f");
  const Cases xy = AlongAxis(ax, {{x, sa}, {y, sb}});
  const BT nonneg = IT(0) <= ax;
  for (int out = 0; out < 2; ++out) {
    const TT l = Split(ax, {sa, sb}, Concat(ax, {x, y}), out);
    ShapeCase off = xy[1];  // the first part one larger than the split says
    off.shapes[0].second = AxisDims(ax, 2, sa + 1);
    a.Add(StrCat("split_concat_", out), "split undoes concat when the sizes are the parts' sizes",
          Implies(Ok(l) && nonneg && Dim(x, ax) == sa, l == (out == 0 ? x : y)),
          Join(xy, {off}));
  }
  {
    // A cut inside the first part is a cut of the first part.
    const TT l = Split(ax, {sa, sb}, Concat(ax, {x, y}), 0);
    ShapeCase inside = xy[1];
    inside.shapes[0].second = AxisDims(ax, 2, sa + sc);
    inside.where = inside.where && IT(0) <= ax;
    a.Add("split_concat_prefix", "a split inside the first part of a concat splits that part",
          Implies(Ok(l) && nonneg && sa <= Dim(x, ax),
                  l == Split(ax, {sa, Dim(x, ax) - sa}, x, 0)),
          Join(xy, {inside}));
  }
  {
    const TT l = Concat(ax, {Split(ax, {sa, sb}, x, 0), Split(ax, {sa, sb}, x, 1)});
    a.Add("concat_split", "concat undoes split", Implies(Ok(l), l == x),
          AlongAxis(ax, {{x, sa + sb}}));
  }
  a.Add("concat_assoc", "concat is associative",
        Concat(ax, {Concat(ax, {x, y}), z}) == Concat(ax, {x, Concat(ax, {y, z})}),
        AlongAxis(ax, {{x, sa}, {y, sb}, {z, sc}}));
  a.Add("concat3", "a three-way concat is two two-way ones",
        Concat(ax, {x, y, z}) == Concat(ax, {Concat(ax, {x, y}), z}),
        AlongAxis(ax, {{x, sa}, {y, sb}, {z, sc}}));
  for (int out = 0; out < 3; ++out) {
    const TT l = Split(ax, {sa, sb, sc}, x, out);
    const TT rest = Split(ax, {sa, sb + sc}, x, 1);
    const TT r = out == 0 ? Split(ax, {sa, sb + sc}, x, 0) : Split(ax, {sb, sc}, rest, out - 1);
    a.Add(StrCat("split3_", out), "a three-way split is two two-way ones", Implies(Ok(l), l == r),
          AlongAxis(ax, {{x, sa + sb + sc}}));
  }
  // Two different axes.
  const IT a1 = IntVar("a1", 0, 3), a2 = IntVar("a2", 0, 3);
  {
    const TT l = Concat(a1, {Concat(a2, {x, y}), Concat(a2, {z, w})});
    const TT r = Concat(a2, {Concat(a1, {x, z}), Concat(a1, {y, w})});
    Cases grid;
    for (int rank = 2; rank <= 4; ++rank) {
      ShapeCase c;
      // Rows (a1) sized by sa / sb, columns (a2) by sc / sd.
      const IT sd = Size("g");
      auto dims = [&](const IT& along1, const IT& along2) {
        std::vector<IT> d;
        for (int i = 0; i < rank; ++i) {
          d.push_back(Ite(a1 == IT(i), along1, Ite(a2 == IT(i), along2, D(i))));
        }
        return d;
      };
      c.shapes = {{x, dims(sa, sc)}, {y, dims(sa, sd)}, {z, dims(sb, sc)}, {w, dims(sb, sd)}};
      c.where = a1 < IT(rank) && a2 < IT(rank) && a1 != a2;
      grid.push_back(std::move(c));
    }
    a.Add("concat_swap_axes", "concats along two different axes can be done in either order",
          Implies(Ok(l) && Ok(r) && IT(0) <= a1 && IT(0) <= a2 && a1 != a2, l == r), grid);
  }
  for (int out = 0; out < 2; ++out) {
    const TT l = Split(a1, {sa, sb}, Concat(a2, {x, y}), out);
    const TT r = Concat(a2, {Split(a1, {sa, sb}, x, out), Split(a1, {sa, sb}, y, out)});
    Cases cs;
    for (int rank = 2; rank <= 4; ++rank) {
      auto dims = [&](const IT& along2) {
        std::vector<IT> d;
        for (int i = 0; i < rank; ++i) {
          d.push_back(Ite(a1 == IT(i), sa + sb, Ite(a2 == IT(i), along2, D(i))));
        }
        return d;
      };
      cs.push_back(ShapeCase{{{x, dims(sc)}, {y, dims(Size("g"))}},
                             a1 < IT(rank) && a2 < IT(rank) && a1 != a2});
    }
    a.Add(StrCat("split_concat_other_axis_", out),
          "splitting a concat along another axis splits each part",
          Implies(IT(0) <= a1 && IT(0) <= a2 && a1 != a2, l == r), cs);
  }
  // Concats of the same split points: the parts add up part by part.
  const Cases four = Join(AlongAxis(ax, {{x, sa}, {z, sb}, {y, sa}, {w, sb}}),
                          AlongAxis(ax, {{x, sa}, {z, sb}, {y, sb}, {w, sa}}, {1, 2}));
  for (const bool add : {true, false}) {
    auto op = [&](const TT& p, const TT& q) { return add ? p + q : p * q; };
    const TT l = op(Concat(ax, {x, z}), Concat(ax, {y, w}));
    a.Add(add ? "ewadd_concat" : "ewmul_concat",
          add ? "the sum of concats with the same split points is the concat of sums"
              : "the product of concats with the same split points is the concat of products",
          Implies(Ok(l) && nonneg && Dim(x, ax) == Dim(y, ax),
                  l == Concat(ax, {op(x, y), op(z, w)})),
          four);
  }
  for (int out = 0; out < 2; ++out) {
    const Cases whole = AlongAxis(ax, {{x, sa + sb}, {y, sa + sb}});
    a.Add(StrCat("ewadd_split_", out), "the sum of splits is the split of the sum",
          Split(ax, {sa, sb}, x, out) + Split(ax, {sa, sb}, y, out) == Split(ax, {sa, sb}, x + y, out),
          whole);
    a.Add(StrCat("ewmul_split_", out), "the product of splits is the split of the product",
          Split(ax, {sa, sb}, x, out) * Split(ax, {sa, sb}, y, out) == Split(ax, {sa, sb}, x * y, out),
          whole);
  }
}

void TransposeLaws(AxiomList& a) {
  for (int r = 2; r <= 4; ++r) {
    const std::vector<IT> p = PermVars(r);
    std::vector<IT> q;
    for (int i = 0; i < r; ++i) q.push_back(IntVar(StrCat("q", i), 0, r - 1));
    const Cases one = Permuted(Same({x}, {r}), {p, q});
    const std::string suffix = StrCat("_r", r);
    {
      std::vector<IT> composed;
      for (int i = 0; i < r; ++i) composed.push_back(At(q, p[static_cast<size_t>(i)]));
      const TT l = Transpose(p, Transpose(q, x));
      a.Add(StrCat("transpose_transpose", suffix), "two transposes are one",
            Implies(Ok(l), l == Transpose(composed, x)), one);
    }
    {
      std::vector<IT> identity;
      for (int i = 0; i < r; ++i) identity.emplace_back(i);
      a.Add(StrCat("transpose_identity", suffix), "the identity permutation changes nothing",
            Implies(Ok(Transpose(identity, x)), Transpose(identity, x) == x), Same({x}, {r}));
    }
    a.Add(StrCat("transpose_ewadd", suffix), "transpose is additive",
          Transpose(p, x + y) == Transpose(p, x) + Transpose(p, y),
          Permuted(Same({x, y}, {r}), {p}));
    a.Add(StrCat("transpose_ewmul", suffix), "transpose commutes with ewmul",
          Transpose(p, x * y) == Transpose(p, x) * Transpose(p, y),
          Permuted(Same({x, y}, {r}), {p}));
    const IT ax = IntVar("ax", -1, r - 1);
    const IT sa = Size("a"), sb = Size("e");
    const Cases parts = Permuted(AlongAxis(ax, {{x, sa}, {y, sb}}, {r}), {p});
    {
      const TT l = Transpose(p, Concat(ax, {x, y}));
      a.Add(StrCat("transpose_concat", suffix),
            "a transposed concat is a concat of the transposes along the moved axis",
            Implies(IT(0) <= ax && ax < IT(r),
                    l == Concat(IndexOf(p, ax), {Transpose(p, x), Transpose(p, y)})),
            parts);
    }
    for (int out = 0; out < 2; ++out) {
      const TT l = Transpose(p, Split(ax, {sa, sb}, x, out));
      a.Add(StrCat("transpose_split", suffix, "_", out),
            "a transposed split is a split of the transpose along the moved axis",
            Implies(IT(0) <= ax && ax < IT(r),
                    l == Split(IndexOf(p, ax), {sa, sb}, Transpose(p, x), out)),
            Permuted(AlongAxis(ax, {{x, sa + sb}}, {r}), {p}));
    }
  }
}

// ---------------------------------------------------------------- shape laws

// dims[i] as an ite over i (0 outside).
IT Select(const IT& i, const std::vector<IT>& dims) {
  IT out = 0;
  for (size_t k = dims.size(); k-- > 0;) out = Ite(i == IT(static_cast<int64_t>(k)), dims[k], out);
  return out;
}

void ShapeLaw(AxiomList& a, std::string_view op, const TT& f, const IT& rank,
              const std::vector<IT>& dims, const Cases& cases, const BT& extra = kTrue) {
  const IT i = IntVar("i", -1, 4);
  const std::vector<TT> args = [&] {
    std::vector<TT> out;
    for (const Term& t : f.ApplyArgs()) out.emplace_back(t);
    return out;
  }();
  a.Add(StrCat(op, "_rank"), StrCat("the rank of ", op, "'s result"),
        Implies(Ok(f) && extra, Rank(f) == rank), cases, {{Rank(f)}});
  a.Add(StrCat(op, "_dims"), StrCat("the dims of ", op, "'s result"),
        Implies(Ok(f) && extra, Dim(f, i) == Select(i, dims)), cases, {{Dim(f, i)}});
  if (args.empty()) return;
  BT all = kTrue;
  for (const TT& arg : args) all = all && Ok(arg);
  a.Add(StrCat(op, "_strict"), StrCat(op, " of a bottom is bottom"), Implies(Ok(f), all),
        Join(cases, {[&] {
               ShapeCase bottom = cases.front();
               bottom.shapes.erase(bottom.shapes.begin());
               return bottom;
             }()}),
        {{f}});
}

void ShapeLaws(AxiomList& a) {
  const IT i = IntVar("i", -1, 4);
  // Elementwise ops keep the shape of their first operand; rank-generic, so
  // stated with dim(x, i) rather than a list.
  auto same_shape = [&](std::string_view op, const TT& f, const Cases& cases) {
    const std::vector<Term> args = f.ApplyArgs();
    BT all = kTrue;
    for (const Term& arg : args) all = all && Ok(TT(arg));
    a.Add(StrCat(op, "_rank"), StrCat("the rank of ", op, "'s result"),
          Implies(Ok(f), Rank(f) == Rank(x)), cases, {{Rank(f)}});
    a.Add(StrCat(op, "_dims"), StrCat("the dims of ", op, "'s result"),
          Implies(Ok(f), Dim(f, i) == Dim(x, i)), cases, {{Dim(f, i)}});
    Cases with_bottom = cases;
    ShapeCase bottom = cases.back();
    bottom.shapes.pop_back();
    with_bottom.push_back(bottom);
    a.Add(StrCat(op, "_strict"), StrCat(op, " of a bottom is bottom"), Implies(Ok(f), all),
          with_bottom, {{f}});
  };
  same_shape("ewadd", x + y, Same({x, y}));
  same_shape("ewmul", x * y, Same({x, y}));
  same_shape("relu", Relu(x), Same({x}));
  same_shape("scalar_mul", ScalarMul(x, s), With(Same({x}), s, {}));

  const IT m = M(), k = K(), q = Q(), b = B();
  {
    const TT f = MatMul(x, y, IntVar("act", 0, 3));
    const Cases mm = Join(With(With({ShapeCase{}}, x, {m, k}), y, {k, q}),
                          With(With({ShapeCase{}}, x, {b, m, k}), y, {k, q}));
    ShapeLaw(a, "matmul", f, Ite(Rank(x) < Rank(y), Rank(y), Rank(x)),
             {Dim(x, 0), Dim(y, 1)}, mm, Rank(x) == IT(2) && Rank(y) == IT(2));
  }
  const ConvSizes cs;
  {
    const ConvAttrs p = ConvVars("");
    const TT f = Conv2d(x, w, p);
    ShapeLaw(a, "conv2d", f, 4,
             {Dim(x, 0), Dim(w, 0),
              WindowOut(p.padding, Dim(x, 2), Dim(w, 2), p.stride_h, p.pad_top, p.pad_bottom,
                        p.dilation_h),
              WindowOut(p.padding, Dim(x, 3), Dim(w, 3), p.stride_w, p.pad_left, p.pad_right,
                        p.dilation_w)},
             Sane(With(With({ShapeCase{}}, x, cs.X(p.groups)), w, cs.W(p.groups)), p));
  }
  for (const bool avg : {true, false}) {
    const PoolAttrs q = PoolVars("");
    const TT f = avg ? AvgPool2d(x, q) : MaxPool2d(x, q);
    ShapeLaw(a, avg ? "avgpool2d" : "maxpool2d", f, 4,
             {Dim(x, 0), Dim(x, 1),
              WindowOut(q.padding, Dim(x, 2), q.kernel_h, q.stride_h, q.pad_top, q.pad_bottom, 1),
              WindowOut(q.padding, Dim(x, 3), q.kernel_w, q.stride_w, q.pad_left, q.pad_right, 1)},
             Sane(With({ShapeCase{}}, x, {cs.n, cs.c, cs.h, cs.wd}), q));
  }
  const IT ax = AxisVar("ax");
  const IT sa = Size("a"), sb = Size("e"), sc = Size("f");
  for (int n = 2; n <= 3; ++n) {
    std::vector<TT> parts = {x, y, z};
    parts.resize(static_cast<size_t>(n));
    std::vector<std::pair<TT, IT>> sized = {{x, sa}, {y, sb}, {z, sc}};
    sized.resize(static_cast<size_t>(n));
    const TT f = Concat(ax, parts);
    IT total = Dim(x, i);
    for (size_t p = 1; p < parts.size(); ++p) total = total + Dim(parts[p], i);
    const Cases cases = AlongAxis(ax, sized);
    const std::string name = StrCat("concat", n);
    a.Add(StrCat(name, "_rank"), "the rank of concat's result",
          Implies(Ok(f), Rank(f) == Rank(x)), cases, {{Rank(f)}});
    a.Add(StrCat(name, "_dims"), "the dims of concat's result: the parts' sizes add up along the axis",
          Implies(Ok(f) && IT(0) <= ax, Dim(f, i) == Ite(i == ax, total, Dim(x, i))), cases,
          {{Dim(f, i)}});
    BT all = kTrue;
    for (const TT& p : parts) all = all && Ok(p);
    ShapeCase bottom = cases[1];
    bottom.shapes.pop_back();
    a.Add(StrCat(name, "_strict"), "concat of a bottom is bottom", Implies(Ok(f), all),
          Join(cases, {bottom}), {{f}});
  }
  for (int n = 2; n <= 3; ++n) {
    std::vector<IT> sizes = {sa, sb, sc};
    sizes.resize(static_cast<size_t>(n));
    IT total = sa;
    for (size_t p = 1; p < sizes.size(); ++p) total = total + sizes[p];
    const Cases cases = AlongAxis(ax, {{x, total}});
    {
      BT nonneg_sizes = kTrue;
      for (const IT& size : sizes) nonneg_sizes = nonneg_sizes && IT(0) <= size;
      const TT f = Split(ax, sizes, x, 0);
      a.Add(StrCat("split", n, "_sizes"), "a split's sizes are not negative",
            Implies(Ok(f), nonneg_sizes), cases, {{f}});
    }
    for (int out = 0; out < n; ++out) {
      const TT f = Split(ax, sizes, x, out);
      const std::string name = StrCat("split", n, "_", out);
      a.Add(StrCat(name, "_rank"), "the rank of a split piece",
            Implies(Ok(f), Rank(f) == Rank(x)), cases, {{Rank(f)}});
      a.Add(StrCat(name, "_dims"), "the dims of a split piece",
            Implies(Ok(f) && IT(0) <= ax,
                    Dim(f, i) == Ite(i == ax, sizes[static_cast<size_t>(out)], Dim(x, i))),
            cases, {{Dim(f, i)}});
      a.Add(StrCat(name, "_strict"), "split of a bottom is bottom", Implies(Ok(f), Ok(x)),
            Join(cases, {ShapeCase{}}), {{f}});
    }
  }
  for (int r = 2; r <= 4; ++r) {
    const std::vector<IT> p = PermVars(r);
    std::vector<IT> d;
    for (int k2 = 0; k2 < r; ++k2) d.push_back(Dim(x, p[static_cast<size_t>(k2)]));
    ShapeLaw(a, StrCat("transpose_r", r), Transpose(p, x), r, d, Permuted(Same({x}, {r}), {p}));
  }
  {
    const IT eh = IntVar("eh", 1, 5), ew = IntVar("ew", 1, 5);
    const IT uh = IntVar("uh", 0, 2), uw = IntVar("uw", 0, 2);
    ShapeLaw(a, "enlarge", Enlarge(w, eh, ew), 4, {Dim(w, 0), Dim(w, 1), eh, ew},
             With({ShapeCase{}}, w, {cs.o, cs.c, eh - IT(2) * uh, ew - IT(2) * uw}));
  }
  const IT c = Size("c"), kh = IntVar("kh", 1, 3), kw = IntVar("kw", 1, 3);
  ShapeLaw(a, "const_pool", ConstPool(c, kh, kw), 4, {c, 1, kh, kw}, {ShapeCase{}});
  ShapeLaw(a, "const_iconv", ConstIdentityConv(c, kh, kw), 4, {c, c, kh, kw}, {ShapeCase{}});
  ShapeLaw(a, "const_imm", ConstIdentityMatrix(c), 2, {c, c}, {ShapeCase{}});
  for (int r = 1; r <= 4; ++r) {
    ShapeLaw(a, StrCat("const_ones_r", r), ConstOnes(Dims(r)), r, Dims(r), {ShapeCase{}});
  }
}

std::vector<Axiom> BuildAxioms() {
  AxiomList a;
  ElementwiseLaws(a);
  ScalarLaws(a);
  MatMulLaws(a);
  ConvLaws(a);
  EnlargeLaws(a);
  ReluPoolLaws(a);
  ConcatSplitLaws(a);
  TransposeLaws(a);
  ShapeLaws(a);
  return a.Take();
}

}  // namespace

const std::vector<Axiom>& Axioms() {
  static const std::vector<Axiom>* axioms = new std::vector<Axiom>(BuildAxioms());
  return *axioms;
}

const Axiom* FindAxiom(std::string_view name) {
  for (const Axiom& a : Axioms()) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const std::string& AxiomSetId() {
  static const std::string* id = [] {
    uint64_t h = 0;
    for (const Axiom& a : Axioms()) {
      h = HashCombine(h, HashBytes(a.name));
      h = HashCombine(h, HashBytes(a.formula.ToString()));
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "lemma-axioms-1-%08" PRIx64, h & 0xffffffffu);
    return new std::string(buf);
  }();
  return *id;
}

std::vector<std::vector<Term>> TriggersOf(const Axiom& axiom) {
  if (!axiom.triggers.empty()) return axiom.triggers;
  return ChooseTriggers(axiom.formula);
}

}  // namespace lemma::verifier
