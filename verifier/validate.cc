#include "verifier/validate.h"

#include <optional>

#include "ir/strings.h"
#include "kernels/random.h"
#include "verifier/evaluate.h"

namespace lemma::verifier {
namespace {

constexpr int kMaxDraws = 4000;

class Sampler {
 public:
  Sampler(const Axiom& axiom, uint64_t seed) : axiom_(axiom), rng_(seed) {
    const FreeVars vars = CollectFreeVars(axiom.formula);
    tensors_ = vars.tensors;
    formula_ints_ = vars.ints;
  }

  // One assignment, or an error when no case can be satisfied.
  absl::StatusOr<Assignment> Draw(double perturb) {
    // The case is picked first, so that a case that is harder to satisfy is
    // drawn as often as the others.
    const ShapeCase& c = axiom_.cases[Below(axiom_.cases.size())];
    for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
      std::optional<Assignment> a = TryCase(c);
      if (!a) continue;
      if (Uniform() < perturb) Perturb(*a);
      return *a;
    }
    return absl::FailedPreconditionError(
        StrCat("axiom ", axiom_.name, ": no sampling case can be satisfied"));
  }

 private:
  size_t Below(size_t n) { return static_cast<size_t>(rng_.Next() % n); }
  double Uniform() { return static_cast<double>(rng_.Next() >> 11) * 0x1p-53; }
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(rng_.Next() % static_cast<uint64_t>(hi - lo + 1));
  }

  void DrawInts(const Term& t, Assignment& a) {
    const FreeVars vars = CollectFreeVars(t);
    for (const IntTerm& v : vars.ints) {
      if (!a.ints.contains(v.node().name)) {
        a.ints[v.node().name] = Between(v.node().value, v.node().high);
      }
    }
  }

  std::optional<Assignment> TryCase(const ShapeCase& c) {
    Assignment a;
    for (const std::vector<IntTerm>& group : c.permutations) {
      std::vector<int64_t> perm;
      for (size_t i = 0; i < group.size(); ++i) perm.push_back(static_cast<int64_t>(i));
      for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[Below(i)]);
      for (size_t i = 0; i < group.size(); ++i) a.ints[group[i].node().name] = perm[i];
    }
    for (const auto& [var, value] : c.fixed) a.ints[var.node().name] = value;
    DrawInts(axiom_.formula, a);
    DrawInts(c.where, a);
    for (const auto& [tensor, dims] : c.shapes) {
      for (const IntTerm& d : dims) DrawInts(d, a);
    }
    TermEvaluator<F64> ints(a, 0);
    absl::StatusOr<bool> where = ints.Eval(c.where);
    if (!where.ok() || !*where) return std::nullopt;
    for (const TensorTerm& t : tensors_) a.tensors[t.node().name] = std::nullopt;
    for (const auto& [tensor, dims] : c.shapes) {
      Dims concrete;
      for (const IntTerm& d : dims) {
        absl::StatusOr<int64_t> value = ints.EvalInt(d);
        if (!value.ok() || *value < 1 || *value > 64) return std::nullopt;
        concrete.push_back(*value);
      }
      a.tensors[tensor.node().name] = std::move(concrete);
    }
    return a;
  }

 public:
  // Dims and formula integers replaced, each with probability 1/3, by a value
  // in use elsewhere (or 1..3): sizes that line up in unintended ways.
  Assignment Shuffle(const Assignment& base) {
    std::vector<int64_t> pool = {1, 2, 3};
    for (const auto& [name, dims] : base.tensors) {
      if (dims) pool.insert(pool.end(), dims->begin(), dims->end());
    }
    Assignment a = base;
    for (auto& [name, dims] : a.tensors) {
      if (!dims) continue;
      for (int64_t& d : *dims) {
        if (Below(3) == 0) d = pool[Below(pool.size())];
      }
    }
    for (const IntTerm& v : formula_ints_) {
      if (Below(3) == 0) a.ints[v.node().name] = Between(v.node().value, v.node().high);
    }
    return a;
  }

 private:
  // A bottom variable, a dim off by one, or an attribute off by one.
  void Perturb(Assignment& a) {
    const int kind = static_cast<int>(Below(3));
    if (kind == 0 && !a.tensors.empty()) {
      auto it = a.tensors.begin();
      std::advance(it, static_cast<int64_t>(Below(a.tensors.size())));
      it->second = std::nullopt;
    } else if (kind == 1 && !a.tensors.empty()) {
      auto it = a.tensors.begin();
      std::advance(it, static_cast<int64_t>(Below(a.tensors.size())));
      if (it->second && !it->second->empty()) {
        int64_t& d = (*it->second)[Below(it->second->size())];
        d = d == 1 || Below(2) == 0 ? d + 1 : d - 1;
      }
    } else if (!formula_ints_.empty()) {
      int64_t& value = a.ints[formula_ints_[Below(formula_ints_.size())].node().name];
      value += Below(2) == 0 ? 1 : -1;
    }
  }

  const Axiom& axiom_;
  SplitMix64 rng_;
  std::vector<TensorTerm> tensors_;
  std::vector<IntTerm> formula_ints_;
};

