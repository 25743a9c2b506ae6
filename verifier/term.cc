#include "verifier/term.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_set>

#include "ir/attributes.h"
#include "ir/strings.h"
#include "rules/pattern.h"

namespace lemma::verifier {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "lemma verifier: %s\n", message.c_str());
  std::abort();
}

Term Make(TermNode node) { return Term(std::make_shared<const TermNode>(std::move(node))); }

Term MakeOp(TermKind kind, std::vector<Term> children) {
  TermNode n{.kind = kind};
  n.children = std::move(children);
  return Make(std::move(n));
}

void Expect(const Term& t, TermSort sort, std::string_view what) {
  if (t.IsNull() || t.sort() != sort) Die(StrCat(what, ": a term of the wrong sort"));
}

// How many integers schema entry `spec` contributes, given a list of `given`
// elements (-1 when the attribute is not given).
int FlatLength(OpKind op, const AttrSpec& spec, int given) {
  if (IsPatternDTypeAttr(spec)) return 0;
  switch (spec.kind) {
    case AttrKind::kInt:
    case AttrKind::kEnum:
      return 1;
    case AttrKind::kInts:
      if (spec.length >= 0) return spec.length;
      if (given >= 0) return given;
      if (spec.default_value) {
        return static_cast<int>(std::get<std::vector<int64_t>>(*spec.default_value).size());
      }
      Die(StrCat(OpName(op), ": attribute ", spec.name, " has no length"));
    case AttrKind::kFloat:
      break;
  }
  Die(StrCat(OpName(op), ": float attribute ", spec.name, " is not in the term language"));
}

std::string ListText(const std::vector<Term>& items, size_t begin, size_t end) {
  std::vector<std::string> parts;
  for (size_t i = begin; i < end; ++i) parts.push_back(items[i].ToString());
  return StrJoin(parts, ", ");
}

}  // namespace

TermSort SortOf(TermKind kind) {
  switch (kind) {
    case TermKind::kTensorVar:
    case TermKind::kApply:
      return TermSort::kTensor;
    case TermKind::kIntConst:
    case TermKind::kIntVar:
    case TermKind::kAdd:
    case TermKind::kSub:
    case TermKind::kMul:
    case TermKind::kDiv:
    case TermKind::kIte:
    case TermKind::kDim:
    case TermKind::kRank:
      return TermSort::kInt;
    default:
      return TermSort::kBool;
  }
}

// ---------------------------------------------------------------- Term

std::vector<Term> Term::ApplyAttrs() const {
  int n = 0;
  for (int len : node_->attr_lengths) n += len;
  return {node_->children.begin(), node_->children.begin() + n};
}

std::vector<Term> Term::ApplyArgs() const {
  int n = 0;
  for (int len : node_->attr_lengths) n += len;
  return {node_->children.begin() + n, node_->children.end()};
}

