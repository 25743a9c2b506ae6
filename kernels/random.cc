#include "kernels/random.h"

#include <cmath>
#include <utility>

#include "ir/hash.h"
#include <vector>

namespace lemma {
namespace {

// One element of domain A from the generator.
template <typename A>
typename A::T Sample(SplitMix64& rng);

// The top 53 bits as a multiple of 2^-53 in [0, 1), mapped to [-1, 1).
template <>
double Sample<F64>(SplitMix64& rng) {
  return static_cast<double>(rng.Next() >> 11) * 0x1p-52 - 1.0;
}

// The top 24 bits: exact in float.
template <>
float Sample<F32>(SplitMix64& rng) {
  return static_cast<float>(rng.Next() >> 40) * 0x1p-23f - 1.0f;
}

// 61 bits, redrawn in the one case (all ones) that is not below p.
template <>
uint64_t Sample<ModP>(SplitMix64& rng) {
  for (;;) {
    const uint64_t v = rng.Next() >> 3;
    if (v < ModP::kP) return v;
  }
}

}  // namespace

// The number of inputs that feed each output of a layer whose weight has
// these dims: I*kh*kw for a conv kernel [O,I,kh,kw], k for a matrix [k,n].
int64_t FanIn(const Dims& dims) {
  if (dims.size() == 4) return dims[1] * dims[2] * dims[3];
  if (dims.size() == 2) return dims[0];
  return 1;
}

uint64_t SplitMix64::Next() {
  const uint64_t state = state_;
  state_ += 0x9e3779b97f4a7c15ULL;
  return Mix64(state);  // splitmix64's output function of the advanced state
}

uint64_t ValueSeed(uint64_t run_seed, std::string_view name) {
  return HashCombine(run_seed, HashBytes(name));
}

double WeightScale(const TensorType& type) {
  const int64_t fan_in = FanIn(type.dims);
  return fan_in > 0 ? std::sqrt(6.0 / static_cast<double>(fan_in)) : 1.0;
}

template <typename A>
Tensor<typename A::T> RandomTensor(const TensorType& type, uint64_t seed, double scale) {
  using T = typename A::T;
  SplitMix64 rng(seed);
  std::vector<T> logical(static_cast<size_t>(type.num_elements()));
  for (T& v : logical) {
    v = Sample<A>(rng);
    if constexpr (!A::kExact) v = static_cast<T>(v * scale);
  }
  return FromLogical(type, std::move(logical));
}

template <typename A>
NamedTensors<A> RandomFeeds(const Graph& g, uint64_t seed) {
  NamedTensors<A> feeds;
  for (const Node& n : g.nodes()) {
    if (!GetOpInfo(n.op).Has(kTraitSource)) continue;
    const double scale = n.op == OpKind::kWeight ? WeightScale(n.outputs[0]) : 1.0;
    feeds.emplace(n.names[0],
                  RandomTensor<A>(n.outputs[0], ValueSeed(seed, n.names[0]), scale));
  }
  return feeds;
}

template Tensor<double> RandomTensor<F64>(const TensorType&, uint64_t, double);
template Tensor<float> RandomTensor<F32>(const TensorType&, uint64_t, double);
template Tensor<uint64_t> RandomTensor<ModP>(const TensorType&, uint64_t, double);
template NamedTensors<F64> RandomFeeds<F64>(const Graph&, uint64_t);
template NamedTensors<F32> RandomFeeds<F32>(const Graph&, uint64_t);
template NamedTensors<ModP> RandomFeeds<ModP>(const Graph&, uint64_t);

}  // namespace lemma
