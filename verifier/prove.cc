#include "verifier/prove.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "ir/strings.h"
#include "kernels/compare.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "verifier/axioms.h"
#include "verifier/encode.h"
#include "verifier/rule_terms.h"
#include "verifier/smt/smt.h"

namespace lemma::verifier {
namespace {

// Relative tolerance of the float64 comparison: far above rounding on the
// small tensors of a rule, far below the differences of a false one.
constexpr double kTolerance = 1e-7;
// Sizes whose instances hold more elements than this are not random-tested.
constexpr int64_t kMaxElements = int64_t{1} << 20;

std::string BindingsText(const Bindings& b) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : b) parts.push_back(StrCat(name, "=", value));
  return parts.empty() ? std::string("the rule's sizes") : StrJoin(parts, ", ");
}

int64_t Elements(const Graph& g) {
  int64_t n = 0;
  for (const Node& node : g.nodes()) {
    for (const TensorType& t : node.outputs) n += t.num_elements();
  }
  return n;
}

// The variables that size inputs: varying them keeps attributes such as a
// concat axis as they are.
std::set<std::string> DimVariables(const Rule& rule) {
  std::set<std::string> out;
  for (int i = 0; i < rule.source.num_inputs(); ++i) {
    for (const DimExpr& d : rule.source.nodes[static_cast<size_t>(i)].dims) {
      for (const std::string& v : d.vars()) out.insert(v);
    }
  }
  return out;
}

std::vector<Bindings> SizesToTry(const Rule& rule, int extra) {
  std::vector<Bindings> out = {rule.example};
  const std::set<std::string> dims = DimVariables(rule);
  if (dims.empty() || extra <= 0) return out;
  Bindings all = rule.example;
  for (auto& [name, value] : all) {
    if (dims.contains(name)) value += 1;
  }
  out.push_back(all);
  for (const std::string& name : dims) {
    if (static_cast<int>(out.size()) > extra) break;
    Bindings one = rule.example;
    one[name] += 2;
    out.push_back(one);
  }
  return out;
}