std::string Term::ToString() const {
  if (IsNull()) return "<null>";
  const TermNode& n = *node_;
  const std::vector<Term>& c = n.children;
  auto binary = [&](std::string_view op) {
    return StrCat("(", c[0].ToString(), " ", op, " ", c[1].ToString(), ")");
  };
  switch (n.kind) {
    case TermKind::kTensorVar:
    case TermKind::kIntVar:
      return n.name;
    case TermKind::kIntConst:
      return StrCat(n.value);
    case TermKind::kApply: {
      const Attributes schema_holder(n.op);
      const std::span<const AttrSpec> schema = schema_holder.schema();
      std::vector<std::string> attrs;
      size_t next = 0;
      for (size_t i = 0; i < schema.size(); ++i) {
        const size_t len = static_cast<size_t>(n.attr_lengths[i]);
        if (len == 0 && IsPatternDTypeAttr(schema[i])) continue;
        const bool list = schema[i].kind == AttrKind::kInts;
        const std::string body = ListText(c, next, next + len);
        attrs.push_back(StrCat(schema[i].name, "=", list ? StrCat("[", body, "]") : body));
        next += len;
      }
      std::string out(OpName(n.op));
      if (!attrs.empty()) StrAppend(&out, "{", StrJoin(attrs, ","), "}");
      if (n.num_outputs > 1) StrAppend(&out, ".", n.output);
      StrAppend(&out, "(", ListText(c, next, c.size()), ")");
      return out;
    }
    case TermKind::kAdd:
      return binary("+");
    case TermKind::kSub:
      return binary("-");
    case TermKind::kMul:
      return binary("*");
    case TermKind::kDiv:
      return binary("/");
    case TermKind::kIte:
      return StrCat("ite(", c[0].ToString(), ", ", c[1].ToString(), ", ", c[2].ToString(), ")");
    case TermKind::kDim:
      return StrCat("dim(", c[0].ToString(), ", ", c[1].ToString(), ")");
    case TermKind::kRank:
      return StrCat("rank(", c[0].ToString(), ")");
    case TermKind::kTrue:
      return "true";
    case TermKind::kFalse:
      return "false";
    case TermKind::kTensorEq:
    case TermKind::kIntEq:
      return binary("==");
    case TermKind::kIntLe:
      return binary("<=");
    case TermKind::kIntLt:
      return binary("<");
    case TermKind::kAnd:
    case TermKind::kOr: {
      std::vector<std::string> parts;
      for (const Term& t : c) parts.push_back(t.ToString());
      return StrCat("(", StrJoin(parts, n.kind == TermKind::kAnd ? " && " : " || "), ")");
    }
    case TermKind::kNot:
      return StrCat("!", c[0].ToString());
    case TermKind::kImplies:
      return binary("=>");
    case TermKind::kOk:
      return StrCat("ok(", c[0].ToString(), ")");
  }
  return "?";
}

bool SameTerm(const Term& a, const Term& b) {
  if (a.id() == b.id()) return true;
  if (a.IsNull() || b.IsNull()) return false;
  const TermNode& x = a.node();
  const TermNode& y = b.node();
  if (x.kind != y.kind || x.name != y.name || x.value != y.value || x.op != y.op ||
      x.output != y.output || x.num_outputs != y.num_outputs ||
      x.attr_lengths != y.attr_lengths || x.children.size() != y.children.size()) {
    return false;
  }
  for (size_t i = 0; i < x.children.size(); ++i) {
    if (!SameTerm(x.children[i], y.children[i])) return false;
  }
  return true;
}

TensorTerm::TensorTerm(Term t) : Term(std::move(t)) { Expect(*this, TermSort::kTensor, "tensor"); }
IntTerm::IntTerm(Term t) : Term(std::move(t)) { Expect(*this, TermSort::kInt, "int"); }
IntTerm::IntTerm(int64_t value) : Term(Make(TermNode{.kind = TermKind::kIntConst, .value = value})) {}
BoolTerm::BoolTerm(Term t) : Term(std::move(t)) { Expect(*this, TermSort::kBool, "bool"); }

BoolTerm BoolTerm::Constant(bool value) {
  return BoolTerm(Make(TermNode{.kind = value ? TermKind::kTrue : TermKind::kFalse}));
}

// ---------------------------------------------------------------- builders

TensorTerm TensorVar(std::string name) {
  return TensorTerm(Make(TermNode{.kind = TermKind::kTensorVar, .name = std::move(name)}));
}

IntTerm IntVar(std::string name, int64_t low, int64_t high) {
  return IntTerm(Make(
      TermNode{.kind = TermKind::kIntVar, .name = std::move(name), .value = low, .high = high}));
}

IntTerm Dim(const TensorTerm& t, const IntTerm& i) { return IntTerm(MakeOp(TermKind::kDim, {t, i})); }
IntTerm Rank(const TensorTerm& t) { return IntTerm(MakeOp(TermKind::kRank, {t})); }
BoolTerm Ok(const TensorTerm& t) { return BoolTerm(MakeOp(TermKind::kOk, {t})); }

