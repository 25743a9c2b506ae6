#ifndef LEMMA_OPTIMIZER_SEARCH_STATE_H_
#define LEMMA_OPTIMIZER_SEARCH_STATE_H_

// The optimizer's view of one graph of the search, and the evaluation of a
// candidate rewrite without building it. The search generates many more
// candidates than it expands (every match of every rule in every expanded
// graph), so each candidate's cost and canonical hash are computed from its
// parent: the target's new nodes are costed in a small scratch graph, the
// nodes the rewrite kills are subtracted, and only the nodes downstream of
// the rewrite are rehashed (and recosted where their inputs' layouts or
// precomputed status changed). A candidate is built for real (ApplyMatch)
// only when the search expands it. Internal to the optimizer; tests use it to
// check that the evaluation agrees with the built graph.

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "optimizer/canonical_hash.h"
#include "optimizer/cost_model.h"
#include "optimizer/graph_cost.h"
#include "optimizer/match.h"
#include "rules/rule.h"

namespace lemma {

/// A graph of the search and what the search derives from it. The graph has
/// no dead nodes and its node order is topological (Graph::RemoveDeadCode).
struct SearchState {
  Graph graph;
  /// first_value[n] is the flat index of node n's output 0; one past the end at [num_nodes].
  std::vector<size_t> first_value;
  /// Per value (flat): the layout-free canonical hash, and the hash of its dtype and dims.
  std::vector<uint64_t> value_hash;
  std::vector<uint64_t> shape_hash;
  /// Per node: NodeContentHash.
  std::vector<uint64_t> content_hash;
  /// Per node: precomputed (PrecomputedNodes) and cost (0 when precomputed).
  Flags precomputed;
  std::vector<double> node_cost;
  /// Per node: how many node inputs and graph outputs refer to its outputs.
  std::vector<int32_t> uses;
  double cost = 0;
  CanonicalHashSums sums;
  /// Rule matches are found through this index of `graph`.
  std::unique_ptr<Matcher> matcher;

  uint64_t hash() const { return sums.hash(); }
  size_t Flat(ValueId v) const { return first_value[static_cast<size_t>(v.node)] + static_cast<size_t>(v.index); }
};

/// The state of `graph`, which must have no dead nodes and be in topological
/// node order (as after RemoveDeadCode); costs under `model`.
absl::StatusOr<std::unique_ptr<SearchState>> MakeSearchState(Graph graph, CostModel& model);

/// What a rule's target adds when instantiated on given inputs. It is the
/// same for every match with the same rule, bindings, input types (layouts
/// included), precomputed inputs and layouts of the replaced values, so it
/// is computed once per such key (TargetPlanCache).
struct TargetPlan {
  /// Not OK when the target does not apply: it does not instantiate, or its
  /// output types differ from the source's.
  absl::Status status;
  /// Layouts of the new values, in the order ApplyMatch takes them.
  std::vector<Layout> layouts;
  /// The cost of the new nodes that are live and not precomputed.
  double cost = 0;
  /// A new node, as the hash needs it. Inputs are (node, index) of the
  /// scratch graph the target was built in: nodes below the pattern's input
  /// count are pattern inputs, the others new nodes (node - inputs indexes
  /// `nodes`).
  struct NewNode {
    bool live = false;
    uint64_t content = 0;
    std::vector<ValueId> inputs;
    std::vector<uint64_t> shapes;
  };
  std::vector<NewNode> nodes;
  /// Per pattern input: how many inputs of live new nodes read it.
  std::vector<int32_t> input_uses;
  /// Per source output: what replaces it (a value of the scratch graph, as
  /// in NewNode::inputs), its type and whether it is precomputed.
  struct Replacement {
    ValueId value;
    TensorType type;
    bool precomputed = false;
  };
  std::vector<Replacement> outputs;
};

/// Target plans by key; shared by the evaluators of one search. Thread-safe.
class TargetPlanCache {
 public:
  /// The plan of `rule` (index `rule_index`) for `match` in `state`, built
  /// with `model` on first use.
  const TargetPlan& Get(const SearchState& state, const Rule& rule, const Match& match,
                        CostModel& model, bool choose_layouts);
  /// The number of plans built.
  int64_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return size_;
  }

 private:
  struct Key {
    int rule;
    std::vector<int64_t> bindings;
    std::vector<TensorType> inputs;
    Flags precomputed;
    std::vector<TensorType> replaced;
    friend bool operator==(const Key&, const Key&) = default;
  };
  mutable std::mutex mu_;
  absl::flat_hash_map<uint64_t, std::vector<std::pair<Key, std::unique_ptr<TargetPlan>>>> plans_;
  int64_t size_ = 0;
};

/// What applying a match would give, computed from the parent state.
struct CandidateEval {
  double cost = 0;
  uint64_t hash = 0;
  int num_nodes = 0;
  /// The layouts of the target's new values, in the order ApplyMatch takes them.
  std::vector<Layout> layouts;
};

/// Evaluates candidate rewrites of one state. Holds scratch space sized to
/// the state: one evaluator per thread.
class CandidateEvaluator {
 public:
  /// With `choose_layouts`, the target's new values get the layouts that make
  /// them cheapest next to their fixed surroundings (OptimizeLayouts on the
  /// target alone); otherwise a replacing value keeps the layout of the value
  /// it replaces and the others the default.
  /// Plans come from `plans` (not owned), which may be shared with other
  /// evaluators of the same model and layout choice.
  CandidateEvaluator(const SearchState& state, CostModel& model, bool choose_layouts,
                     TargetPlanCache* plans);

  /// The cost, hash and size of the graph `match` of `rule` would give, or
  /// why the rewrite does not apply (the target does not instantiate, or its
  /// output types differ from the source's).
  absl::StatusOr<CandidateEval> Evaluate(const Rule& rule, const Match& match);

 private:
  struct Replacement {
    ValueId from;
    uint64_t hash;
    const TensorType* type;
    bool precomputed;
  };
  const Replacement* FindReplacement(ValueId v) const;

  const SearchState& state_;
  CostModel& model_;
  const bool choose_layouts_;
  TargetPlanCache* plans_;
  // Scratch indexed by node or flat value of the state; valid where stamp == epoch.
  uint32_t epoch_ = 0;
  std::vector<uint32_t> matched_stamp_, dead_stamp_, delta_stamp_, affected_stamp_,
      replaced_stamp_;
  std::vector<int32_t> delta_uses_;
  std::vector<uint64_t> new_value_hash_;
  Flags new_precomputed_, precomputed_changed_;
  // Scratch of one evaluation.
  std::vector<Replacement> replacements_;
  std::vector<NodeId> touched_, dead_;
  std::vector<std::vector<uint64_t>> new_hashes_;
  std::vector<uint64_t> in_hashes_;
  std::vector<const TensorType*> in_types_;
  Flags in_pre_;
};

/// The state after applying `match` of `rule` to `parent` with the new values
/// in `layouts` (as CandidateEval gives them).
absl::StatusOr<std::unique_ptr<SearchState>> ApplyToState(const SearchState& parent,
                                                          const Rule& rule, const Match& match,
                                                          std::span<const Layout> layouts,
                                                          CostModel& model);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_SEARCH_STATE_H_
