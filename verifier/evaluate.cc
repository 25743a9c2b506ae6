#include "verifier/evaluate.h"

#include <cmath>
#include <unordered_map>
#include <vector>

#include "ir/graph.h"
#include "ir/strings.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "rules/pattern.h"

namespace lemma::verifier {

std::string Assignment::ToString() const {
  std::map<std::string, std::string> parts;
  for (const auto& [name, value] : ints) parts[name] = StrCat(name, "=", value);
  for (const auto& [name, dims] : tensors) {
    parts[name] = StrCat(name, "=", dims ? DimsToString(*dims) : std::string("bottom"));
  }
  std::vector<std::string> out;
  for (const auto& [name, text] : parts) out.push_back(text);
  return StrJoin(out, ", ");
}

template <typename A>
struct TermEvaluator<A>::State {
  using T = typename A::T;

  const Assignment& assignment;
  uint64_t seed;
  double tolerance;
  bool shapes_only;
  Graph graph{"term"};
  // The value of each evaluated tensor term (by node identity, the term kept
  // alive so that its address is not reused); nullopt is bottom.
  std::unordered_map<const void*, std::pair<Term, std::optional<ValueId>>> values;
  std::map<std::pair<NodeId, int>, lemma::Tensor<T>> outputs;

  State(const Assignment& a, uint64_t s, double tol, bool shapes)
      : assignment(a), seed(s), tolerance(tol), shapes_only(shapes) {}

  const lemma::Tensor<T>& TensorOf(ValueId v) const { return outputs.at({v.node, v.index}); }

  absl::StatusOr<std::optional<ValueId>> Value(const Term& t) {
    if (auto it = values.find(t.id()); it != values.end()) return it->second.second;
    absl::StatusOr<std::optional<ValueId>> v = Compute(t);
    if (v.ok()) values.emplace(t.id(), std::pair{t, *v});
    return v;
  }

  absl::StatusOr<std::optional<ValueId>> Compute(const Term& t) {
    const TermNode& n = t.node();
    if (n.kind == TermKind::kTensorVar) {
      auto it = assignment.tensors.find(n.name);
      if (it == assignment.tensors.end()) {
        return absl::InvalidArgumentError(StrCat("tensor variable ", n.name, " has no value"));
      }
      if (!it->second) return std::optional<ValueId>();
      absl::StatusOr<ValueId> in =
          graph.AddInput(n.name, TensorType::Make(DType::kF64, *it->second));
      if (!in.ok()) return in.status();
      if (shapes_only) return std::optional<ValueId>(*in);
      outputs.emplace(std::pair{in->node, 0},
                      RandomTensor<A>(graph.type(*in), ValueSeed(seed, n.name)));
      return std::optional<ValueId>(*in);
    }
    // An application: attributes, then arguments; any failure is bottom.
    std::vector<int64_t> flat;
    for (const Term& a : t.ApplyAttrs()) {
      absl::StatusOr<int64_t> v = Int(a);
      if (!v.ok()) return v.status();
      flat.push_back(*v);
    }
    std::vector<ValueId> args;
    for (const Term& a : t.ApplyArgs()) {
      absl::StatusOr<std::optional<ValueId>> v = Value(a);
      if (!v.ok()) return v.status();
      if (!*v) return std::optional<ValueId>();
      args.push_back(**v);
    }
    Attributes attrs(n.op);
    const std::span<const AttrSpec> schema = attrs.schema();
    size_t next = 0;
    for (size_t i = 0; i < schema.size(); ++i) {
      const size_t len = static_cast<size_t>(n.attr_lengths[i]);
      absl::Status s;
      if (IsPatternDTypeAttr(schema[i])) {
        s = attrs.Set(schema[i].name, static_cast<int64_t>(DType::kF64));
      } else if (schema[i].kind == AttrKind::kInts) {
        s = attrs.Set(schema[i].name,
                      std::vector<int64_t>(flat.begin() + static_cast<int64_t>(next),
                                           flat.begin() + static_cast<int64_t>(next + len)));
      } else {
        s = attrs.Set(schema[i].name, flat[next]);
      }
      next += len;
      if (!s.ok()) return std::optional<ValueId>();
    }
    absl::StatusOr<NodeId> id = graph.AddNode(n.op, std::move(attrs), args);
    if (!id.ok()) return std::optional<ValueId>();
    const Node& node = graph.node(*id);
    if (static_cast<int>(node.outputs.size()) != n.num_outputs) return std::optional<ValueId>();
    if (shapes_only) return std::optional<ValueId>(ValueId{*id, n.output});
    std::vector<const lemma::Tensor<T>*> inputs;
    for (ValueId a : args) inputs.push_back(&TensorOf(a));
    absl::StatusOr<std::vector<lemma::Tensor<T>>> out = EvaluateNode<A>(graph, *id, inputs);
    if (!out.ok()) return out.status();
    for (size_t k = 0; k < out->size(); ++k) {
      outputs.emplace(std::pair{*id, static_cast<int>(k)}, std::move((*out)[k]));
    }
    return std::optional<ValueId>(ValueId{*id, n.output});
  }