IntTerm operator+(const IntTerm& a, const IntTerm& b) {
  return IntTerm(MakeOp(TermKind::kAdd, {a, b}));
}
IntTerm operator-(const IntTerm& a, const IntTerm& b) {
  return IntTerm(MakeOp(TermKind::kSub, {a, b}));
}
IntTerm operator*(const IntTerm& a, const IntTerm& b) {
  return IntTerm(MakeOp(TermKind::kMul, {a, b}));
}
IntTerm FloorDiv(const IntTerm& a, const IntTerm& b) {
  return IntTerm(MakeOp(TermKind::kDiv, {a, b}));
}
IntTerm Ite(const BoolTerm& c, const IntTerm& a, const IntTerm& b) {
  return IntTerm(MakeOp(TermKind::kIte, {c, a, b}));
}

BoolTerm operator==(const IntTerm& a, const IntTerm& b) {
  return BoolTerm(MakeOp(TermKind::kIntEq, {a, b}));
}
BoolTerm operator!=(const IntTerm& a, const IntTerm& b) { return !(a == b); }
BoolTerm operator<=(const IntTerm& a, const IntTerm& b) {
  return BoolTerm(MakeOp(TermKind::kIntLe, {a, b}));
}
BoolTerm operator<(const IntTerm& a, const IntTerm& b) {
  return BoolTerm(MakeOp(TermKind::kIntLt, {a, b}));
}
BoolTerm operator>=(const IntTerm& a, const IntTerm& b) { return b <= a; }
BoolTerm operator>(const IntTerm& a, const IntTerm& b) { return b < a; }
BoolTerm operator==(const TensorTerm& a, const TensorTerm& b) {
  return BoolTerm(MakeOp(TermKind::kTensorEq, {a, b}));
}
BoolTerm operator!=(const TensorTerm& a, const TensorTerm& b) { return !(a == b); }

BoolTerm operator&&(const BoolTerm& a, const BoolTerm& b) {
  std::vector<Term> parts;
  for (const BoolTerm* t : {&a, &b}) {
    if (t->kind() == TermKind::kTrue) continue;
    if (t->kind() == TermKind::kAnd) {
      parts.insert(parts.end(), t->children().begin(), t->children().end());
    } else {
      parts.push_back(*t);
    }
  }
  if (parts.empty()) return BoolTerm::Constant(true);
  if (parts.size() == 1) return BoolTerm(parts[0]);
  return BoolTerm(MakeOp(TermKind::kAnd, std::move(parts)));
}
BoolTerm operator||(const BoolTerm& a, const BoolTerm& b) {
  return BoolTerm(MakeOp(TermKind::kOr, {a, b}));
}
BoolTerm operator!(const BoolTerm& a) { return BoolTerm(MakeOp(TermKind::kNot, {a})); }
BoolTerm Implies(const BoolTerm& a, const BoolTerm& b) {
  return BoolTerm(MakeOp(TermKind::kImplies, {a, b}));
}
BoolTerm AllOf(std::vector<BoolTerm> parts) {
  BoolTerm all = BoolTerm::Constant(true);
  for (const BoolTerm& p : parts) all = all && p;
  return all;
}

TensorTerm ApplyFlat(OpKind op, std::vector<int> attr_lengths, std::vector<IntTerm> attrs,
                     std::vector<TensorTerm> args, int output, int num_outputs) {
  TermNode n{.kind = TermKind::kApply, .op = op, .output = output, .num_outputs = num_outputs};
  n.attr_lengths = std::move(attr_lengths);
  for (IntTerm& a : attrs) n.children.push_back(std::move(a));
  for (TensorTerm& a : args) n.children.push_back(std::move(a));
  if (output < 0 || output >= num_outputs) Die(StrCat(OpName(op), ": output out of range"));
  return TensorTerm(Make(std::move(n)));
}

