#include "ir/op_registry.h"

#include <array>
#include <cstdio>
#include <cstdlib>

#include "absl/status/status.h"
#include "ir/strings.h"
#include "ir/shape_functions.h"

namespace lemma {
namespace {

constexpr std::array<std::string_view, 4> kActivationNames = {"none", "relu", "sigmoid", "tanh"};
constexpr std::array<std::string_view, 2> kPaddingNames = {"explicit", "same"};

using Ints = std::vector<int64_t>;

AttrSpec Req(std::string_view name, AttrKind kind, int length = -1) {
  return AttrSpec{name, kind, std::nullopt, {}, length};
}
AttrSpec Opt(std::string_view name, AttrValue def, int length = -1) {
  const AttrKind kind = std::holds_alternative<int64_t>(def)  ? AttrKind::kInt
                        : std::holds_alternative<double>(def) ? AttrKind::kFloat
                                                              : AttrKind::kInts;
  return AttrSpec{name, kind, std::move(def), {}, length};
}
AttrSpec Enum(std::string_view name, std::span<const std::string_view> names, int64_t def) {
  return AttrSpec{name, AttrKind::kEnum, AttrValue{def}, names, -1};
}

// Attribute schemas, shared by ops of one family.
struct Schemas {
  std::vector<AttrSpec> none;
  std::vector<AttrSpec> matmul = {Enum("activation", kActivationNames, 0)};
  std::vector<AttrSpec> conv2d = {
      Opt("stride", Ints{1, 1}, 2),   Enum("padding", kPaddingNames, 0),
      Opt("pads", Ints{0, 0, 0, 0}, 4), Opt("dilation", Ints{1, 1}, 2),
      Opt("groups", int64_t{1}),      Enum("activation", kActivationNames, 0)};
  std::vector<AttrSpec> avgpool = {Req("kernel", AttrKind::kInts, 2),
                                   Opt("stride", Ints{1, 1}, 2),
                                   Enum("padding", kPaddingNames, 0),
                                   Opt("pads", Ints{0, 0, 0, 0}, 4),
                                   Opt("count_include_pad", int64_t{0})};
  std::vector<AttrSpec> maxpool = {Req("kernel", AttrKind::kInts, 2),
                                   Opt("stride", Ints{1, 1}, 2),
                                   Enum("padding", kPaddingNames, 0),
                                   Opt("pads", Ints{0, 0, 0, 0}, 4)};
  std::vector<AttrSpec> axis = {Req("axis", AttrKind::kInt)};
  std::vector<AttrSpec> split = {Req("axis", AttrKind::kInt), Req("sizes", AttrKind::kInts)};
  std::vector<AttrSpec> transpose = {Req("perm", AttrKind::kInts)};
  std::vector<AttrSpec> enlarge = {Req("kernel", AttrKind::kInts, 2)};
  std::vector<AttrSpec> const_conv = {Req("channels", AttrKind::kInt),
                                      Req("kernel", AttrKind::kInts, 2),
                                      Enum("dtype", DTypeNames(), 0)};
  std::vector<AttrSpec> const_imm = {Req("size", AttrKind::kInt), Enum("dtype", DTypeNames(), 0)};
  std::vector<AttrSpec> const_ones = {Req("shape", AttrKind::kInts),
                                      Enum("dtype", DTypeNames(), 0)};
  std::vector<AttrSpec> batchnorm = {Opt("epsilon", 1e-5)};
  std::vector<AttrSpec> softmax = {Opt("axis", int64_t{-1})};
  std::vector<AttrSpec> reshape = {Req("shape", AttrKind::kInts)};
  std::vector<AttrSpec> layernorm = {Opt("axis", int64_t{-1}), Opt("epsilon", 1e-5)};
  std::vector<AttrSpec> pad = {Req("pads", AttrKind::kInts), Opt("value", 0.0)};
  std::vector<AttrSpec> slice = {Req("axes", AttrKind::kInts), Req("starts", AttrKind::kInts),
                                 Req("ends", AttrKind::kInts), Opt("steps", Ints{})};
  std::vector<AttrSpec> reduce = {Req("axes", AttrKind::kInts), Opt("keepdims", int64_t{1})};
};

constexpr uint32_t kGen = kTraitGenerator;

std::vector<OpInfo> BuildTable() {
  static const Schemas* s = new Schemas();
  namespace f = shape_fn;
  // clang-format off
  std::vector<OpInfo> t = {
    {OpKind::kInput, "input", 0, 0, s->none, nullptr, kTraitSource, "a graph input"},
    {OpKind::kWeight, "weight", 0, 0, s->none, nullptr, kTraitSource, "a trained parameter"},
    {OpKind::kMatMul, "matmul", 2, 2, s->matmul, f::MatMul, kGen | kTraitLinear,
     "a[...,m,k] x b[...,k,n], batch dims broadcast; optional fused activation"},
    {OpKind::kConv2d, "conv2d", 2, 2, s->conv2d, f::Conv2d, kGen | kTraitLinear,
     "2-D convolution of x[N,C,H,W] with w[O,C/groups,kh,kw]; optional fused activation"},
    {OpKind::kEwAdd, "ewadd", 2, 2, s->none, f::SameShape,
     kGen | kTraitElementwise | kTraitCommutative, "a + b, same shapes"},
    {OpKind::kEwMul, "ewmul", 2, 2, s->none, f::SameShape,
     kGen | kTraitElementwise | kTraitCommutative | kTraitLinear, "a * b, same shapes"},
    {OpKind::kScalarMul, "scalar_mul", 2, 2, s->none, f::ScalarMul, kGen | kTraitLinear,
     "x * s for a rank-0 tensor s"},
    {OpKind::kRelu, "relu", 1, 1, s->none, f::Unary,
     kGen | kTraitElementwise | kTraitNonLinear, "max(x, 0)"},
    {OpKind::kAvgPool2d, "avgpool2d", 1, 1, s->avgpool, f::Pool2d, kGen | kTraitLinear,
     "mean over each window of x[N,C,H,W]"},
    {OpKind::kMaxPool2d, "maxpool2d", 1, 1, s->maxpool, f::Pool2d, kGen | kTraitNonLinear,
     "max over each window of x[N,C,H,W]"},
    {OpKind::kConcat, "concat", 1, -1, s->axis, f::Concat, kGen,
     "inputs joined along axis"},
    {OpKind::kSplit, "split", 1, 1, s->split, f::Split, kGen | kTraitMultiOutput,
     "x cut along axis into pieces of the given sizes"},
    {OpKind::kTranspose, "transpose", 1, 1, s->transpose, f::Transpose, kGen | kTraitLinear,
     "output dim i is input dim perm[i]"},
    {OpKind::kEnlarge, "enlarge", 1, 1, s->enlarge, f::Enlarge, kGen | kTraitLinear,
     "conv kernel w[O,I,kh,kw] zero-padded, centred, to the given kernel size"},
    {OpKind::kConstPool, "const_pool", 0, 0, s->const_conv, f::ConstPool,
     kGen | kTraitConstant,
     "[C,1,kh,kw] filled with 1/(kh*kw): conv with groups=C is an average pool"},
    {OpKind::kConstIdentityConv, "const_iconv", 0, 0, s->const_conv, f::ConstIdentityConv,
     kGen | kTraitConstant,
     "[C,C,kh,kw], 1 at the centre of the diagonal: conv with it is the identity"},
    {OpKind::kConstIdentityMatrix, "const_imm", 0, 0, s->const_imm, f::ConstIdentityMatrix,
     kGen | kTraitConstant, "the [n,n] identity matrix"},
    {OpKind::kConstOnes, "const_ones", 0, 0, s->const_ones, f::ConstOnes,
     kGen | kTraitConstant, "a tensor of ones"},
    {OpKind::kSigmoid, "sigmoid", 1, 1, s->none, f::Unary,
     kTraitElementwise | kTraitNonLinear, "1 / (1 + exp(-x))"},
    {OpKind::kTanh, "tanh", 1, 1, s->none, f::Unary, kTraitElementwise | kTraitNonLinear,
     "tanh(x)"},
    {OpKind::kGelu, "gelu", 1, 1, s->none, f::Unary, kTraitElementwise | kTraitNonLinear,
     "x * Phi(x), Phi the standard normal CDF (exact, erf form)"},
    {OpKind::kBatchNorm, "batchnorm", 5, 5, s->batchnorm, f::BatchNorm, kTraitNonLinear,
     "inference batch norm of x[N,C,...] with scale, bias, mean, var of [C]"},
    {OpKind::kSoftmax, "softmax", 1, 1, s->softmax, f::Softmax, kTraitNonLinear,
     "exp(x) / sum(exp(x)) along axis"},
    {OpKind::kReshape, "reshape", 1, 1, s->reshape, f::Reshape, kTraitLinear,
     "same elements in row-major order, new dims (one may be -1)"},
    {OpKind::kBroadcastAdd, "broadcast_add", 2, 2, s->none, f::Broadcast,
     kTraitCommutative, "a + b with numpy broadcasting"},
    {OpKind::kBroadcastMul, "broadcast_mul", 2, 2, s->none, f::Broadcast,
     kTraitCommutative | kTraitLinear, "a * b with numpy broadcasting"},
    {OpKind::kLayerNorm, "layernorm", 3, 3, s->layernorm, f::LayerNorm, kTraitNonLinear,
     "(x - mean) / sqrt(var + eps) * scale + bias over dims axis.., scale/bias of those dims"},
    {OpKind::kPad, "pad", 1, 1, s->pad, f::Pad, kTraitNone,
     "x surrounded by value: pads = [begin_0..begin_r-1, end_0..end_r-1]"},
    {OpKind::kSlice, "slice", 1, 1, s->slice, f::Slice, kTraitLinear,
     "elements start, start+step, ... below end along each listed axis"},
    {OpKind::kReduceSum, "reduce_sum", 1, 1, s->reduce, f::Reduce, kTraitLinear,
     "sum over axes"},
    {OpKind::kReduceMean, "reduce_mean", 1, 1, s->reduce, f::Reduce, kTraitLinear,
     "mean over axes"},
    {OpKind::kReduceMax, "reduce_max", 1, 1, s->reduce, f::Reduce, kTraitNonLinear,
     "max over axes"},
    {OpKind::kBroadcastSub, "broadcast_sub", 2, 2, s->none, f::Broadcast, kTraitNone,
     "a - b with numpy broadcasting"},
    {OpKind::kBroadcastDiv, "broadcast_div", 2, 2, s->none, f::Broadcast, kTraitNone,
     "a / b with numpy broadcasting"},
  };
  // clang-format on
  for (size_t i = 0; i < t.size(); ++i) {
    if (static_cast<size_t>(t[i].kind) != i) {
      std::fprintf(stderr, "lemma: op registry out of order at '%s'\n", t[i].name.data());
      std::abort();
    }
  }
  return t;
}

const std::vector<OpInfo>& Table() {
  static const std::vector<OpInfo>* table = new std::vector<OpInfo>(BuildTable());
  return *table;
}

}  // namespace

const OpInfo& GetOpInfo(OpKind op) { return Table()[static_cast<size_t>(op)]; }

std::span<const OpInfo> AllOps() { return Table(); }

std::optional<OpKind> FindOp(std::string_view name) {
  for (const OpInfo& info : Table()) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<TensorType>> InferOutputTypes(OpKind op,
                                                         std::span<const TensorType> inputs,
                                                         const Attributes& attrs) {
  const OpInfo& info = GetOpInfo(op);
  auto fail = [&](const auto& reason) {
    return absl::InvalidArgumentError(StrCat(info.name, ": ", reason));
  };
  if (info.infer == nullptr) return fail("a source has a declared type, not an inferred one");
  if (attrs.op() != op) return fail("attributes belong to another op");
  const int n = static_cast<int>(inputs.size());
  if (n < info.min_inputs || (info.max_inputs >= 0 && n > info.max_inputs)) {
    if (info.min_inputs == info.max_inputs) {
      return fail(StrCat("takes ", info.min_inputs, " input(s), got ", n));
    }
    return fail(StrCat("takes at least ", info.min_inputs, " input(s), got ", n));
  }
  if (absl::Status s = attrs.CheckComplete(); !s.ok()) return fail(s.message());
  for (const TensorType& t : inputs) {
    if (absl::StatusOr<int64_t> count = CheckedNumElements(t.dims); !count.ok()) {
      return fail(count.status().message());
    }
  }
  absl::StatusOr<std::vector<TensorType>> out = info.infer(inputs, attrs);
  if (!out.ok()) return fail(out.status().message());
  for (const TensorType& t : *out) {
    if (absl::StatusOr<int64_t> count = CheckedNumElements(t.dims); !count.ok()) {
      return fail(StrCat("output: ", count.status().message()));
    }
  }
  return out;
}

}  // namespace lemma
