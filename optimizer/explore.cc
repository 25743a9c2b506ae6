#include "optimizer/explore.h"

#include <algorithm>
#include <utility>

#include "ir/strings.h"
#include "ir/text_format.h"
#include "optimizer/graph_cost.h"
#include "optimizer/layout.h"
#include "optimizer/optimize.h"
#include "optimizer/rewrite.h"

namespace lemma {

MatchListing ListMatches(const SearchState& state, const RuleSet& rules,
                         std::span<const uint8_t> enabled, CostModel& model, bool choose_layouts) {
  MatchListing listing;
  listing.cost = state.cost;
  const std::vector<std::vector<std::string>> value_labels = PrintedValueLabels(state.graph);
  std::vector<std::string> labels;
  for (const std::vector<std::string>& l : value_labels) labels.push_back(l.empty() ? "" : l[0]);
  TargetPlanCache plans;
  CandidateEvaluator evaluator(state, model, choose_layouts, &plans);
  for (Match& m : state.matcher->FindAll(rules, enabled)) {
    const Rule& rule = rules.rules()[static_cast<size_t>(m.rule)];
    std::vector<std::string> nodes = MatchNodeLabels(state.graph, labels, m);
    absl::StatusOr<CandidateEval> eval = evaluator.Evaluate(rule, m);
    if (!eval.ok()) {
      RejectedMatch r;
      r.rule_id = rule.id;
      r.nodes = std::move(nodes);
      r.reason = std::string(eval.status().message());
      r.match = std::move(m);
      listing.rejected.push_back(std::move(r));
      continue;
    }
    MatchEffect e;
    e.rule_id = rule.id;
    e.status = rule.status;
    e.nodes = std::move(nodes);
    e.where = DescribeMatch(state.graph, value_labels, rule, m);
    e.cost_before = state.cost;
    e.cost_after = eval->cost;
    e.layouts = std::move(eval->layouts);
    e.match = std::move(m);
    listing.matches.push_back(std::move(e));
  }
  std::stable_sort(listing.matches.begin(), listing.matches.end(),
                   [](const MatchEffect& a, const MatchEffect& b) { return a.delta() < b.delta(); });
  return listing;
}

Explorer::Explorer(const RuleSet& rules, const ExploreOptions& options)
    : rules_(rules), options_(options) {
  CostModel* base = options.cost_model;
  if (base == nullptr) {
    analytical_ = std::make_unique<AnalyticalCostModel>();
    base = analytical_.get();
  }
  model_ = std::make_unique<CachedCostModel>(base);
}

absl::StatusOr<std::unique_ptr<Explorer>> Explorer::Create(const Graph& graph, const RuleSet& rules,
                                                           const ExploreOptions& options) {
  if (options.min_status != RuleStatus::kProved && options.min_status != RuleStatus::kTested) {
    return absl::InvalidArgumentError(StrCat("rules that are ", RuleStatusName(options.min_status),
                                             " are never applied; min_status must be proved or tested"));
  }
  if (absl::Status s = graph.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(StrCat("graph ", graph.name(), ": ", s.message()));
  }
  std::unique_ptr<Explorer> e(new Explorer(rules, options));
  e->enabled_.assign(static_cast<size_t>(rules.size()), 0);
  for (int i = 0; i < rules.size(); ++i) {
    if (RuleStatusAllowed(rules.rules()[static_cast<size_t>(i)].status, options.min_status)) {
      e->enabled_[static_cast<size_t>(i)] = 1;
      ++e->usable_;
    }
  }
  e->input_cost_ = ComputeGraphCost(graph, *e->model_).total;
  Graph root = graph;
  root.RemoveDeadCode();
  if (options.optimize_layouts) OptimizeLayouts(root, *e->model_);
  absl::StatusOr<std::unique_ptr<SearchState>> state = MakeSearchState(std::move(root), *e->model_);
  if (!state.ok()) return state.status();
  e->states_.push_back(*std::move(state));
  e->Relist();
  return e;
}

void Explorer::Relist() {
  listing_ = ListMatches(*states_.back(), rules_, enabled_, *model_, options_.optimize_layouts);
}

absl::Status Explorer::Apply(size_t index) {
  if (index >= listing_.matches.size()) {
    return absl::OutOfRangeError(StrCat("no match ", index + 1, ": the list has ",
                                        listing_.matches.size()));
  }
  const MatchEffect& m = listing_.matches[index];
  const Rule& rule = rules_.rules()[static_cast<size_t>(m.match.rule)];
  absl::StatusOr<Graph> g = ApplyMatch(graph(), rule, m.match, m.layouts);
  if (!g.ok()) return g.status();
  // Laid out again as a whole, as the optimizer's search builds a graph.
  if (options_.optimize_layouts) OptimizeLayouts(*g, *model_);
  absl::StatusOr<std::unique_ptr<SearchState>> state = MakeSearchState(*std::move(g), *model_);
  if (!state.ok()) return state.status();
  history_.push_back({m.rule_id, m.nodes, m.where, cost(), (*state)->cost});
  states_.push_back(*std::move(state));
  Relist();
  return absl::OkStatus();
}

bool Explorer::Undo() {
  if (states_.size() < 2) return false;
  states_.pop_back();
  history_.pop_back();
  Relist();
  return true;
}

absl::StatusOr<RewriteRegion> Explorer::Picture(size_t index) const {
  if (index >= listing_.matches.size()) {
    return absl::OutOfRangeError(StrCat("no match ", index + 1, ": the list has ",
                                        listing_.matches.size()));
  }
  const MatchEffect& m = listing_.matches[index];
  return MatchRegion(graph(), rules_.rules()[static_cast<size_t>(m.match.rule)], m.match, m.layouts);
}

}  // namespace lemma
