#ifndef LEMMA_OPTIMIZER_EXPLORE_H_
#define LEMMA_OPTIMIZER_EXPLORE_H_

// The substitution explorer: every match of every rule in a graph, with what
// applying it would do to the graph's cost, and a graph that is rewritten one
// chosen match at a time (with undo). `lemma explore` is built on it.
//
//   absl::StatusOr<std::unique_ptr<Explorer>> e = Explorer::Create(graph, rules);
//   for (const MatchEffect& m : (*e)->matches().matches) ...  // best first
//   (*e)->Apply(0);  // the best match; the list is recomputed
//
// Costs are the optimizer's: the graph cost of graph_cost.h (ops computed
// from weights alone are free) under the analytical cost model by default,
// with layouts chosen as lemma::Optimize chooses them. The graph first gets
// the layouts that make it cheapest (OptimizeLayouts); a match's cost after
// is the cost the search ranks the candidate by (CandidateEvaluator: the
// rewrite's new values get the layouts that suit their surroundings); an
// applied rewrite is then laid out again as a whole, as the search does when
// it expands a graph, so the cost after applying is at most the listed one.
// With optimize_layouts false no layout changes: new values take the layout
// of the value they replace, or the default, and the listed cost after is
// exactly the cost after applying.
//
// A match whose target does not instantiate at the matched sizes, or whose
// output types differ from the source's, is not listed with the others: it
// is listed as rejected, with the reason.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "optimizer/cost_model.h"
#include "optimizer/match.h"
#include "optimizer/region.h"
#include "optimizer/search_state.h"
#include "rules/rule.h"

namespace lemma {

struct ExploreOptions {
  /// The least trusted rules listed and applied (as OptimizeOptions::min_status).
  RuleStatus min_status = RuleStatus::kProved;
  /// Choose layouts as lemma::Optimize does (see the top of this file).
  bool optimize_layouts = true;
  /// Prices ops; null: an AnalyticalCostModel with the default MachineSpec.
  /// Not owned; must outlive the explorer.
  CostModel* cost_model = nullptr;
};

/// One match with its effect on the graph's cost.
struct MatchEffect {
  Match match;
  std::string rule_id;
  RuleStatus status = RuleStatus::kProved;
  /// The matched ops, by the labels users see (NodeLabels), in pattern order.
  std::vector<std::string> nodes;
  /// "conv2d(x, w1) + conv2d(x, w2)" (DescribeMatch).
  std::string where;
  /// The graph's cost now and after the rewrite, in seconds.
  double cost_before = 0;
  double cost_after = 0;
  /// The layouts of the rewrite's new values (as ApplyMatch takes them).
  std::vector<Layout> layouts;

  double delta() const { return cost_after - cost_before; }
};

/// A match whose rewrite does not apply.
struct RejectedMatch {
  Match match;
  std::string rule_id;
  std::vector<std::string> nodes;
  std::string reason;
};

/// Every match in one graph.
struct MatchListing {
  /// The graph's cost, in seconds.
  double cost = 0;
  /// Sorted by delta, lowest (best) first; equal deltas keep Matcher::FindAll's
  /// order (by root node, then rule order), so the order is deterministic.
  std::vector<MatchEffect> matches;
  /// In FindAll's order.
  std::vector<RejectedMatch> rejected;
};

/// Every match in `state` of the rules of `rules` marked in `enabled` (all
/// when empty), evaluated under `model` as the optimizer's search evaluates
/// candidates (CandidateEvaluator with `choose_layouts`).
MatchListing ListMatches(const SearchState& state, const RuleSet& rules,
                         std::span<const uint8_t> enabled, CostModel& model, bool choose_layouts);

/// One rewrite the explorer applied.
struct ExploreStep {
  std::string rule_id;
  std::vector<std::string> nodes;
  std::string where;
  double cost_before = 0;
  double cost_after = 0;
};

/// A graph rewritten one match at a time. Holds `rules` by reference: they
/// must outlive it.
class Explorer {
 public:
  /// Starts from `graph` (dead nodes removed, nodes renumbered in topological
  /// order, layouts chosen unless options say not). Fails on an invalid graph
  /// or a min_status of unknown or refuted.
  static absl::StatusOr<std::unique_ptr<Explorer>> Create(const Graph& graph, const RuleSet& rules,
                                                          const ExploreOptions& options = {});

  /// The current graph and its cost.
  const Graph& graph() const { return states_.back()->graph; }
  double cost() const { return states_.back()->cost; }
  /// The cost of the graph as given, before layouts were chosen.
  double input_cost() const { return input_cost_; }
  /// Rules usable under min_status.
  int usable_rules() const { return usable_; }
  /// The cost model's name.
  std::string cost_model_name() const { return model_->Name(); }
  /// Every match in the current graph, best first.
  const MatchListing& matches() const { return listing_; }
  /// The rewrites applied so far, oldest first.
  const std::vector<ExploreStep>& history() const { return history_; }

  /// Applies matches().matches[index] and recomputes the list. Fails, changing
  /// nothing, on an index out of range.
  absl::Status Apply(size_t index);
  /// Takes back the last rewrite; false when there is none.
  bool Undo();
  /// The region matches().matches[index] covers, before and after.
  absl::StatusOr<RewriteRegion> Picture(size_t index) const;

 private:
  Explorer(const RuleSet& rules, const ExploreOptions& options);
  void Relist();

  const RuleSet& rules_;
  ExploreOptions options_;
  std::unique_ptr<CostModel> analytical_;
  std::unique_ptr<CostModel> model_;
  std::vector<uint8_t> enabled_;
  int usable_ = 0;
  double input_cost_ = 0;
  std::vector<std::unique_ptr<SearchState>> states_;
  std::vector<ExploreStep> history_;
  MatchListing listing_;
};

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_EXPLORE_H_
