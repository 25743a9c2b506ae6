#ifndef LEMMA_KERNELS_CUDA_COST_MEASURER_H_
#define LEMMA_KERNELS_CUDA_COST_MEASURER_H_

// The GPU as the optimizer's CostMeasurer: wrap it in the optimizer's
// MeasuredCostModel (with a fallback for what it cannot measure) to optimize
// for the GPU.
//
//   auto gpu = cuda::MeasuredCostModel::Create({.cache_path = "costs-gpu.jsonl"});
//   cuda::CostMeasurer measurer(gpu->get());
//   AnalyticalCostModel fallback;
//   MeasuredCostModel costs(&measurer, &fallback);

#include <string>

#include "kernels/cuda/cost_model.h"
#include "optimizer/cost_model.h"

namespace lemma::cuda {

class CostMeasurer : public lemma::CostMeasurer {
 public:
  /// `model` is not owned and must outlive the measurer.
  explicit CostMeasurer(MeasuredCostModel* model) : model_(model) {}

  /// The op's time on the device with its typical constant inputs (conv2d's
  /// and matmul's right operand, the normalisations' parameters) as weights.
  absl::StatusOr<double> Measure(const OpCostKey& key) override;
  /// cuDNN and the generated kernels read any layout; the default layout
  /// (NCHW, row-major) is the one every kernel has.
  Layout PreferredInputLayout(const OpCostKey& key, int index) override;
  /// "cuda <device description>".
  std::string Name() const override;

 private:
  MeasuredCostModel* model_;
};

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_COST_MEASURER_H_
