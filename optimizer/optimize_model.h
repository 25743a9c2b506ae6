#ifndef LEMMA_OPTIMIZER_OPTIMIZE_MODEL_H_
#define LEMMA_OPTIMIZER_OPTIMIZE_MODEL_H_

// Optimize on a model: a graph with the data of its weights (ir/weights.h).
// The search rewrites the graph only; rewrites keep every weight they read by
// name and compute new tensors from weights with ops (concat, enlarge, ...),
// so the optimized graph's weights are a subset of the input's and their data
// carries over unchanged. Ops computed from weights alone stay in the graph as
// ops (free under the cost model, precomputed when the model is loaded), so an
// exported model computes them from the original data.
//
//   absl::StatusOr<Model> m = ReadModel("model.onnx");
//   absl::StatusOr<ModelOptimizeResult> r = OptimizeModel(*m, rules, {.budget = 300});
//   WriteModel("model.opt.onnx", r->model);

#include "absl/status/statusor.h"
#include "ir/weights.h"
#include "optimizer/optimize.h"
#include "rules/rule.h"

namespace lemma {

struct ModelOptimizeResult {
  /// The optimized graph (result.graph) with the data of its weights.
  Model model;
  /// What Optimize returned; result.graph is moved into model.graph.
  OptimizeResult result;
};

/// Optimize(model.graph, rules, options), the result's weights given the data
/// `model` holds for them. Fails as Optimize does, or when the optimized graph
/// has a weight the input graph did not have with the same type.
absl::StatusOr<ModelOptimizeResult> OptimizeModel(const Model& model, const RuleSet& rules,
                                                  const OptimizeOptions& options = {});

/// `graph` with the entries of `weights` that name its weights (others dropped).
Model ModelWithWeights(Graph graph, const WeightValues& weights);

/// The cost in seconds of `graph` under the analytical cost model with the
/// default machine (what Optimize reports as cost_before for it).
double AnalyticalGraphCost(const Graph& graph);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_OPTIMIZE_MODEL_H_