  absl::StatusOr<int64_t> Int(const Term& t) {
    const TermNode& n = t.node();
    const std::vector<Term>& c = n.children;
    auto overflow = [&] { return absl::OutOfRangeError(StrCat("overflow in ", t.ToString())); };
    switch (n.kind) {
      case TermKind::kIntConst:
        return n.value;
      case TermKind::kIntVar: {
        auto it = assignment.ints.find(n.name);
        if (it == assignment.ints.end()) {
          return absl::InvalidArgumentError(StrCat("integer variable ", n.name, " has no value"));
        }
        return it->second;
      }
      case TermKind::kAdd:
      case TermKind::kSub:
      case TermKind::kMul: {
        absl::StatusOr<int64_t> a = Int(c[0]);
        if (!a.ok()) return a;
        absl::StatusOr<int64_t> b = Int(c[1]);
        if (!b.ok()) return b;
        int64_t r = 0;
        const bool bad = n.kind == TermKind::kAdd   ? __builtin_add_overflow(*a, *b, &r)
                         : n.kind == TermKind::kSub ? __builtin_sub_overflow(*a, *b, &r)
                                                    : __builtin_mul_overflow(*a, *b, &r);
        if (bad) return overflow();
        return r;
      }
      case TermKind::kDiv: {
        absl::StatusOr<int64_t> a = Int(c[0]);
        if (!a.ok()) return a;
        absl::StatusOr<int64_t> b = Int(c[1]);
        if (!b.ok()) return b;
        if (*b <= 0) {
          return absl::FailedPreconditionError(
              StrCat("division by ", *b, " in ", t.ToString(), " (guard the divisor)"));
        }
        return *a >= 0 ? *a / *b : -((-*a + *b - 1) / *b);
      }
      case TermKind::kIte: {
        absl::StatusOr<bool> cond = Bool(c[0]);
        if (!cond.ok()) return cond.status();
        return Int(c[*cond ? 1 : 2]);
      }
      case TermKind::kDim:
      case TermKind::kRank: {
        absl::StatusOr<std::optional<ValueId>> v = Value(c[0]);
        if (!v.ok()) return v.status();
        if (!*v) {
          return absl::FailedPreconditionError(
              StrCat(n.kind == TermKind::kDim ? "dim" : "rank", " of bottom: ",
                     c[0].ToString(), " (guard it with ok())"));
        }
        const TensorType& type = graph.type(**v);
        if (n.kind == TermKind::kRank) return type.rank();
        absl::StatusOr<int64_t> i = Int(c[1]);
        if (!i.ok()) return i;
        return *i >= 0 && *i < type.rank() ? type.dim(static_cast<int>(*i)) : 0;
      }
      default:
        return absl::InternalError(StrCat("not an integer term: ", t.ToString()));
    }
  }

