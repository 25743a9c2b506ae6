#ifndef LEMMA_KERNELS_RANDOM_H_
#define LEMMA_KERNELS_RANDOM_H_

// Deterministic random tensors for testing and fingerprints. The generator is
// splitmix64 and the sampling is lemma's own, so a seed gives the same tensors
// with every compiler and standard library.

#include <cstdint>
#include <string_view>

#include "ir/graph.h"
#include "kernels/arith.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"

namespace lemma {

/// The splitmix64 generator: 64 random bits per call, a pure function of the seed.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  /// The next 64 bits.
  uint64_t Next();

 private:
  uint64_t state_;
};

/// The seed of the value named `name` in a run seeded `run_seed`: a hash of
/// both, so a value's feed depends on nothing but its name and the run seed.
uint64_t ValueSeed(uint64_t run_seed, std::string_view name);

/// A tensor of `type` (its layout included) whose LOGICAL elements depend only
/// on `seed` and the dims: F64 and F32 uniform in [-scale, scale), ModP uniform
/// in [0, p) (the scale does not apply).
template <typename A>
Tensor<typename A::T> RandomTensor(const TensorType& type, uint64_t seed, double scale = 1.0);

/// The He-uniform bound sqrt(6 / fan_in) of a weight: fan_in is I*kh*kw for a
/// conv kernel [O,I,kh,kw], k for a matrix [k,n], 1 otherwise. Drawn in
/// [-bound, bound), the weights keep activations of deep models without
/// normalisation (TASO's ResNet-50 has none) finite in float32.
double WeightScale(const TensorType& type);

/// A random tensor for every input and weight of `g`, by name, of the declared
/// type: the one of value `name` is RandomTensor(type, ValueSeed(seed, name),
/// scale), with scale 1 for inputs and WeightScale(type) for weights.
template <typename A>
NamedTensors<A> RandomFeeds(const Graph& g, uint64_t seed);

extern template Tensor<double> RandomTensor<F64>(const TensorType&, uint64_t, double);
extern template Tensor<float> RandomTensor<F32>(const TensorType&, uint64_t, double);
extern template Tensor<uint64_t> RandomTensor<ModP>(const TensorType&, uint64_t, double);
extern template NamedTensors<F64> RandomFeeds<F64>(const Graph&, uint64_t);
extern template NamedTensors<F32> RandomFeeds<F32>(const Graph&, uint64_t);
extern template NamedTensors<ModP> RandomFeeds<ModP>(const Graph&, uint64_t);

}  // namespace lemma

#endif  // LEMMA_KERNELS_RANDOM_H_
