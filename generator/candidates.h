#ifndef LEMMA_GENERATOR_CANDIDATES_H_
#define LEMMA_GENERATOR_CANDIDATES_H_

// From fingerprinted graphs to rules. Graphs with equal fingerprints form a
// group; each other graph of a group pairs with the group's representative
// (its smallest graph) as a candidate. Candidates are processed smallest
// first, and one is emitted only when no rule kept so far implies it and it
// passes further random tests:
//
//  * renaming: it is a kept candidate with its input tensors renamed
//    (tensors of the same symbolic shape swapped);
//  * common subgraph: both sides share computations; with the shared outputs
//    dropped and each other shared value made a fresh input, the two sides
//    are equal by the rules kept so far;
//  * common supergraph: both sides apply the same op to arguments that are
//    equal by the rules kept so far;
//  * transitivity: the two sides are equal by a chain of kept rules.
//
// "Equal by the rules kept so far" is a union-find over graphs (by the exact
// text of their outputs): every kept rule joins its two sides under every
// renaming of its inputs, and every implied candidate its two sides.
//
// The tests: more draws modulo p and in float64 at the enumeration's sizes,
// float64 draws with inputs of each sign (a max over a wide window of mixed
// signs almost surely sees a positive value), and modulo p and float64 again
// at sizes where every size variable changed, so that the rule holds for its
// variables and not only for one set of numbers.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/enumerate.h"
#include "rules/rule.h"

namespace lemma {

/// Two graphs with equal fingerprints; `a` is the representative of the
/// group (its graph with fewest ops, then smallest code).
struct CandidatePair {
  uint64_t fingerprint = 0;
  GraphCode a = 0;
  GraphCode b = 0;
  friend bool operator==(const CandidatePair&, const CandidatePair&) = default;
};

/// Reads records in (fingerprint, code) order and forms the candidate pairs.
class CandidateCollector {
 public:
  /// Adds the next record. Records must come sorted; equal records (one
  /// graph twice) count once.
  void Add(const GraphRecord& record);
  /// Closes the last group.
  void Finish();
  /// Records read, distinct fingerprints among them, and the pairs formed.
  int64_t records() const { return records_; }
  int64_t distinct_fingerprints() const { return distinct_; }
  std::vector<CandidatePair>& pairs() { return pairs_; }

 private:
  void Close();
  std::vector<GraphCode> group_;
  uint64_t fingerprint_ = 0;
  int64_t records_ = 0;
  int64_t distinct_ = 0;
  std::vector<CandidatePair> pairs_;
};

/// Why a candidate was not emitted although it holds.
enum class PruneReason : uint8_t { kRenaming, kCommonSubgraph, kCommonSupergraph, kTransitive };
std::string_view PruneReasonName(PruneReason reason);

/// A pruned candidate and the kept rules that imply it (explain mode).
struct PrunedCandidate {
  CandidatePair pair;
  PruneReason reason;
  /// Ids of the kept rules the implication uses.
  std::vector<std::string> implied_by;
};

/// How candidates are processed.
struct CandidateOptions {
  /// Seed of the extra random tests (different draws from the fingerprints').
  uint64_t seed = 1;
  int threads = 1;
  /// The `origin` of every emitted rule.
  std::string origin;
  /// Draws of the confirmation tests at each of the two size assignments.
  int modp_draws = 3;
  int f64_draws = 2;
  /// Keep the list of pruned candidates with what implies them.
  bool explain = false;
  /// Called as candidates are processed: (stage, done, total), the stage
  /// "candidates" (replaying and pruning) or "tests" (confirming).
  std::function<void(std::string_view, int64_t, int64_t)> progress;
};

/// Counts of each stage. Every candidate has one fate: unmatched, pruned
/// (four reasons), unexpressible, refuted, or emitted as a rule; a renaming
/// of a refuted or unexpressible candidate shares its fate.
struct CandidateStats {
  int64_t candidates = 0;      // pairs of graphs with equal fingerprints
  int64_t unmatched = 0;       // whose outputs did not pair up (hash collisions)
  int64_t pruned_renaming = 0;
  int64_t pruned_common_subgraph = 0;
  int64_t pruned_common_supergraph = 0;
  int64_t pruned_transitive = 0;
  int64_t unexpressible = 0;   // that no rule can state (a side reads what the other lacks)
  int64_t refuted = 0;         // that failed the confirmation tests
  int64_t rules = 0;           // emitted
  int64_t tested = 0;          // candidates that ran the confirmation tests
};

/// The rules and counts of the candidate stage.
struct CandidateResult {
  RuleSet rules;
  CandidateStats stats;
  std::vector<PrunedCandidate> pruned;  // explain mode only
};

/// Processes `pairs` (any order; the result does not depend on it, nor on
/// the number of threads) into tested rules with deterministic ids
/// ("g0001"...) and order (fewest ops first).
absl::StatusOr<CandidateResult> ProcessCandidates(const Enumerator& e,
                                                  std::vector<CandidatePair> pairs,
                                                  const CandidateOptions& options);

/// The rule with `source` and `target` as its two sides, inputs named as in
/// the universe, outputs y (or y0, y1, ...) in the order of the source's
/// sinks. Fails when the sides' outputs do not pair up by value or when the
/// rule does not pass CheckRule.
absl::StatusOr<Rule> RuleFromGraphs(const Enumerator& e, const DecodedGraph& source,
                                    const DecodedGraph& target, std::string id);

}  // namespace lemma

#endif  // LEMMA_GENERATOR_CANDIDATES_H_