  absl::StatusOr<bool> Equal(const Term& a, const Term& b) {
    absl::StatusOr<std::optional<ValueId>> x = Value(a);
    if (!x.ok()) return x.status();
    absl::StatusOr<std::optional<ValueId>> y = Value(b);
    if (!y.ok()) return y.status();
    if (!*x || !*y) return !*x && !*y;
    if (shapes_only) return absl::FailedPreconditionError("tensor equality needs values");
    const lemma::Tensor<T>& tx = TensorOf(**x);
    const lemma::Tensor<T>& ty = TensorOf(**y);
    if (tx.type.dims != ty.type.dims) return false;
    const std::vector<T> lx = ToLogical(tx);
    const std::vector<T> ly = ToLogical(ty);
    for (size_t i = 0; i < lx.size(); ++i) {
      if constexpr (A::kExact) {
        if (lx[i] != ly[i]) return false;
      } else {
        const double p = static_cast<double>(lx[i]), q = static_cast<double>(ly[i]);
        if (std::isnan(p) && std::isnan(q)) continue;
        if (!(std::fabs(p - q) <= tolerance * (1 + std::fabs(q)))) return false;
      }
    }
    return true;
  }

  absl::StatusOr<bool> Bool(const Term& t) {
    const TermNode& n = t.node();
    const std::vector<Term>& c = n.children;
    auto compare = [&](auto op) -> absl::StatusOr<bool> {
      absl::StatusOr<int64_t> a = Int(c[0]);
      if (!a.ok()) return a.status();
      absl::StatusOr<int64_t> b = Int(c[1]);
      if (!b.ok()) return b.status();
      return op(*a, *b);
    };
    switch (n.kind) {
      case TermKind::kTrue:
        return true;
      case TermKind::kFalse:
        return false;
      case TermKind::kTensorEq:
        return Equal(c[0], c[1]);
      case TermKind::kIntEq:
        return compare([](int64_t a, int64_t b) { return a == b; });
      case TermKind::kIntLe:
        return compare([](int64_t a, int64_t b) { return a <= b; });
      case TermKind::kIntLt:
        return compare([](int64_t a, int64_t b) { return a < b; });
      case TermKind::kAnd:
      case TermKind::kOr: {
        const bool stop_at = n.kind == TermKind::kOr;
        for (const Term& x : c) {
          absl::StatusOr<bool> v = Bool(x);
          if (!v.ok() || *v == stop_at) return v;
        }
        return !stop_at;
      }
      case TermKind::kNot: {
        absl::StatusOr<bool> v = Bool(c[0]);
        if (!v.ok()) return v;
        return !*v;
      }
      case TermKind::kImplies: {
        absl::StatusOr<bool> g = Bool(c[0]);
        if (!g.ok() || !*g) return g.ok() ? absl::StatusOr<bool>(true) : g;
        return Bool(c[1]);
      }
      case TermKind::kOk: {
        absl::StatusOr<std::optional<ValueId>> v = Value(c[0]);
        if (!v.ok()) return v.status();
        return v->has_value();
      }
      default:
        return absl::InternalError(StrCat("not a formula: ", t.ToString()));
    }
  }
};

template <typename A>
TermEvaluator<A>::TermEvaluator(const Assignment& assignment, uint64_t seed, double tolerance,
                                bool shapes_only)
    : state_(std::make_unique<State>(assignment, seed, tolerance, shapes_only)) {}

template <typename A>
TermEvaluator<A>::~TermEvaluator() = default;

template <typename A>
absl::StatusOr<bool> TermEvaluator<A>::Eval(const BoolTerm& t) {
  return state_->Bool(t);
}

template <typename A>
absl::StatusOr<int64_t> TermEvaluator<A>::EvalInt(const IntTerm& t) {
  return state_->Int(t);
}

template <typename A>
absl::StatusOr<bool> TermEvaluator<A>::IsOk(const TensorTerm& t) {
  absl::StatusOr<std::optional<ValueId>> v = state_->Value(t);
  if (!v.ok()) return v.status();
  return v->has_value();
}

template class TermEvaluator<F64>;
template class TermEvaluator<ModP>;

}  // namespace lemma::verifier
