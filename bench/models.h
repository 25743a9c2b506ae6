#ifndef LEMMA_BENCH_MODELS_H_
#define LEMMA_BENCH_MODELS_H_

// Model builders: graphs written by hand with GraphBuilder, following the
// shapes and quirks of TASO's benchmark models (../shared/zoo/models.py is
// their specification).

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma::models {

struct ModelInfo {
  std::string_view name;
  std::string_view description;
  std::function<absl::StatusOr<Graph>()> build;
};

/// Every model lemma can build, in a fixed order.
std::span<const ModelInfo> AllModels();
/// Builds the model named `name`, or NotFound listing the names.
absl::StatusOr<Graph> BuildModel(std::string_view name);

/// The first bottleneck of ResNeXt-50 (TASO variant): 64 -> 256 channels on a
/// 1x64x56x56 input, width 128, 32 groups, with a projection shortcut.
absl::StatusOr<Graph> ResNeXtBlock();
/// ResNet-50 as in TASO's example: no stem and no classifier, 1x64x56x56
/// input, 16 bottlenecks of convs without bias or batch norm.
absl::StatusOr<Graph> ResNet50();

/// Multiply-accumulates of conv2d and matmul, times two (the FLOP count the
/// TASO paper and the zoo README use).
double ConvMatMulFlops(const Graph& graph);

}  // namespace lemma::models

#endif  // LEMMA_BENCH_MODELS_H_