TensorTerm Apply(OpKind op, std::vector<NamedAttr> attrs, std::vector<TensorTerm> args,
                 int output) {
  const Attributes holder(op);
  const std::span<const AttrSpec> schema = holder.schema();
  std::vector<int> lengths;
  std::vector<IntTerm> flat;
  std::set<std::string_view> used;
  int num_outputs = 1;
  for (const AttrSpec& spec : schema) {
    const NamedAttr* given = nullptr;
    for (const NamedAttr& a : attrs) {
      if (a.name == spec.name) given = &a;
    }
    const int len = FlatLength(op, spec, given ? static_cast<int>(given->values.size()) : -1);
    lengths.push_back(len);
    if (len == 0) continue;
    if (given != nullptr) {
      used.insert(given->name);
      if (static_cast<int>(given->values.size()) != len) {
        Die(StrCat(OpName(op), ": attribute ", spec.name, " needs ", len, " values"));
      }
      flat.insert(flat.end(), given->values.begin(), given->values.end());
    } else if (spec.default_value) {
      const AttrValue& d = *spec.default_value;
      if (const auto* i = std::get_if<int64_t>(&d)) {
        flat.emplace_back(*i);
      } else {
        for (int64_t v : std::get<std::vector<int64_t>>(d)) flat.emplace_back(v);
      }
    } else {
      Die(StrCat(OpName(op), ": required attribute ", spec.name, " not given"));
    }
    if (op == OpKind::kSplit && spec.name == "sizes") num_outputs = len;
  }
  for (const NamedAttr& a : attrs) {
    if (!used.contains(a.name)) Die(StrCat(OpName(op), ": no attribute ", a.name));
  }
  return ApplyFlat(op, std::move(lengths), std::move(flat), std::move(args), output, num_outputs);
}

TensorTerm operator+(const TensorTerm& a, const TensorTerm& b) {
  return Apply(OpKind::kEwAdd, {}, {a, b});
}
TensorTerm operator*(const TensorTerm& a, const TensorTerm& b) {
  return Apply(OpKind::kEwMul, {}, {a, b});
}
TensorTerm ScalarMul(const TensorTerm& x, const TensorTerm& s) {
  return Apply(OpKind::kScalarMul, {}, {x, s});
}
TensorTerm Relu(const TensorTerm& x) { return Apply(OpKind::kRelu, {}, {x}); }
TensorTerm MatMul(const TensorTerm& a, const TensorTerm& b, const IntTerm& activation) {
  return Apply(OpKind::kMatMul, {{"activation", {activation}}}, {a, b});
}

ConvAttrs ConvVars(std::string_view prefix) {
  auto v = [&](std::string_view field, int64_t low, int64_t high) {
    return IntVar(StrCat(prefix, field), low, high);
  };
  return ConvAttrs{.stride_h = v("sh", 1, 2),
                   .stride_w = v("sw", 1, 2),
                   .padding = v("pad", 0, 1),
                   .pad_top = v("pt", 0, 1),
                   .pad_left = v("pl", 0, 1),
                   .pad_bottom = v("pb", 0, 2),
                   .pad_right = v("pr", 0, 2),
                   .dilation_h = v("dh", 1, 2),
                   .dilation_w = v("dw", 1, 1),
                   .groups = v("g", 1, 1),
                   .activation = v("act", 0, 3)};
}

TensorTerm Conv2d(const TensorTerm& x, const TensorTerm& w, const ConvAttrs& a) {
  return Apply(OpKind::kConv2d,
               {{"stride", {a.stride_h, a.stride_w}},
                {"padding", {a.padding}},
                {"pads", {a.pad_top, a.pad_left, a.pad_bottom, a.pad_right}},
                {"dilation", {a.dilation_h, a.dilation_w}},
                {"groups", {a.groups}},
                {"activation", {a.activation}}},
               {x, w});
}

PoolAttrs PoolVars(std::string_view prefix) {
  auto v = [&](std::string_view field, int64_t low, int64_t high) {
    return IntVar(StrCat(prefix, field), low, high);
  };
  return PoolAttrs{.kernel_h = v("kh", 1, 3),
                   .kernel_w = v("kw", 1, 3),
                   .stride_h = v("sh", 1, 2),
                   .stride_w = v("sw", 1, 2),
                   .padding = v("pad", 0, 1),
                   .pad_top = v("pt", 0, 1),
                   .pad_left = v("pl", 0, 1),
                   .pad_bottom = v("pb", 0, 1),
                   .pad_right = v("pr", 0, 1),
                   .count_include_pad = v("cip", 0, 1)};
}

namespace {
std::vector<NamedAttr> PoolAttrList(const PoolAttrs& a) {
  return {{"kernel", {a.kernel_h, a.kernel_w}},
          {"stride", {a.stride_h, a.stride_w}},
          {"padding", {a.padding}},
          {"pads", {a.pad_top, a.pad_left, a.pad_bottom, a.pad_right}}};
}
}  // namespace