// The sides on random inputs of one sign each, input k (by name) shifted
// from [-1, 1) to positive values when bit k of `signs` is set and to
// negative ones otherwise: rules true only for mixed signs (a max over a
// window that always holds a positive value) meet inputs that have none.
std::optional<std::string> CompareSigned(const RuleGraphs& g, uint64_t seed, unsigned signs) {
  NamedTensors<F64> feeds = RandomFeeds<F64>(g.source, seed);
  std::string pattern;
  unsigned bit = 0;
  for (auto& [name, tensor] : feeds) {
    const bool positive = ((signs >> bit++) & 1u) != 0;
    pattern += positive ? '+' : '-';
    for (double& v : tensor.data) v += positive ? 1.0 : -1.0;
  }
  absl::StatusOr<NamedTensors<F64>> a = Evaluate<F64>(g.source, feeds);
  absl::StatusOr<NamedTensors<F64>> b = Evaluate<F64>(g.target, feeds);
  if (!a.ok() || !b.ok()) return std::nullopt;
  for (const auto& [name, ta] : *a) {
    auto it = b->find(name);
    if (it == b->end()) continue;
    const std::vector<double> la = ToLogical(ta), lb = ToLogical(it->second);
    for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
      if (std::fabs(la[i] - lb[i]) > kTolerance * (1 + std::fabs(lb[i]))) {
        return StrCat("output ", name, " element ", i, ": ", la[i], " vs ", lb[i], " (seed ",
                      seed, ", input signs ", pattern, ")");
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view VerdictName(const Verdict& verdict) {
  static constexpr std::string_view kNames[] = {"proved", "refuted", "unknown", "timeout"};
  return kNames[verdict.index()];
}

std::string DescribeVerdict(const Verdict& verdict) {
  if (const auto* p = std::get_if<Proved>(&verdict)) {
    std::string out = StrCat("proved from ", p->axiom_set);
    if (!p->axioms_used.empty()) StrAppend(&out, " using [", StrJoin(p->axioms_used, ", "), "]");
    return out;
  }
  if (const auto* r = std::get_if<Refuted>(&verdict)) return StrCat("refuted: ", r->counterexample);
  if (const auto* u = std::get_if<Unknown>(&verdict)) return StrCat("unknown: ", u->reason);
  return StrCat("timeout after ", std::get<Timeout>(verdict).timeout_ms, " ms");
}

std::optional<std::string> FindCounterexample(const Rule& rule, const VerifyOptions& options,
                                              const Bindings* sizes) {
  const std::vector<Bindings> tries =
      sizes ? std::vector<Bindings>{*sizes} : SizesToTry(rule, options.extra_sizes);
  for (size_t k = 0; k < tries.size(); ++k) {
    const Bindings& b = tries[k];
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64, &b);
    if (!g.ok() || Elements(g->source) + Elements(g->target) > kMaxElements) continue;
    // All draws at the first sizes tried; one at each variation.
    const int draws = k == 0 ? options.draws : 1;
    absl::StatusOr<Comparison> c =
        CompareOnRandomInputs<F64>(g->source, g->target, options.seed, draws, kTolerance);
    if (c.ok() && !c->equal) return StrCat("at ", BindingsText(b), ": ", c->mismatch, " in f64");
    if (k != 0) continue;
    const int num_inputs = static_cast<int>(std::min(g->source.InputNodes().size(), size_t{3}));
    for (unsigned signs = 0; signs < (1u << num_inputs); ++signs) {
      if (std::optional<std::string> m = CompareSigned(*g, options.seed, signs)) {
        return StrCat("at ", BindingsText(b), ": ", *m, " in f64");
      }
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- Prover

namespace {

// What relevance needs of an axiom: the op functions each of its patterns
// needs present, and those its formula brings.
struct AxiomOps {
  const Axiom* axiom;
  std::vector<std::set<std::string>> trigger_ops;
  std::set<std::string> formula_ops;
};

std::set<std::string> OpsOf(const Term& t) {
  std::set<std::string> out;
  for (const TensorTerm& a : CollectApplications(t)) out.insert(OpFunctionName(a.node()));
  return out;
}

const std::vector<AxiomOps>& AllAxiomOps() {
  static const std::vector<AxiomOps>* all = [] {
    auto* out = new std::vector<AxiomOps>();
    for (const Axiom& a : Axioms()) {
      AxiomOps e{&a, {}, OpsOf(a.formula)};
      for (const std::vector<Term>& pattern : TriggersOf(a)) {
        std::set<std::string> ops;
        for (const Term& t : pattern) ops.merge(OpsOf(t));
        e.trigger_ops.push_back(std::move(ops));
      }
      out->push_back(std::move(e));
    }
    return out;
  }();
  return *all;
}

// The axioms that can fire on terms of `ops`, and on the terms they bring,
// to a fixpoint. The others can never be instantiated, so leaving them out
// changes nothing but speed.
std::vector<const Axiom*> RelevantAxioms(std::set<std::string> ops) {
  const std::vector<AxiomOps>& all = AllAxiomOps();
  std::vector<bool> in(all.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < all.size(); ++i) {
      if (in[i]) continue;
      for (const std::set<std::string>& need : all[i].trigger_ops) {
        if (std::includes(ops.begin(), ops.end(), need.begin(), need.end())) {
          in[i] = changed = true;
          ops.insert(all[i].formula_ops.begin(), all[i].formula_ops.end());
          break;
        }
      }
    }
  }
  std::vector<const Axiom*> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (in[i]) out.push_back(all[i].axiom);
  }
  return out;
}

}  // namespace

// Each proof runs in a fresh Z3 context holding only the axioms relevant to
// the rule: Z3's search depends on the history of its context, so this keeps
// a rule's verdict (and its unsat core) independent of the rules verified
// before it and of the thread it runs on.
struct Prover::Impl {
  explicit Impl(VerifyOptions o) : options(o) {}

  Verdict Prove(const Rule& rule, bool with_claim = true) {
    absl::StatusOr<RuleTerms> terms = RuleToTerms(rule);
    if (!terms.ok()) return Unknown{std::string(ToStd(terms.status().message()))};
    FreeVars vars;
    std::set<std::string> ops;
    std::vector<Term> all(terms->hypotheses.begin(), terms->hypotheses.end());
    for (const auto& [s, t] : terms->outputs) {
      all.push_back(s);
      all.push_back(t);
    }
    for (const Term& t : all) {
      const FreeVars v = CollectFreeVars(t);
      vars.tensors.insert(vars.tensors.end(), v.tensors.begin(), v.tensors.end());
      vars.ints.insert(vars.ints.end(), v.ints.begin(), v.ints.end());
      ops.merge(OpsOf(t));
    }
    smt::Context ctx;
    Encoder encoder(ctx);
    const SmtEnv env = encoder.Constants(vars, "rule.");
    smt::Solver solver(ctx);
    solver.SetTimeoutMs(static_cast<unsigned>(options.timeout_ms));
    for (const Axiom* a : RelevantAxioms(ops)) {
      const smt::Expr formula = encoder.Close(a->formula, TriggersOf(*a), a->name);
      if (options.unsat_cores) {
        solver.AddTracked(formula, a->name);
      } else {
        solver.Add(formula);
      }
    }
    for (const BoolTerm& h : terms->hypotheses) solver.Add(encoder.Encode(h, env));
    std::vector<smt::Expr> differ;
    for (const auto& [s, t] : terms->outputs) {
      differ.push_back(encoder.Encode(s, env) != encoder.Encode(t, env));
    }
    // Without the claim, the hypotheses (ok of every node) still give
    // E-matching the rule's terms to work on.
    if (with_claim) solver.Add(smt::Or(ctx, differ));
    const smt::CheckResult result = solver.Check();
    if (result == smt::CheckResult::kUnsat) {
      return Proved{AxiomSetId(), options.unsat_cores ? solver.UnsatCore()
                                                      : std::vector<std::string>{}};
    }
    // A model (Z3 says sat only when no axiom can fire) may hold sizes at
    // which the rule is false: test them.
    if (result == smt::CheckResult::kSat && with_claim) {
      Bindings sizes;
      for (const IntTerm& v : terms->variables) {
        const std::optional<int64_t> value = solver.ModelInt(env.ints.at(v.node().name));
        if (value) sizes[v.node().name] = *value;
      }
      if (sizes.size() == rule.example.size() && sizes != rule.example) {
        if (std::optional<std::string> c = FindCounterexample(rule, options, &sizes)) {
          return Refuted{*c};
        }
      }
      return Unknown{"Z3 found a model of the axioms where the sides differ"};
    }
    const std::string reason = solver.ReasonUnknown();
    if (reason == "timeout" || reason == "canceled") return Timeout{options.timeout_ms};
    return Unknown{StrCat("no proof from the axioms (Z3: ",
                          reason.empty() ? std::string("unknown") : reason, ")")};
  }

  VerifyOptions options;
};

Prover::Prover(VerifyOptions options) : impl_(std::make_unique<Impl>(options)) {}
Prover::~Prover() = default;

Verdict Prover::Verify(const Rule& rule) {
  if (std::optional<std::string> c = FindCounterexample(rule, impl_->options)) return Refuted{*c};
  return impl_->Prove(rule);
}

Verdict Prover::Prove(const Rule& rule) { return impl_->Prove(rule); }

Verdict Prover::ProveContradiction(const Rule& rule) { return impl_->Prove(rule, false); }

// ---------------------------------------------------------------- many rules

std::vector<Verdict> VerifyRules(std::span<const Rule> rules, const VerifyOptions& options,
                                 const ProgressCallback& progress) {
  std::vector<Verdict> verdicts(rules.size(), Verdict{Unknown{"not verified"}});
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(1, std::min(threads, static_cast<int>(rules.size())));
  std::atomic<size_t> next{0};
  std::mutex mu;
  VerifyProgress state;
  state.total = static_cast<int>(rules.size());
  const auto start = std::chrono::steady_clock::now();
  auto work = [&] {
    Prover prover(options);
    for (size_t i; (i = next.fetch_add(1)) < rules.size();) {
      Verdict v = prover.Verify(rules[i]);
      std::lock_guard<std::mutex> lock(mu);
      verdicts[i] = std::move(v);
      ++state.done;
      ++state.counts[verdicts[i].index()];
      state.elapsed_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      state.rule_id = rules[i].id;
      state.verdict = &verdicts[i];
      if (progress) progress(state);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return verdicts;
}

void RecordVerdict(const Verdict& verdict, Rule& rule) {
  rule.axiom_set.clear();
  rule.axioms_used.clear();
  rule.note.clear();
  if (const auto* p = std::get_if<Proved>(&verdict)) {
    rule.status = RuleStatus::kProved;
    rule.axiom_set = p->axiom_set;
    rule.axioms_used = p->axioms_used;
  } else if (const auto* r = std::get_if<Refuted>(&verdict)) {
    rule.status = RuleStatus::kRefuted;
    rule.note = r->counterexample;
  } else if (const auto* u = std::get_if<Unknown>(&verdict)) {
    rule.status = RuleStatus::kUnknown;
    rule.note = u->reason;
  } else {
    rule.status = RuleStatus::kUnknown;
    rule.note = StrCat("timeout after ", std::get<Timeout>(verdict).timeout_ms, " ms");
  }
}

}  // namespace lemma::verifier
