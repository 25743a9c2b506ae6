#ifndef LEMMA_OPTIMIZER_COST_MODEL_H_
#define LEMMA_OPTIMIZER_COST_MODEL_H_

// What an op costs. The optimizer asks a CostModel for the cost of one op at a
// time, keyed by everything the cost can depend on: the op, its attributes,
// and the types of its inputs and outputs, layouts included. The cost of a
// kernel includes the reordering of any input it cannot read in the layout
// the input has: a layout conversion is paid where it is needed.
//
// Two models ship: AnalyticalCostModel, a deterministic roofline of FLOPs and
// bytes against a MachineSpec (what the tests and the default optimizer use),
// and MeasuredCostModel, which asks a CostMeasurer (implemented by a kernels
// backend) and falls back to another model for what it cannot measure.
// CachedCostModel wraps either so that each distinct key is costed once.
//
// Costs are in seconds.

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ir/attributes.h"
#include "ir/op_registry.h"
#include "ir/types.h"

namespace lemma {

/// Everything the cost of one op depends on.
struct OpCostKey {
  OpKind op;
  Attributes attrs;
  std::vector<TensorType> inputs;
  std::vector<TensorType> outputs;

  /// A deterministic hash of every field (layouts included).
  uint64_t Hash() const;
  /// "conv2d{...}(f32[1,64,56,56]@nhwc, f32[64,64,3,3]) -> f32[1,64,56,56]": for messages and logs.
  std::string ToString() const;
  friend bool operator==(const OpCostKey&, const OpCostKey&) = default;
};

/// The cost of single ops.
class CostModel {
 public:
  virtual ~CostModel() = default;