TensorTerm AvgPool2d(const TensorTerm& x, const PoolAttrs& a) {
  std::vector<NamedAttr> attrs = PoolAttrList(a);
  attrs.push_back({"count_include_pad", {a.count_include_pad}});
  return Apply(OpKind::kAvgPool2d, std::move(attrs), {x});
}
TensorTerm MaxPool2d(const TensorTerm& x, const PoolAttrs& a) {
  return Apply(OpKind::kMaxPool2d, PoolAttrList(a), {x});
}

TensorTerm Concat(const IntTerm& axis, std::vector<TensorTerm> parts) {
  return Apply(OpKind::kConcat, {{"axis", {axis}}}, std::move(parts));
}
TensorTerm Split(const IntTerm& axis, std::vector<IntTerm> sizes, const TensorTerm& x,
                 int output) {
  return Apply(OpKind::kSplit, {{"axis", {axis}}, {"sizes", std::move(sizes)}}, {x}, output);
}
TensorTerm Transpose(std::vector<IntTerm> perm, const TensorTerm& x) {
  return Apply(OpKind::kTranspose, {{"perm", std::move(perm)}}, {x});
}
TensorTerm Enlarge(const TensorTerm& w, const IntTerm& kernel_h, const IntTerm& kernel_w) {
  return Apply(OpKind::kEnlarge, {{"kernel", {kernel_h, kernel_w}}}, {w});
}
TensorTerm ConstPool(const IntTerm& channels, const IntTerm& kernel_h, const IntTerm& kernel_w) {
  return Apply(OpKind::kConstPool, {{"channels", {channels}}, {"kernel", {kernel_h, kernel_w}}},
               {});
}
TensorTerm ConstIdentityConv(const IntTerm& channels, const IntTerm& kernel_h,
                             const IntTerm& kernel_w) {
  return Apply(OpKind::kConstIdentityConv,
               {{"channels", {channels}}, {"kernel", {kernel_h, kernel_w}}}, {});
}
TensorTerm ConstIdentityMatrix(const IntTerm& size) {
  return Apply(OpKind::kConstIdentityMatrix, {{"size", {size}}}, {});
}
TensorTerm ConstOnes(std::vector<IntTerm> shape) {
  return Apply(OpKind::kConstOnes, {{"shape", std::move(shape)}}, {});
}

// ---------------------------------------------------------------- queries

FreeVars CollectFreeVars(const Term& t) {
  FreeVars out;
  std::set<std::string> tensors, ints;
  std::unordered_set<const void*> seen;
  // Depth-first, children in order, so variables come in order of occurrence.
  auto visit = [&](auto&& self, const Term& x) -> void {
    if (!seen.insert(x.id()).second) return;
    if (x.kind() == TermKind::kTensorVar && tensors.insert(x.node().name).second) {
      out.tensors.emplace_back(x);
    }
    if (x.kind() == TermKind::kIntVar && ints.insert(x.node().name).second) {
      out.ints.emplace_back(x);
    }
    for (const Term& c : x.children()) self(self, c);
  };
  visit(visit, t);
  return out;
}

bool HasArithmetic(const Term& t) {
  switch (t.kind()) {
    case TermKind::kAdd:
    case TermKind::kSub:
    case TermKind::kMul:
    case TermKind::kDiv:
    case TermKind::kIte:
      return true;
    default:
      break;
  }
  for (const Term& c : t.children()) {
    if (HasArithmetic(c)) return true;
  }
  return false;
}

std::vector<TensorTerm> CollectApplications(const Term& t) {
  std::vector<TensorTerm> out;
  std::unordered_set<const void*> seen;
  auto visit = [&](auto&& self, const Term& x) -> void {
    if (!seen.insert(x.id()).second) return;
    for (const Term& c : x.children()) self(self, c);
    if (x.kind() == TermKind::kApply) {
      for (const TensorTerm& o : out) {
        if (SameTerm(o, x)) return;
      }
      out.emplace_back(x);
    }
  };
  visit(visit, t);
  return out;
}

}  // namespace lemma::verifier
