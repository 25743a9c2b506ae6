#include "optimizer/optimize_model.h"

#include <string>
#include <utility>

#include "ir/strings.h"
#include "optimizer/cost_model.h"
#include "optimizer/graph_cost.h"

namespace lemma {

Model ModelWithWeights(Graph graph, const WeightValues& weights) {
  Model out;
  for (NodeId id : graph.WeightNodes()) {
    const std::string& name = graph.node(id).names.at(0);
    if (auto it = weights.find(name); it != weights.end()) out.weights.emplace(name, it->second);
  }
  out.graph = std::move(graph);
  return out;
}

absl::StatusOr<ModelOptimizeResult> OptimizeModel(const Model& model, const RuleSet& rules,
                                                  const OptimizeOptions& options) {
  absl::StatusOr<OptimizeResult> r = Optimize(model.graph, rules, options);
  if (!r.ok()) return r.status();
  for (NodeId id : r->graph.WeightNodes()) {
    const std::string& name = r->graph.node(id).names.at(0);
    const std::optional<ValueId> before = model.graph.FindValue(name);
    const TensorType& type = r->graph.node(id).outputs.at(0);
    if (!before || model.graph.node(before->node).op != OpKind::kWeight ||
        model.graph.type(*before).dtype != type.dtype ||
        model.graph.type(*before).dims != type.dims) {
      return absl::InternalError(StrCat("the optimized graph has a weight '", name, "' of type ",
                                        type.ToString(), " that the input graph does not have"));
    }
  }
  ModelOptimizeResult out;
  out.model = ModelWithWeights(std::move(r->graph), model.weights);
  r->graph = Graph();
  out.result = *std::move(r);
  return out;
}

double AnalyticalGraphCost(const Graph& graph) {
  AnalyticalCostModel model;
  return ComputeGraphCost(graph, model).total;
}

}  // namespace lemma
