#ifndef LEMMA_KERNELS_CPU_COST_MODEL_H_
#define LEMMA_KERNELS_CPU_COST_MODEL_H_

// The measured cost model: an op's cost is the measured time of the kernel
// the CPU runtime would choose for it (the faster of the generated kernel, with
// its tuned schedule when the tuning log has one, and oneDNN), on this
// machine. Measurements are cached on disk in the tuning log's format
// ("kind":"cost"), keyed by workload and target, so that each is made once.
// When an op cannot be measured the analytical model answers instead.
//
//   cpu::MeasuredCostModel costs({.cache_path = "costs.jsonl"});
//   absl::StatusOr<double> s = costs.NodeCostSeconds(graph, node);
//   costs.Save();

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/tuning.h"

namespace lemma::cpu {

struct CostModelOptions {
  /// Threads kernels run on (0: every core).
  int threads = 0;
  /// The cost cache file ("": kept in memory only).
  std::string cache_path = {};
  /// Tuned schedules for the generated kernels (null: rules of thumb).
  const TuningLog* tuning_log = nullptr;
  /// Measure (true) or only use the analytical model (false).
  bool measure = true;
  /// Offer oneDNN as a provider.
  bool use_onednn = true;
  /// Answer with the analytical estimate when an op cannot be measured
  /// (true), or with an Unimplemented error (false), for callers that have
  /// their own fallback.
  bool analytical_fallback = true;
  /// The analytical model: clock (GHz), the share of the fp32 peak dense
  /// kernels reach, and memory bandwidth (bytes/s).
  double ghz = 4.5;
  double peak_fraction = 0.6;
  double bandwidth = 30e9;
};

class MeasuredCostModel {
 public:
  /// A model with its cache loaded (a missing cache file is an empty cache;
  /// an unreadable one an error).
  static absl::StatusOr<std::unique_ptr<MeasuredCostModel>> Create(const CostModelOptions& options);

  /// Seconds node `id` of `graph` takes on this machine: 0 for inputs,
  /// weights, constants (folded at plan time) and views (transpose, slice,
  /// split, reshape); otherwise the cached or measured time of its kernel, or
  /// the analytical estimate when it cannot be measured (an Unimplemented
  /// error instead without options.analytical_fallback).
  absl::StatusOr<double> NodeCostSeconds(const Graph& graph, NodeId id);
  /// The same for an op given by its attributes and input types (layouts
  /// included; outputs get the op's inferred types with `output_layouts`
  /// applied when given): a one-op graph whose input i is a weight (a
  /// constant, prepared at plan time) when constant[i], else a graph input.
  /// This is the shape of the optimizer's CostMeasurer, keyed by op,
  /// attributes and types.
  absl::StatusOr<double> OpCostSeconds(OpKind op, const Attributes& attrs,
                                       std::span<const TensorType> inputs,
                                       const std::vector<bool>& constant,
                                       std::span<const Layout> output_layouts = {});
  /// Which inputs of `op` a model normally feeds from weights: conv2d's
  /// kernel, matmul's right operand, batchnorm's and layernorm's parameters.
  static std::vector<bool> TypicalConstantInputs(OpKind op, int inputs);
  /// The analytical estimate: FLOPs at a share of the peak plus bytes moved
  /// at the memory bandwidth.
  double AnalyticalSeconds(const Graph& graph, NodeId id) const;
  /// Writes the cache file (no-op without one).
  absl::Status Save() const;

  struct Stats {
    int cached = 0;      // answered from the cache
    int measured = 0;    // measured now
    int analytical = 0;  // estimated
  };
  const Stats& stats() const { return stats_; }
  const TuningLog& cache() const { return cache_; }
  const CostModelOptions& options() const { return options_; }

 private:
  explicit MeasuredCostModel(const CostModelOptions& options) : options_(options) {}
  absl::StatusOr<TuningRecord> Measure(const Graph& graph, NodeId id, const std::string& key);
  // The analytical estimate, or an error without analytical_fallback.
  absl::StatusOr<double> Unmeasured(const Graph& graph, NodeId id, const absl::Status& why);

  CostModelOptions options_;
  TuningLog cache_;
  Stats stats_;
};

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_COST_MODEL_H_