  /// Seconds to run the op of `key` with its inputs and outputs in the given
  /// layouts, including reordering any input the kernel cannot read as it is.
  /// Sources (inputs, weights) cost nothing. Deterministic.
  virtual double OpCost(const OpCostKey& key) = 0;
  /// The layout in which the kernel of `key` reads input `index` without a
  /// conversion. The optimizer stores precomputed tensors (weights and what is
  /// computed from weights alone) in this layout, so they never pay for one.
  virtual Layout PreferredInputLayout(const OpCostKey& key, int index) = 0;
  /// A short description, e.g. "analytical (roofline: 575 GFLOP/s, 50 GB/s)".
  virtual std::string Name() const = 0;
};

/// The layouts a value of rank `rank` may have: NCHW and NHWC for rank 4,
/// row- and column-major for rank 2, row-major otherwise.
std::span<const Layout> AllowedLayouts(int rank);

/// Whether `op` can run in any layout as long as its inputs of the output's
/// rank share the output's layout (elementwise ops, scalar_mul, concat,
/// split, the pools, batchnorm, and broadcast_add and broadcast_mul, whose
/// operands of lower rank, a conv's [C,1,1] bias, stay in the default
/// layout). Other ops want the default layout, except conv2d and matmul,
/// which have their own preferences.
bool IsLayoutPreserving(OpKind op);

/// The machine an analytical model describes.
///
/// Defaults: two cores of AMD Zen 5. Peak float32 compute: 2 cores x 2 FMA
/// pipes x 16 lanes (AVX-512) x 2 FLOP x 4.5 GHz = 576 GFLOP/s; taken as 575.
/// Memory: a two-core share of a DDR5 server streams about 25 GB/s per core
/// (STREAM-like per-core bandwidth of Zen 4/5 EPYC), so 50 GB/s; working sets
/// that fit the cache share (8 MiB: the two cores' 1 MiB L2s and a share of
/// the 32 MiB L3) stream at the L3's ~100 GB/s per core, so 200 GB/s. Every
/// kernel pays a fixed 1 us (dispatch and synchronisation of the two cores).
struct MachineSpec {
  double peak_flops = 575e9;
  double dram_bandwidth = 50e9;
  double cache_bandwidth = 200e9;
  double cache_bytes = 8.0 * 1024 * 1024;
  double op_overhead = 1e-6;
  /// Fraction of peak that dense convs and matmuls reach.
  double gemm_efficiency = 0.8;
  /// Fraction of peak of every other computing op (vectorised, not FMA-bound).
  double other_efficiency = 0.5;
  /// The layout dense and depthwise conv2d kernels read activations and
  /// weights in: NHWC (weights OHWI) by default. lemma's CPU backend runs
  /// them fastest channels-last (vectors along the channels, window taps
  /// outside the channel loop; depthwise convs a vector per 16 channels):
  /// Inception-v3, ResNet-50 and ResNeXt-50 laid out this way measured
  /// 1.03-1.1x faster than NCHW, NASNet-A a tie (bench/README.md). kNCHW
  /// (weights OIHW) models a library that runs NCHW convs.
  Layout conv_layout = Layout::kNHWC;
  /// The layout the other grouped convs (several channels per group) read:
  /// NCHW, where lemma's kernels run the GEMM of each group with vectors
  /// along the pixels (channels-last, a vector along 4 output channels of a
  /// group would be mostly empty).
  Layout grouped_conv_layout = Layout::kNCHW;
  /// Speed of a dense or depthwise conv computed in the other layout than
  /// conv_layout, relative to conv_layout. On lemma's CPU backend dense
  /// convs ran NCHW at 0.93-1.07x their channels-last speed (Intel Xeon), and
  /// channels-last 1.03-1.1x faster on an AMD EPYC (bench/README.md).
  double other_conv_layout_speed = 0.95;
  /// A grouped conv (not depthwise) computes in grouped_conv_layout; an
  /// input or output in the other layout costs this many reorders of it.
  double grouped_conv_reorders = 2.0;
  /// Bytes a second (read plus written) at which a tensor is reordered into
  /// another layout: a transposition reads or writes with a stride, and runs
  /// well below the cache's streaming bandwidth. On the CPU backend a
  /// 128x56x56 reorder took 1.2-2x a contiguous pass over the same tensor.
  double reorder_bandwidth = 50e9;
};

/// A roofline model: an op takes op_overhead + max(FLOPs / (peak x
/// efficiency), bytes / bandwidth), where bytes are its inputs and outputs read
/// and written once, and bandwidth is the cache's when they fit the cache.
///
/// Layouts (the model's assumptions about kernels):
/// * A dense or depthwise conv2d computes in NCHW or NHWC, whichever costs
///   less: in MachineSpec::conv_layout (NHWC by default) at full speed, in
///   the other at MachineSpec::other_conv_layout_speed. Other grouped convs
///   compute in MachineSpec::grouped_conv_layout (NCHW). An activation or
///   output in another layout than the one computed in is reordered
///   (MachineSpec::grouped_conv_reorders times, for grouped convs); weights
///   are stored in the layout computed in.
/// * matmul (rank 2) reads both operands with the reduction dimension
///   contiguous: A row-major, B column-major. Other operands are reordered.
///   Batched matmuls (rank > 2) read row-major operands.
/// * Layout-preserving ops (IsLayoutPreserving) read inputs in the output's
///   layout; every other op reads and writes the default layout.
/// * matmul, layout-preserving ops and constants write any layout.
/// * A reorder costs op_overhead plus reading and writing the tensor at
///   MachineSpec::reorder_bandwidth (or less, as TransferTime allows).
/// * reshape of default-layout tensors is a view, and so is split: its
///   consumers read the pieces in place with a stride, as BLAS (a leading
///   dimension) and channels-last kernels (a channel stride) do, and as TASO
///   assumes. Views cost nothing; a split piece stored in another layout than
///   the input is a reorder of that piece.
/// FLOPs: 2 per multiply-add for conv2d and matmul; per output element, 1 for
/// elementwise ops, 20 for sigmoid, tanh and gelu, the window size for pools,
/// and a few for the normalisations; data movement ops compute nothing.
class AnalyticalCostModel : public CostModel {
 public:
  explicit AnalyticalCostModel(MachineSpec spec = {}) : spec_(spec) {}

