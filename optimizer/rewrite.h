#ifndef LEMMA_OPTIMIZER_REWRITE_H_
#define LEMMA_OPTIMIZER_REWRITE_H_

// Applying a match: the rule's target is instantiated on the values bound to
// the pattern inputs, every use of a matched source output is redirected to
// the corresponding target output, and the nodes nothing needs any more are
// removed.

#include <span>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "optimizer/match.h"
#include "rules/rule.h"

namespace lemma {

/// The dtype a match computes in: that of its first source output.
DType MatchDType(const Graph& graph, const Rule& rule, const Match& match);

/// `graph` with `match` of `rule` applied. The target's new values get
/// `layouts` (one per output of each new node, in the order the target
/// creates them) or, when `layouts` is empty, the layout of the source output
/// they replace, or the default. A new value replacing a named one takes its
/// name. Fails, naming the rule, when the target does not instantiate at the
/// match's sizes, or when a target output's dtype or dims differ from the
/// source output it replaces. The result is renumbered in topological order
/// (Graph::RemoveDeadCode).
absl::StatusOr<Graph> ApplyMatch(const Graph& graph, const Rule& rule, const Match& match,
                                 std::span<const Layout> layouts = {});

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_REWRITE_H_
