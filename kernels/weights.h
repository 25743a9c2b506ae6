#ifndef LEMMA_KERNELS_WEIGHTS_H_
#define LEMMA_KERNELS_WEIGHTS_H_

// Tensor data (ir/weights.h) as the reference evaluator's feeds and results:
// a model's weight data, values a user gives for inputs, and random data for
// whatever has none, drawn exactly as RandomFeeds draws it.
//
//   absl::StatusOr<NamedTensors<F32>> feeds = FeedsFromData<F32>(model.graph, model.weights, 1);
//   absl::StatusOr<NamedTensors<F32>> out = Evaluate<F32>(model.graph, *feeds);

#include <cstdint>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/weights.h"
#include "kernels/arith.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"

namespace lemma {

/// `value` as a tensor of domain A in the default layout. F64 and F32 convert
/// the elements; ModP takes integers only (an error names the first fractional
/// element).
template <typename A>
absl::StatusOr<Tensor<typename A::T>> TensorFromData(const WeightValue& value);

/// The logical elements of `t` as data of the same dims: f64 from F64, f32
/// from F32, and from ModP the signed representatives as i64.
template <typename A>
WeightValue DataFromTensor(const Tensor<typename A::T>& t);

/// Feeds for every input and weight of `g`: the entry of `data` with its name
/// when there is one, else the tensor RandomFeeds<A>(g, seed) would give it.
/// Errors: an entry that names no input or weight, or whose dtype or dims
/// differ from the graph's, or that domain A cannot represent.
template <typename A>
absl::StatusOr<NamedTensors<A>> FeedsFromData(const Graph& g, const WeightValues& data,
                                              uint64_t seed);

/// `data` plus, for every weight of `g` without data, the weight RandomFeeds
/// gives it: RandomFeeds<F32>'s for an f32 weight, RandomFeeds<F64>'s (cast)
/// for f64 and i64, so that a graph exported with these weights computes what
/// `lemma run --seed --domain f32` computes.
WeightValues WithRandomWeights(const Graph& g, WeightValues data, uint64_t seed);

extern template absl::StatusOr<Tensor<double>> TensorFromData<F64>(const WeightValue&);
extern template absl::StatusOr<Tensor<float>> TensorFromData<F32>(const WeightValue&);
extern template absl::StatusOr<Tensor<uint64_t>> TensorFromData<ModP>(const WeightValue&);
extern template WeightValue DataFromTensor<F64>(const Tensor<double>&);
extern template WeightValue DataFromTensor<F32>(const Tensor<float>&);
extern template WeightValue DataFromTensor<ModP>(const Tensor<uint64_t>&);
extern template absl::StatusOr<NamedTensors<F64>> FeedsFromData<F64>(const Graph&, const WeightValues&, uint64_t);
extern template absl::StatusOr<NamedTensors<F32>> FeedsFromData<F32>(const Graph&, const WeightValues&, uint64_t);
extern template absl::StatusOr<NamedTensors<ModP>> FeedsFromData<ModP>(const Graph&, const WeightValues&, uint64_t);

}  // namespace lemma

#endif  // LEMMA_KERNELS_WEIGHTS_H_
