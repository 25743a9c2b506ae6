#ifndef LEMMA_TESTS_OPTIMIZER_SMALL_MODELS_H_
#define LEMMA_TESTS_OPTIMIZER_SMALL_MODELS_H_

// Small graphs with the structure of each model of the zoo (bench/models.h):
// the same ops, wiring, fused activations, kernels and padding, with sizes
// and depths small enough that the reference evaluator runs them in float64
// in milliseconds. The optimizer's differential tests run on these.

#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma::testing {

struct SmallModel {
  std::string_view name;
  absl::StatusOr<Graph> (*build)();
};

/// resnext_block, resnet50, resnext50, nasnet_a, nasrnn, bert, inception_v3
/// and squeezenet, each small.
std::span<const SmallModel> SmallModels();

}  // namespace lemma::testing

#endif  // LEMMA_TESTS_OPTIMIZER_SMALL_MODELS_H_