// Whether the sample tests the axiom's content: its guard holds and the
// sides of its equation are tensors.
template <typename A>
absl::StatusOr<bool> Exercised(const BoolTerm& formula, TermEvaluator<A>& eval) {
  Term conclusion = formula;
  if (formula.kind() == TermKind::kImplies) {
    absl::StatusOr<bool> guard = eval.Eval(BoolTerm(formula.children()[0]));
    if (!guard.ok() || !*guard) return guard;
    conclusion = formula.children()[1];
  }
  if (conclusion.kind() == TermKind::kTensorEq) {
    return eval.IsOk(TensorTerm(conclusion.children()[0]));
  }
  return true;
}

template <typename A>
absl::Status Check(const Axiom& axiom, const Assignment& a, uint64_t seed, bool* exercised) {
  TermEvaluator<A> eval(a, seed);
  absl::StatusOr<bool> holds = eval.Eval(axiom.formula);
  if (!holds.ok()) {
    return absl::FailedPreconditionError(StrCat("axiom ", axiom.name, " cannot be evaluated at ",
                                                a.ToString(), " (", A::kName,
                                                "): ", holds.status().message()));
  }
  if (!*holds) {
    return absl::FailedPreconditionError(
        StrCat("axiom ", axiom.name, " is false at ", a.ToString(), " (", A::kName, ")"));
  }
  if (exercised != nullptr) {
    absl::StatusOr<bool> e = Exercised(axiom.formula, eval);
    *exercised = e.ok() && *e;
  }
  return absl::OkStatus();
}

// Where the guard of `axiom` holds at `a`, both sides of its equation are
// bottom or both are tensors.
absl::Status CheckAgreement(const Axiom& axiom, const Assignment& a) {
  Term guard = BoolTerm::Constant(true);
  Term eq = axiom.formula;
  if (eq.kind() == TermKind::kImplies) {
    guard = eq.children()[0];
    eq = eq.children()[1];
  }
  if (eq.kind() != TermKind::kTensorEq) return absl::OkStatus();
  TermEvaluator<F64> eval(a, 0, 0, /*shapes_only=*/true);
  absl::StatusOr<bool> g = eval.Eval(BoolTerm(guard));
  if (!g.ok() || !*g) return absl::OkStatus();  // errors here are the value phase's business
  absl::StatusOr<bool> l = eval.IsOk(TensorTerm(eq.children()[0]));
  absl::StatusOr<bool> r = eval.IsOk(TensorTerm(eq.children()[1]));
  if (!l.ok() || !r.ok() || *l == *r) return absl::OkStatus();
  return absl::FailedPreconditionError(
      StrCat("axiom ", axiom.name, " is false at ", a.ToString(), ": its ",
             *l ? "left" : "right", " side is well-typed and its ", *l ? "right" : "left",
             " side is not"));
}

}  // namespace

ValidationReport ValidateAxiom(const Axiom& axiom, const ValidationOptions& options) {
  ValidationReport report;
  if (axiom.cases.empty()) {
    report.status = absl::FailedPreconditionError(StrCat("axiom ", axiom.name, " has no cases"));
    return report;
  }
  Sampler sampler(axiom, options.seed);
  for (int i = 0; i < options.samples; ++i) {
    absl::StatusOr<Assignment> a = sampler.Draw(options.perturb);
    if (!a.ok()) {
      report.status = a.status();
      return report;
    }
    const uint64_t seed = options.seed * 1000003 + static_cast<uint64_t>(i);
    bool exercised = false;
    if (absl::Status s = Check<F64>(axiom, *a, seed, &exercised); !s.ok()) {
      report.status = s;
      return report;
    }
    if (absl::Status s = Check<ModP>(axiom, *a, seed, nullptr); !s.ok()) {
      report.status = s;
      return report;
    }
    ++report.samples;
    if (exercised) ++report.exercised;
  }
  Sampler shuffler(axiom, options.seed + 1);
  for (int i = 0; i < options.agreement_samples; ++i) {
    absl::StatusOr<Assignment> base = shuffler.Draw(0);
    if (!base.ok()) break;
    for (int k = 0; k < options.agreement_variants; ++k) {
      if (absl::Status s = CheckAgreement(axiom, shuffler.Shuffle(*base)); !s.ok()) {
        report.status = s;
        return report;
      }
    }
  }
  return report;
}

}  // namespace lemma::verifier
