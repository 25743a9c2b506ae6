#ifndef LEMMA_VERIFIER_RULE_TERMS_H_
#define LEMMA_VERIFIER_RULE_TERMS_H_

// A rule (rules/rule.h) in the verifier's term language: each pattern input
// is a tensor variable, each pattern variable an integer variable, each op
// node an application. What a proof shows is
//
//   hypotheses  =>  source output k == target output k, for every k
//
// where the hypotheses say that every input has its declared rank and dims,
// that sizes are positive, and that every node of both sides is well-typed
// (a rule is applied only where both sides type-check). Concat and split
// axes are normalized (a negative axis counts from the end), which the op
// registry defines to mean the same.

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "rules/rule.h"
#include "verifier/term.h"

namespace lemma::verifier {

struct RuleTerms {
  std::vector<BoolTerm> hypotheses;
  /// One pair per output: the source's value and the target's.
  std::vector<std::pair<TensorTerm, TensorTerm>> outputs;
  /// The pattern variables, as integer variables.
  std::vector<IntTerm> variables;
};

/// The terms of `rule`. Fails, with the reason, when the rule uses an op
/// outside the generator's set (the verifier has no axioms for it) or has
/// variables but no example sizes (ranks are read at the example).
absl::StatusOr<RuleTerms> RuleToTerms(const Rule& rule);

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_RULE_TERMS_H_
