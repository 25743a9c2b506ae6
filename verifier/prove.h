#ifndef LEMMA_VERIFIER_PROVE_H_
#define LEMMA_VERIFIER_PROVE_H_

// Verifying rules: each rule is first random-tested on the reference
// evaluator (cheap, and a failure is a concrete counterexample), then proved
// with Z3 from the axioms (verifier/axioms.h): the rule's hypotheses and the
// negation of its claim (verifier/rule_terms.h) are unsatisfiable together
// with the axioms. A rule is Proved only when Z3 says unsat.
//
//   VerifyOptions options{.timeout_ms = 2000, .threads = 2};
//   std::vector<Verdict> verdicts = VerifyRules(rules.rules(), options);

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/rule.h"

namespace lemma::verifier {

/// Z3 proved the rule from the axiom set `axiom_set`; `axioms_used` are the
/// axioms in Z3's unsat core (sorted; empty when cores are off).
struct Proved {
  std::string axiom_set;
  std::vector<std::string> axioms_used;
};
/// The reference evaluator found sizes and inputs where the sides differ.
struct Refuted {
  std::string counterexample;
};
/// Neither: Z3 gave up ("incomplete quantifiers"), or the rule is outside
/// what the verifier covers.
struct Unknown {
  std::string reason;
};
/// Z3 ran out of time.
struct Timeout {
  int timeout_ms = 0;
};
using Verdict = std::variant<Proved, Refuted, Unknown, Timeout>;

/// "proved", "refuted", "unknown", "timeout".
std::string_view VerdictName(const Verdict& verdict);
/// The verdict in one line: "proved from lemma-axioms-1-... using [a, b]".
std::string DescribeVerdict(const Verdict& verdict);

struct VerifyOptions {
  /// Z3's time limit per rule.
  int timeout_ms = 10000;
  /// Worker threads (each with its own Z3 context); 0: one per core.
  int threads = 0;
  /// Random testing: the seed; random inputs at the example sizes (and one
  /// draw for each sign pattern of the first three inputs); how many
  /// variations of the sizes to try besides (every size one larger, then each
  /// size variable two larger on its own), one draw each.
  uint64_t seed = 1;
  int draws = 2;
  int extra_sizes = 8;
  /// Ask Z3 which axioms a proof used (unsat cores).
  bool unsat_cores = true;
};

/// Random testing alone: a one-line counterexample when the sides differ in
/// float64 at the example sizes or a variation, else nullopt. With `sizes`,
/// only those sizes are tried.
std::optional<std::string> FindCounterexample(const Rule& rule, const VerifyOptions& options,
                                              const Bindings* sizes = nullptr);

/// One Z3 context with the axioms encoded, verifying one rule at a time. Not
/// thread-safe: one Prover per thread.
class Prover {
 public:
  explicit Prover(VerifyOptions options = {});
  ~Prover();
  Prover(const Prover&) = delete;
  Prover& operator=(const Prover&) = delete;

  /// Random testing, then a proof.
  Verdict Verify(const Rule& rule);
  /// The proof alone (no random testing first). A Z3 model's sizes are still
  /// random-tested, so a false rule may come back Refuted.
  Verdict Prove(const Rule& rule);
  /// Tries to prove `false` from the axioms and the rule's hypotheses alone,
  /// the rule's terms seeding the instantiation: Proved would mean that the
  /// axioms contradict each other (or the rule cannot apply anywhere). A
  /// consistency check for tests.
  Verdict ProveContradiction(const Rule& rule);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// How far VerifyRules has come, after each rule.
struct VerifyProgress {
  int done = 0;
  int total = 0;
  /// Verdicts so far, indexed like Verdict's alternatives.
  std::array<int, 4> counts = {};
  double elapsed_s = 0;
  /// The rule just finished and its verdict.
  std::string_view rule_id;
  const Verdict* verdict = nullptr;
};
/// Called once per rule, from one thread at a time.
using ProgressCallback = std::function<void(const VerifyProgress&)>;

/// Verifies every rule, in parallel; verdicts in the rules' order.
std::vector<Verdict> VerifyRules(std::span<const Rule> rules, const VerifyOptions& options,
                                 const ProgressCallback& progress = nullptr);

/// `rule` with its status, axiom set, axioms used and note set from `verdict`
/// (a timeout is status unknown, noted as such).
void RecordVerdict(const Verdict& verdict, Rule& rule);

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_PROVE_H_
