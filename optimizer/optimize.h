#ifndef LEMMA_OPTIMIZER_OPTIMIZE_H_
#define LEMMA_OPTIMIZER_OPTIMIZE_H_

// lemma::Optimize: TASO's cost-based backtracking search over rule rewrites,
// with layouts.
//
//   absl::StatusOr<RuleSet> rules = ReadRuleFile("rules/default.rules");
//   absl::StatusOr<OptimizeResult> r = Optimize(graph, *rules, {.budget = 300});
//   // r->graph, r->cost_before, r->cost_after, r->steps, r->stats
//
// The search keeps a priority queue of graphs ordered by cost. It pops the
// cheapest, applies every match of every usable rule to it, and queues each
// new graph whose cost is below alpha times the best cost seen (alpha > 1
// keeps slightly worse graphs, from which better ones may be reachable). A
// graph seen before (by CanonicalHash, which ignores node numbering, value
// names and layouts) is skipped. It stops when the queue is empty
// (kExhausted), after `budget` expansions (kBudget) or at the time limit
// (kTimeLimit).
//
// Layouts: the input graph's values first get the layouts that make it
// cheapest (OptimizeLayouts); each rewrite then lays out the values it
// creates (the weights and activations of a conv or matmul it makes, and
// the layout conversions they need, are costed) and the best graph's layouts
// are settled by a last pass. Graph inputs and outputs keep their layouts.
//
// Memory: the queue holds rewrites, not graphs (parent, rule, matched nodes,
// layouts: tens of bytes); a graph is built when it is expanded, from its
// parent, and a bounded cache keeps the graphs built recently. Seen graphs
// are remembered by their 64-bit hash only.
//
// Costs come from options.cost_model (the analytical model by default):
// nodes computed from weights and constants alone are precomputed, hence
// free (graph_cost.h). The search is deterministic: the same graph, rules and
// options give the same result, except that the time limit may stop it at a
// different point. The core never prints; options.progress is told how the
// search goes.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/stop_reason.h"
#include "ir/graph.h"
#include "optimizer/cost_model.h"
#include "optimizer/region.h"
#include "rules/rule.h"

namespace lemma {

/// Why the search stopped.

/// How the search is going, reported after each expansion.
struct SearchProgress {
  int64_t explored = 0;
  int64_t generated = 0;
  int64_t frontier = 0;
  double best_cost = 0;
  double elapsed_seconds = 0;
};

struct OptimizeOptions {
  /// Graphs costing less than alpha x the best cost are kept. At least 1.
  double alpha = 1.05;
  /// The most graphs expanded (each: every match of every rule tried).
  int64_t budget = 1000;
  /// Wall-clock limit of the search.
  std::chrono::duration<double> time_limit = std::chrono::seconds(60);
  /// The least trusted rules applied: kProved (the default) applies proved
  /// rules only, kTested also those that passed random tests. Rules that are
  /// unknown or refuted are never applied; asking for them is an error.
  RuleStatus min_status = RuleStatus::kProved;
  /// Choose layouts (NCHW/NHWC, row/column-major); false keeps every value's
  /// layout, new values taking the default or the layout of what they replace.
  bool optimize_layouts = true;
  /// Graphs with more than this many times the input's nodes are not kept
  /// (TASO's bound on growth).
  double max_node_ratio = 2.0;
  /// Prices ops; null: an AnalyticalCostModel with the default MachineSpec.
  /// Not owned. Wrapped in a cache for the duration of the call.
  CostModel* cost_model = nullptr;
  /// Threads that match rules and evaluate candidates; 0: one per core. The
  /// result is the same for any number.
  int threads = 0;
  /// Called after each expansion; may be empty.
  std::function<void(const SearchProgress&)> progress = {};
};

/// One step from the input graph to the result.
struct AppliedStep {
  enum class Kind : uint8_t {
    kRule,     // a rule rewrite
    kLayouts,  // values given new layouts (at the start or the end)
    kMerged,   // repeated computations merged (Graph::MergeDuplicates), at the start
  };
  Kind kind = Kind::kRule;
  /// "rule", "layouts" or "merged".
  static std::string_view KindName(Kind kind);
  /// kRule: the rule's id.
  std::string rule_id;
  /// kRule: where it applied, in the graph before the step ("conv2d(x, w1) +
  /// conv2d(x, w2)"); kLayouts: how many values changed layout; kMerged: how
  /// many ops were merged.
  std::string where;
  /// The graph's cost after this step, in seconds.
  double cost_after = 0;
  /// kRule: the matched ops, by the labels users see (NodeLabels of the
  /// graph before the step), in pattern order.
  std::vector<std::string> nodes = {};
  /// kRule: the matched region before and after the step (for pictures).
  std::optional<RewriteRegion> region = {};
};

/// What the search did.
struct SearchStats {
  /// Graphs expanded (popped from the queue and matched against).
  int64_t explored = 0;
  /// Candidate graphs evaluated: one per match found.
  int64_t generated = 0;
  /// Candidates skipped because an equal graph was seen before.
  int64_t duplicates_skipped = 0;
  /// Candidates not kept: cost not below alpha x best, or too many nodes.
  int64_t pruned = 0;
  /// Matches whose rewrite did not apply (target types differ from the source's).
  int64_t rejected = 0;
  /// The largest size the queue reached.
  int64_t max_frontier = 0;
  /// Graphs built (expanded graphs and their ancestors rebuilt after eviction).
  int64_t graphs_built = 0;
  double seconds = 0;
  StopReason stop = StopReason::kExhausted;
};

struct OptimizeResult {
  /// The best graph found (the input, unchanged, when nothing helped).
  Graph graph;
  /// Costs in seconds under the cost model.
  double cost_before = 0;
  double cost_after = 0;
  /// The path from the input to `graph`.
  std::vector<AppliedStep> steps;
  SearchStats stats;
  /// Rules usable under min_status, of all given.
  int rules_used = 0;
  /// Usable rules left out because they repeat an earlier usable rule up to
  /// renaming (optimizer/redundant_rules.h): they would make the same graphs.
  int rules_redundant = 0;
  /// Ops of `graph` that are precomputed (free) and ops charged.
  int precomputed_ops = 0;
  int charged_ops = 0;
  /// The cost model's name.
  std::string cost_model;
};

/// Optimizes `graph` with `rules` (see the top of this file). Fails on an
/// invalid graph or invalid options (alpha below 1, negative budget,
/// min_status of unknown or refuted).
absl::StatusOr<OptimizeResult> Optimize(const Graph& graph, const RuleSet& rules,
                                        const OptimizeOptions& options = {});

/// Whether a rule of status `status` is applied under `min_status`
/// (proved >= tested; unknown and refuted never).
bool RuleStatusAllowed(RuleStatus status, RuleStatus min_status);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_OPTIMIZE_H_
