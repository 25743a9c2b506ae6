#include "generator/universe.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "ir/strings.h"

namespace lemma {
namespace {

// Attribute values of the built-in templates are known to be valid.
void MustSet(Attributes& attrs, std::string_view name, AttrValue value) {
  if (absl::Status s = attrs.Set(name, std::move(value)); !s.ok()) {
    std::fprintf(stderr, "lemma: template attribute %.*s: %s\n", static_cast<int>(name.size()),
                 name.data(), std::string(s.message()).c_str());
    std::abort();
  }
}

void MustSetEnum(Attributes& attrs, std::string_view name, std::string_view value) {
  if (absl::Status s = attrs.SetEnum(name, value); !s.ok()) {
    std::fprintf(stderr, "lemma: template attribute %.*s: %s\n", static_cast<int>(name.size()),
                 name.data(), std::string(s.message()).c_str());
    std::abort();
  }
}

int MustFindVariable(const Universe& u, std::string_view name) {
  for (size_t i = 0; i < u.variables.size(); ++i) {
    if (u.variables[i].name == name) return static_cast<int>(i);
  }
  std::fprintf(stderr, "lemma: the universe has no size variable '%.*s'\n",
               static_cast<int>(name.size()), name.data());
  std::abort();
}

OpTemplate Make(std::string name, OpKind op, int arity) {
  OpTemplate t{std::move(name), op, arity, {-1, -1}, {Role::kAny, Role::kAny}, false,
               Attributes(op), {}, DerivedAttr::kNone, 0};
  return t;
}

}  // namespace

std::vector<std::string> Universe::VariableNames() const {
  std::vector<std::string> names;
  for (const SizeVariable& v : variables) names.push_back(v.name);
  return names;
}

std::vector<int64_t> Universe::Values(int which) const {
  std::vector<int64_t> values;
  for (const SizeVariable& v : variables) values.push_back(which == 0 ? v.a : v.b);
  return values;
}

int Universe::FindTensor(std::string_view name) const {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

Universe DefaultUniverse() {
  Universe u;
  u.variables = {{"m", 2, 3}, {"k", 5, 4}, {"n", 2, 3}, {"c", 4, 6}, {"h", 5, 4},
                 {"w", 6, 7}, {"j", 8, 2}, {"l", 10, 9}, {"o", 7, 5}, {"e", 9, 11}};
  const SymSize m = SymSize::Var(0), k = SymSize::Var(1), n = SymSize::Var(2),
                c = SymSize::Var(3), h = SymSize::Var(4), w = SymSize::Var(5),
                j = SymSize::Var(6), l = SymSize::Var(7), o = SymSize::Var(8),
                e = SymSize::Var(9);
  const SymSize one = SymSize::Const(1), three = SymSize::Const(3);
  auto add = [&](std::string name, std::vector<SymSize> dims) {
    u.tensors.push_back({std::move(name), SymShape{std::move(dims)}});
  };
  for (const char* name : {"a1", "a2", "a3"}) add(name, {m, k});
  add("b1", {k, k});
  add("b2", {k, k});
  add("b3", {k, j});
  add("b4", {k, l});
  for (const char* name : {"x1", "x2", "x3"}) add(name, {n, c, h, w});
  add("f1", {c, c, three, three});
  add("f2", {c, c, three, three});
  add("f3", {o, c, three, three});
  add("f4", {e, c, three, three});
  add("u1", {c, c, one, three});
  add("u2", {o, c, one, three});
  add("v1", {c, c, three, one});
  add("v2", {o, c, three, one});
  add("p1", {c, c, one, one});
  add("p2", {c, c, one, one});
  add("p3", {o, c, one, one});
  add("p4", {e, c, one, one});
  add("d1", {c, one, three, three});
  add("s", {});
  return u;
}

std::vector<OpTemplate> DefaultTemplates(const Universe& universe) {
  const SymSize m = SymSize::Var(MustFindVariable(universe, "m"));
  const SymSize k = SymSize::Var(MustFindVariable(universe, "k"));
  const SymSize n = SymSize::Var(MustFindVariable(universe, "n"));
  const SymSize c = SymSize::Var(MustFindVariable(universe, "c"));
  const SymSize h = SymSize::Var(MustFindVariable(universe, "h"));
  const SymSize w = SymSize::Var(MustFindVariable(universe, "w"));
  const SymSize three = SymSize::Const(3);
  const std::vector<int64_t> k33 = {3, 3};
  std::vector<OpTemplate> out;

  OpTemplate matmul = Make("matmul", OpKind::kMatMul, 2);
  matmul.ranks = {2, 2};
  out.push_back(matmul);
  for (OpKind op : {OpKind::kEwAdd, OpKind::kEwMul}) {
    OpTemplate t = Make(std::string(OpName(op)), op, 2);
    t.roles = {Role::kNonScalar, Role::kNonScalar};
    t.commutative = true;
    out.push_back(t);
  }
  OpTemplate scalar_mul = Make("scalar_mul", OpKind::kScalarMul, 2);
  scalar_mul.roles = {Role::kNonScalar, Role::kScalar};
  out.push_back(scalar_mul);
  OpTemplate relu = Make("relu", OpKind::kRelu, 1);
  relu.roles = {Role::kNonScalar, Role::kAny};
  out.push_back(relu);
  for (bool fused : {false, true}) {
    OpTemplate t = Make(fused ? "conv2d_relu" : "conv2d", OpKind::kConv2d, 2);
    t.roles = {Role::kSpatial, Role::kKernel};
    MustSetEnum(t.fixed, "padding", "same");
    if (fused) MustSetEnum(t.fixed, "activation", "relu");
    t.derived = DerivedAttr::kConvGroups;
    out.push_back(t);
  }
  for (OpKind op : {OpKind::kAvgPool2d, OpKind::kMaxPool2d}) {
    OpTemplate t = Make(std::string(OpName(op)), op, 1);
    t.roles = {Role::kSpatial, Role::kAny};
    MustSet(t.fixed, "kernel", k33);
    MustSetEnum(t.fixed, "padding", "same");
    // Zero padding counts, as in a convolution with const_pool.
    if (op == OpKind::kAvgPool2d) MustSet(t.fixed, "count_include_pad", int64_t{1});
    out.push_back(t);
  }
  // Concat and split: matrices along both axes; 4-D tensors along every axis,
  // the spatial ones for images only.
  for (OpKind op : {OpKind::kConcat, OpKind::kSplit}) {
    for (int rank : {2, 4}) {
      for (int axis = 0; axis < rank; ++axis) {
        OpTemplate t = Make(StrCat(OpName(op), rank, "d_axis", axis), op, op == OpKind::kConcat ? 2 : 1);
        t.ranks = {rank, op == OpKind::kConcat ? rank : -1};
        if (rank == 4 && axis >= 2) t.roles = {Role::kSpatial, Role::kSpatial};
        MustSet(t.fixed, "axis", int64_t{axis});
        if (op == OpKind::kSplit) {
          t.derived = DerivedAttr::kSplitSizes;
          t.axis = axis;
        }
        out.push_back(t);
      }
    }
  }
  OpTemplate transpose = Make("transpose", OpKind::kTranspose, 1);
  transpose.ranks = {2, -1};
  MustSet(transpose.fixed, "perm", std::vector<int64_t>{1, 0});
  out.push_back(transpose);
  OpTemplate enlarge = Make("enlarge", OpKind::kEnlarge, 1);
  enlarge.roles = {Role::kSmallKernel, Role::kAny};
  MustSet(enlarge.fixed, "kernel", k33);
  out.push_back(enlarge);

  // Constants: their shapes in size variables.
  for (OpKind op : {OpKind::kConstPool, OpKind::kConstIdentityConv}) {
    OpTemplate t = Make(std::string(OpName(op)), op, 0);
    t.symbolic = {{"channels", {c}, false}, {"kernel", {three, three}, true}};
    out.push_back(t);
  }
  OpTemplate imm = Make("const_imm", OpKind::kConstIdentityMatrix, 0);
  imm.symbolic = {{"size", {k}, false}};
  out.push_back(imm);
  OpTemplate ones4 = Make("const_ones4d", OpKind::kConstOnes, 0);
  ones4.symbolic = {{"shape", {n, c, h, w}, true}};
  out.push_back(ones4);
  OpTemplate ones2 = Make("const_ones2d", OpKind::kConstOnes, 0);
  ones2.symbolic = {{"shape", {m, k}, true}};
  out.push_back(ones2);
  return out;
}

absl::StatusOr<std::vector<OpTemplate>> SelectTemplates(std::vector<OpTemplate> templates,
                                                        const std::vector<std::string>& names) {
  if (names.empty()) return templates;
  std::vector<bool> keep(templates.size(), false);
  for (const std::string& name : names) {
    bool found = false;
    for (size_t i = 0; i < templates.size(); ++i) {
      if (templates[i].name == name || OpName(templates[i].op) == name) {
        keep[i] = true;
        found = true;
      }
    }
    if (!found) {
      std::vector<std::string> known;
      for (const OpTemplate& t : templates) {
        if (std::find(known.begin(), known.end(), OpName(t.op)) == known.end()) {
          known.emplace_back(OpName(t.op));
        }
      }
      return absl::InvalidArgumentError(StrCat("no generator op named '", name,
                                               "' (ops: ", StrJoin(known, ", "), ")"));
    }
  }
  std::vector<OpTemplate> out;
  for (size_t i = 0; i < templates.size(); ++i) {
    if (keep[i]) out.push_back(std::move(templates[i]));
  }
  return out;
}

absl::StatusOr<Universe> SelectTensors(Universe universe, const std::vector<std::string>& names) {
  if (names.empty()) return universe;
  std::vector<bool> keep(universe.tensors.size(), false);
  for (const std::string& name : names) {
    const int i = universe.FindTensor(name);
    if (i < 0) {
      std::vector<std::string> known;
      for (const UniverseTensor& t : universe.tensors) known.push_back(t.name);
      return absl::InvalidArgumentError(
          StrCat("no input tensor named '", name, "' (tensors: ", StrJoin(known, ", "), ")"));
    }
    keep[static_cast<size_t>(i)] = true;
  }
  std::vector<UniverseTensor> tensors;
  for (size_t i = 0; i < universe.tensors.size(); ++i) {
    if (keep[i]) tensors.push_back(std::move(universe.tensors[i]));
  }
  universe.tensors = std::move(tensors);
  return universe;
}

}  // namespace lemma
