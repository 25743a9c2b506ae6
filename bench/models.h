#ifndef LEMMA_BENCH_MODELS_H_
#define LEMMA_BENCH_MODELS_H_

// The model zoo: TASO's seven benchmark graphs written by hand with
// GraphBuilder, following the shapes and quirks of TASO's examples
// (shared/zoo/models.py is their specification): convs without bias or batch
// norm, ReLU fused exactly where TASO fuses it, BERT's attention results kept
// as extra outputs.
//
//   absl::StatusOr<Graph> g = models::BuildModel("nasnet_a");
//   absl::StatusOr<Graph> s = models::BuildModel("nasnet_a", {.scale = ModelScale::kSmall});
//
// Every model comes in two scales. kFull has the published shapes (the
// defaults of models.py). kSmall is the same graph node for node (the same
// ops, wiring, fused activations, strides, kernels and padding modes) with
// small sizes, so that one float64 run of the reference evaluator takes a few
// milliseconds:
//
//   model          full                        small
//   resnext_block  1x64x56x56, width 128, g32  1x4x8x8, width 8, g4
//   resnet50       1x64x56x56, widths 64..512  1x4x16x16, widths 4..32
//   resnext50      1x3x224x224, 128..1024, g32 1x3x64x64, widths 8..64, g4
//   nasnet_a       1x3x224x224, stem 64, c 128 1x3x64x64, stem 8, c 4
//   nasrnn         hidden 512                  hidden 16
//   bert           16x64 tokens, 1024, 16 heads 2x8 tokens, 32, 4 heads
//   inception_v3   32x3x299x299                1x3x107x107, channels / 16
//   squeezenet     1x3x224x224, 1000 classes   1x3x35x35, channels / 8, 10 classes
//
// Depths, cell and layer counts never shrink. A small graph is named after
// the model with "_small" appended.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma::models {

/// Which sizes a builder uses.
enum class ModelScale {
  kFull,   // the published shapes
  kSmall,  // the same structure with small sizes, for quick reference runs
};

/// How to build a model.
struct ModelOptions {
  ModelScale scale = ModelScale::kFull;
};

/// A model of the zoo: its name, a one-line description of the full-scale
/// graph, and its builder.
struct ModelInfo {
  std::string_view name;
  std::string_view description;
  absl::StatusOr<Graph> (*build)(const ModelOptions&);
};

/// Every model lemma can build, in a fixed order.
std::span<const ModelInfo> AllModels();
/// Their names, in the same order.
std::vector<std::string> ModelNames();
/// Builds the model named `name`, or NotFound listing the names.
absl::StatusOr<Graph> BuildModel(std::string_view name, const ModelOptions& options = {});

// The builders. Each returns a validated graph of f32 values named after the
// model. Weights follow the order of models.py's parameters: w<k> is its k-th
// (NASRNN's initial state, its first, is h0).

/// The first bottleneck of ResNeXt-50 (TASO variant): 64 -> 256 channels on a
/// 1x64x56x56 input, width 128, 32 groups, with a projection shortcut.
absl::StatusOr<Graph> ResNeXtBlock(const ModelOptions& options = {});
/// ResNet-50 as in TASO's example: no stem and no classifier, 1x64x56x56
/// input, 16 bottlenecks of convs without bias or batch norm.
absl::StatusOr<Graph> ResNet50(const ModelOptions& options = {});
/// ResNeXt-50 as in TASO: a 7x7 stem and 3x3 max pool, then 16 bottlenecks of
/// widths 128..1024, expansion 2, 32 groups; 1x3x224x224 input.
absl::StatusOr<Graph> ResNeXt50(const ModelOptions& options = {});
/// NASNet-A as in TASO: a 7x7 stem, then 3 stages of 5 normal cells and one
/// reduction cell made of separable convs and 3x3 pools; 1x3x224x224 input.
absl::StatusOr<Graph> NasNetA(const ModelOptions& options = {});
/// NASRNN: 5 unrolled NAS cells of hidden size 512 on batch 1, each 16
/// matmuls and a fixed tree of relu/sigmoid/tanh, add and mul; the initial
/// state is a weight.
absl::StatusOr<Graph> NasRnn(const ModelOptions& options = {});
/// BERT as in TASO: 8 attention layers of 16 heads on 16x64 tokens of size
/// 1024, no softmax, scale, layer norm or feed-forward; outputs the final
/// hidden state and each layer's attention result.
absl::StatusOr<Graph> Bert(const ModelOptions& options = {});
/// Inception-v3 as in TASO: the stem, 11 inception blocks (A x3, B, C x4, D,
/// E x2) of convs without bias, and a 1x1 average pool; 32x3x299x299 input.
absl::StatusOr<Graph> InceptionV3(const ModelOptions& options = {});
/// SqueezeNet 1.1 (standard, with conv biases as broadcast adds): 8 fire
/// modules and a 1000-way 1x1 conv classifier; 1x3x224x224 input.
absl::StatusOr<Graph> SqueezeNet(const ModelOptions& options = {});

/// Multiply-accumulates of conv2d and matmul, times two (the FLOP count the
/// TASO paper and the zoo README use).
double ConvMatMulFlops(const Graph& graph);
/// The number of weight elements (trained parameters) of `graph`.
int64_t ParameterCount(const Graph& graph);

}  // namespace lemma::models

#endif  // LEMMA_BENCH_MODELS_H_