  double OpCost(const OpCostKey& key) override;
  Layout PreferredInputLayout(const OpCostKey& key, int index) override;
  std::string Name() const override;

  const MachineSpec& spec() const { return spec_; }
  /// FLOPs of the op of `key` (the count the model charges compute for).
  static double Flops(const OpCostKey& key);
  /// Seconds to move `bytes` through memory, at the cache's bandwidth when
  /// they fit the cache.
  double TransferTime(double bytes) const;
  /// Seconds to reorder a tensor of `type` into another layout.
  double ConversionCost(const TensorType& type) const;

 private:
  bool IsView(const OpCostKey& key) const;
  /// The op's own work at `speed` times the model's rate, without reorders.
  double ComputeCost(const OpCostKey& key, double speed) const;
  /// A rank-4 conv computed in `layout`, with the reorders of its inputs
  /// (but input `skip`) and output that are in another layout.
  double ConvCostIn(const OpCostKey& key, Layout layout, int skip) const;
  /// The layout that ConvCostIn prices lowest for `skip` (the native one on
  /// a tie).
  Layout ConvComputeLayout(const OpCostKey& key, int skip) const;
  MachineSpec spec_;
};

/// Measures what ops cost on real kernels. A kernels backend implements it;
/// the optimizer never runs kernels itself.
class CostMeasurer {
 public:
  virtual ~CostMeasurer() = default;
  /// Seconds the op of `key` takes, or an error when the backend has no
  /// kernel for it (the caller then falls back to another model).
  virtual absl::StatusOr<double> Measure(const OpCostKey& key) = 0;
  /// The layout the backend's kernel for `key` reads input `index` in.
  virtual Layout PreferredInputLayout(const OpCostKey& key, int index) = 0;
  /// The backend and target, e.g. "cpu-llvm zen5".
  virtual std::string Name() const = 0;
};

/// Costs measured by a CostMeasurer, with `fallback` answering for ops it
/// cannot measure. Wrap it in a CachedCostModel so that each key is measured
/// once.
class MeasuredCostModel : public CostModel {
 public:
  /// Neither pointer is owned; both must outlive the model.
  MeasuredCostModel(CostMeasurer* measurer, CostModel* fallback)
      : measurer_(measurer), fallback_(fallback) {}

  double OpCost(const OpCostKey& key) override;
  Layout PreferredInputLayout(const OpCostKey& key, int index) override;
  std::string Name() const override;

  /// How many keys were measured and how many fell back.
  int64_t measured() const { return measured_; }
  int64_t fell_back() const { return fell_back_; }

 private:
  CostMeasurer* measurer_;
  CostModel* fallback_;
  int64_t measured_ = 0;
  int64_t fell_back_ = 0;
};

/// A cache in front of another model: each distinct key (op, attributes,
/// shapes, layouts) is costed once. Thread-safe: calls into the wrapped model
/// are serialised, so that model need not be.
class CachedCostModel : public CostModel {
 public:
  /// `model` is not owned and must outlive the cache.
  explicit CachedCostModel(CostModel* model) : model_(model) {}

  double OpCost(const OpCostKey& key) override;
  /// Forwarded to the wrapped model (preferences are cheap to compute).
  Layout PreferredInputLayout(const OpCostKey& key, int index) override {
    std::lock_guard<std::mutex> lock(mu_);
    return model_->PreferredInputLayout(key, index);
  }
  std::string Name() const override { return model_->Name(); }

  int64_t hits() const;
  int64_t misses() const;
  /// The number of distinct keys costed.
  int64_t size() const;

 private:
  struct Entry {
    OpCostKey key;
    double cost;
  };
  CostModel* model_;
  mutable std::mutex mu_;
  // By key hash; a bucket holds every key of that hash (compared in full).
  absl::flat_hash_map<uint64_t, std::vector<Entry>> costs_;
  int64_t entries_ = 0;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_COST_MODEL_H_
