#include "optimizer/graph_cost.h"

namespace lemma {

Flags PrecomputedNodes(const Graph& graph, std::span<const uint8_t> seeds) {
  Flags pre(static_cast<size_t>(graph.num_nodes()), 0);
  for (NodeId id : graph.TopologicalOrder()) {
    const Node& n = graph.node(id);
    const size_t i = static_cast<size_t>(id);
    if (i < seeds.size() && seeds[i]) {
      pre[i] = 1;
    } else if (n.op != OpKind::kInput) {
      bool all = true;
      for (ValueId in : n.inputs) all = all && pre[static_cast<size_t>(in.node)];
      pre[i] = all ? 1 : 0;  // weights and constants have no inputs
    }
  }
  return pre;
}

OpCostKey NodeCostKey(const Node& node, std::span<const TensorType* const> input_types,
                      std::span<const uint8_t> input_precomputed, CostModel& model) {
  OpCostKey key{node.op, node.attrs, {}, node.outputs};
  key.inputs.reserve(input_types.size());
  for (const TensorType* t : input_types) key.inputs.push_back(*t);
  for (size_t i = 0; i < key.inputs.size(); ++i) {
    if (i < input_precomputed.size() && input_precomputed[i]) {
      const Layout want = model.PreferredInputLayout(key, static_cast<int>(i));
      if (LayoutFitsRank(want, key.inputs[i].rank())) key.inputs[i].layout = want;
    }
  }
  return key;
}

double NodeCost(const Node& node, std::span<const TensorType* const> input_types,
                std::span<const uint8_t> input_precomputed, CostModel& model) {
  if (GetOpInfo(node.op).Has(kTraitSource)) return 0;
  bool all = true;
  for (size_t i = 0; i < input_types.size(); ++i) {
    all = all && i < input_precomputed.size() && input_precomputed[i];
  }
  if (all) return 0;
  return model.OpCost(NodeCostKey(node, input_types, input_precomputed, model));
}

double NodeCostInGraph(const Graph& graph, NodeId id, std::span<const uint8_t> precomputed,
                       CostModel& model) {
  const Node& n = graph.node(id);
  std::vector<const TensorType*> types;
  Flags pre;
  types.reserve(n.inputs.size());
  pre.reserve(n.inputs.size());
  for (ValueId in : n.inputs) {
    types.push_back(&graph.type(in));
    pre.push_back(precomputed[static_cast<size_t>(in.node)]);
  }
  return NodeCost(n, types, pre, model);
}

GraphCost ComputeGraphCost(const Graph& graph, CostModel& model) {
  GraphCost cost;
  cost.node_costs.assign(static_cast<size_t>(graph.num_nodes()), 0.0);
  const std::vector<bool> live = graph.LiveNodes();
  const Flags pre = PrecomputedNodes(graph);
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const size_t i = static_cast<size_t>(id);
    if (!live[i] || GetOpInfo(graph.node(id).op).Has(kTraitSource)) continue;
    if (pre[i]) {
      ++cost.precomputed_ops;
      continue;
    }
    ++cost.charged_ops;
    cost.node_costs[i] = NodeCostInGraph(graph, id, pre, model);
    cost.total += cost.node_costs[i];
  }
  return cost;
}

}  // namespace lemma
