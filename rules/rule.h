#ifndef LEMMA_RULES_RULE_H_
#define LEMMA_RULES_RULE_H_

// A substitution as data: a source pattern, a target pattern over the same
// inputs, outputs mapped by name, and how far lemma trusts it. A rule is
// checked when it is built (CheckRule): a rule set never holds a rule whose
// target uses a tensor or variable its source does not bind, or whose two
// sides disagree on output types at the rule's example sizes.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rules/pattern.h"

namespace lemma {

/// How far a rule is trusted.
enum class RuleStatus : uint8_t {
  kTested,   // passed random tests only
  kProved,   // proved by the verifier from an axiom set (Rule::axiom_set)
  kUnknown,  // the verifier could not decide (Rule::note says why)
  kRefuted,  // false (Rule::note holds the counterexample)
};
std::string_view RuleStatusName(RuleStatus status);
std::optional<RuleStatus> ParseRuleStatus(std::string_view name);

/// One substitution. `source` and `target` begin with the same input nodes
/// (the target may leave some unused); their outputs have the same names in
/// the same order.
struct Rule {
  std::string id;
  Pattern source;
  Pattern target;
  RuleStatus status = RuleStatus::kTested;
  /// kProved: the id of the axiom set it was proved from.
  std::string axiom_set;
  /// kProved, when known: the names of the axioms the proof used.
  std::vector<std::string> axioms_used;
  /// kUnknown / kRefuted: the reason or counterexample, one line.
  std::string note;
  /// The generator's fingerprint of both sides, when it found the rule.
  std::optional<uint64_t> fingerprint;
  /// Where the rule came from ("generate max_ops=3 seed=1", "hand-written").
  std::string origin;
  /// Sizes at which the rule is known to type-check (every bound variable).
  Bindings example;
};

/// Checks a rule's structure: a valid id; inputs named uniquely and used by
/// the source; every target reference and variable bound by the source;
/// matching output names; op arity; and, at the example sizes, that both
/// sides instantiate and agree on output types. Errors read "rule ID: reason".
absl::Status CheckRule(const Rule& rule);

/// Both sides of `rule` as graphs at its example sizes, for testing and
/// pictures.
struct RuleGraphs {
  Graph source;
  Graph target;
};
absl::StatusOr<RuleGraphs> InstantiateRule(const Rule& rule, DType dtype = DType::kF64,
                                           const Bindings* sizes = nullptr);

/// A set of checked rules with unique ids, indexed by the op of the node that
/// produces each source output (the roots a matcher starts from).
class RuleSet {
 public:
  /// Adds `rule` after CheckRule; fails on a duplicate id.
  absl::Status Add(Rule rule);

  std::span<const Rule> rules() const { return rules_; }
  int size() const { return static_cast<int>(rules_.size()); }
  const Rule* Find(std::string_view id) const;
  /// Indices of the rules whose first source output is produced by `op`.
  std::span<const int> RootedAt(OpKind op) const;

  /// The rules with `status`, in order.
  RuleSet WithStatus(RuleStatus status) const;
  /// Counts per status, indexed by RuleStatus.
  std::vector<int> CountByStatus() const;

 private:
  std::vector<Rule> rules_;
  absl::flat_hash_map<std::string, int> by_id_;
  std::vector<std::vector<int>> by_root_;
};

}  // namespace lemma

#endif  // LEMMA_RULES_RULE_H_
