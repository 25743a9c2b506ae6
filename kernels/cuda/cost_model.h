#ifndef LEMMA_KERNELS_CUDA_COST_MODEL_H_
#define LEMMA_KERNELS_CUDA_COST_MODEL_H_

// The GPU's measured cost model: an op's cost is the time its plan takes on
// the device (cuDNN, cuBLASLt or generated kernels, as the CUDA runtime runs
// it), timed with CUDA events: warm-up runs, then the median of N. Results
// are cached on disk in the CPU backend's tuning-log format ("kind":"cost",
// "template":"cuda"), keyed by workload (op, attributes, input and output
// types with layouts, which inputs are constants) and target (device name and
// architecture), so that each is measured once per device.
//
//   absl::StatusOr<std::unique_ptr<cuda::MeasuredCostModel>> costs =
//       cuda::MeasuredCostModel::Create({.cache_path = "costs-gpu.jsonl"});
//   absl::StatusOr<double> s = (*costs)->NodeCostSeconds(graph, node);
//   (*costs)->Save();

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/tuning.h"
#include "kernels/cuda/device.h"

namespace lemma::cuda {

/// The workload key of an op: "conv2d{stride=[1,1],...}(f32[1,8,16,16],
/// const f32[8,8,3,3]) -> f32[1,8,16,16]", layouts included. Deterministic;
/// `constant` may be empty (no input constant).
std::string OpWorkloadKey(OpKind op, const Attributes& attrs, std::span<const TensorType> inputs,
                          std::span<const TensorType> outputs, const std::vector<bool>& constant = {});
/// The key of node `id` (constant: the inputs that are weights).
std::string NodeWorkloadKey(const Graph& graph, NodeId id);

struct CostModelOptions {
  /// The device ordinal.
  int device = 0;
  /// The cost cache file ("": kept in memory only).
  std::string cache_path = {};
  /// Untimed runs before the timed ones, and timed runs (the median counts).
  int warmup = 3;
  int runs = 10;
  /// cuDNN algorithms to replay and record (null: measured each time).
  cpu::TuningLog* tuning_log = nullptr;
};

class MeasuredCostModel {
 public:
  /// A model with its cache loaded; an error without a device ("no CUDA
  /// device: ...") or with an unreadable cache file.
  static absl::StatusOr<std::unique_ptr<MeasuredCostModel>> Create(const CostModelOptions& options);

  /// Seconds node `id` of `graph` takes on the device: 0 for sources and
  /// constant ops, otherwise the cached or measured time of the op alone (its
  /// inputs that are weights in `graph` are weights of the one-op graph).
  absl::StatusOr<double> NodeCostSeconds(const Graph& graph, NodeId id);
  /// The same for an op given by attributes and input types: a one-op graph
  /// whose input i is a weight when constant[i]; outputs take
  /// `output_layouts` when given. The shape of the optimizer's CostMeasurer.
  absl::StatusOr<double> OpCostSeconds(OpKind op, const Attributes& attrs, std::span<const TensorType> inputs,
                                       const std::vector<bool>& constant,
                                       std::span<const Layout> output_layouts = {});
  /// Writes the cache file (no-op without one).
  absl::Status Save() const;

  struct Stats {
    int cached = 0;
    int measured = 0;
  };
  const Stats& stats() const { return stats_; }
  const cpu::TuningLog& cache() const { return cache_; }
  const DeviceInfo& device() const { return device_; }

 private:
  MeasuredCostModel(const CostModelOptions& options, DeviceInfo device)
      : options_(options), device_(std::move(device)) {}
  absl::StatusOr<double> Measure(const Graph& graph, NodeId id);

  CostModelOptions options_;
  DeviceInfo device_;
  cpu::TuningLog cache_;
  Stats stats_;
};

/// The median of `samples` (which must not be empty); for an even count the
/// lower middle element.
double Median(std::vector<double> samples);

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_COST_MODEL_H_
