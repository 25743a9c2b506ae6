#ifndef LEMMA_KERNELS_CPU_OPTIMIZER_COSTS_H_
#define LEMMA_KERNELS_CPU_OPTIMIZER_COSTS_H_

// The optimizer's cost model measured on this machine: a lemma::CostMeasurer
// backed by the CPU backend's measured cost model (kernels/cpu/cost_model.h).
// Each op the optimizer prices becomes a one-op graph, compiled and timed the
// way the runtime would run it (generated kernel with its tuned schedule, or
// oneDNN, whichever is faster), cached in memory and, with a cache file, on
// disk. Ops the backend cannot measure (other dtypes than f32) are priced by
// the optimizer's analytical model.
//
//   absl::StatusOr<std::unique_ptr<cpu::OptimizerCosts>> costs =
//       cpu::OptimizerCosts::Create({.threads = 2, .cache_path = "costs.jsonl"});
//   OptimizeOptions options;
//   options.cost_model = (*costs)->model();
//   absl::StatusOr<OptimizeResult> r = Optimize(graph, rules, options);
//   (*costs)->Save();
//
// The optimizer's library is used for its cost-model interface only; it
// never depends on the backend.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/cpu/cost_model.h"
#include "optimizer/cost_model.h"

namespace lemma::cpu {

/// A CostMeasurer that times ops on the CPU backend. Weights are not
/// distinguished in an OpCostKey: conv2d's kernel, matmul's right operand and
/// the normalisations' parameters are taken to be weights (prepared once at
/// plan time, so their layout costs nothing), every other input an
/// activation. Views (transpose, slice, split, reshape) cost 0, as in the
/// runtime.
class CpuCostMeasurer : public CostMeasurer {
 public:
  /// `costs` must have analytical_fallback off (so that ops it cannot measure
  /// are errors) and outlives the measurer; `layouts` answers
  /// PreferredInputLayout. Neither is owned.
  CpuCostMeasurer(MeasuredCostModel* costs, CostModel* layouts)
      : costs_(costs), layouts_(layouts) {}

  /// Seconds the op of `key` takes on this machine (from the cache when it
  /// was measured before); an error for an op the backend cannot measure.
  absl::StatusOr<double> Measure(const OpCostKey& key) override;
  /// The runtime packs weights and reads activations in any of the layouts
  /// the optimizer chooses, so this defers to `layouts`.
  Layout PreferredInputLayout(const OpCostKey& key, int index) override;
  /// "cpu " and the target key, e.g. "cpu AMD EPYC/avx512/2t".
  std::string Name() const override;

 private:
  MeasuredCostModel* costs_;
  CostModel* layouts_;
};

/// Everything behind a measured optimizer cost model, owned together: the
/// backend's measured costs (with their disk cache), the measurer, the
/// analytical model for fallback and layout preferences, and the
/// lemma::MeasuredCostModel the optimizer is given.
class OptimizerCosts {
 public:
  /// Loads the cache named by options.cache_path (missing: empty); fails on
  /// an unreadable cache. options.analytical_fallback is ignored (the
  /// optimizer's analytical model is the fallback).
  static absl::StatusOr<std::unique_ptr<OptimizerCosts>> Create(CostModelOptions options,
                                                                MachineSpec spec = {});

  /// The model to put in OptimizeOptions::cost_model; valid while this lives.
  CostModel* model() { return &model_; }
  /// How many ops were measured now, found in the cache, or fell back.
  int measured() const { return costs_->stats().measured; }
  int cached() const { return costs_->stats().cached; }
  int64_t fell_back() const { return model_.fell_back(); }
  /// Writes the cache file (no-op without one).
  absl::Status Save() const { return costs_->Save(); }

 private:
  OptimizerCosts(std::unique_ptr<MeasuredCostModel> costs, MachineSpec spec)
      : costs_(std::move(costs)),
        analytical_(spec),
        measurer_(costs_.get(), &analytical_),
        model_(&measurer_, &analytical_) {}

  std::unique_ptr<MeasuredCostModel> costs_;
  AnalyticalCostModel analytical_;
  CpuCostMeasurer measurer_;
  lemma::MeasuredCostModel model_;
};

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_OPTIMIZER_COSTS_H_
