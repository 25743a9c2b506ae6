#ifndef LEMMA_OPTIMIZER_GRAPH_COST_H_
#define LEMMA_OPTIMIZER_GRAPH_COST_H_

// The cost of a graph: the sum of the costs of the nodes an output depends
// on, except precomputed ones. A node is precomputed when every input derives
// from weights and constants alone (concatenating two conv weights, enlarging
// a weight): that work is done once, when the model is loaded, not at every
// inference, so it is free, as in TASO. A precomputed tensor is stored in the
// layout its consumer prefers, so no layout conversion is charged for it
// either.

#include <cstdint>
#include <span>
#include <vector>

#include "ir/graph.h"
#include "optimizer/cost_model.h"

namespace lemma {

/// One flag per node (or per input), 0 or 1: a vector<bool> has no span.
using Flags = std::vector<uint8_t>;

/// Per node: whether it is precomputed. Weights and constants are; an op is
/// when all its inputs are; graph inputs are not, unless `seeds` (empty, or
/// one flag per node) marks them: a scratch graph that stands for a part of a
/// larger graph marks the inputs that are precomputed there.
Flags PrecomputedNodes(const Graph& graph, std::span<const uint8_t> seeds = {});

/// The cost key of `node` with inputs of `input_types`: each input marked in
/// `input_precomputed` takes the layout `model` prefers for it.
OpCostKey NodeCostKey(const Node& node, std::span<const TensorType* const> input_types,
                      std::span<const uint8_t> input_precomputed, CostModel& model);

/// What `node` costs with inputs of `input_types`, of which those marked in
/// `input_precomputed` are precomputed; 0 when all of them are (the node is
/// then precomputed) and for sources.
double NodeCost(const Node& node, std::span<const TensorType* const> input_types,
                std::span<const uint8_t> input_precomputed, CostModel& model);

/// What node `id` of `graph` costs, given PrecomputedNodes(graph).
double NodeCostInGraph(const Graph& graph, NodeId id, std::span<const uint8_t> precomputed,
                       CostModel& model);

/// The cost of a graph, node by node.
struct GraphCost {
  double total = 0;
  /// Per node; 0 for sources, precomputed nodes and nodes no output needs.
  std::vector<double> node_costs;
  /// Ops charged (live, not precomputed).
  int charged_ops = 0;
  /// Live ops that are precomputed and therefore free.
  int precomputed_ops = 0;
};

/// The cost of `graph` under `model`: live ops only, precomputed ones free.
GraphCost ComputeGraphCost(const Graph& graph, CostModel& model);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_GRAPH_COST_H_
