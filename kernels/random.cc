#include "kernels/random.h"

#include <utility>
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

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t ValueSeed(uint64_t run_seed, std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : name) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return SplitMix64(run_seed ^ SplitMix64(hash).Next()).Next();
}

template <typename A>
Tensor<typename A::T> RandomTensor(const TensorType& type, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<typename A::T> logical(static_cast<size_t>(type.num_elements()));
  for (auto& v : logical) v = Sample<A>(rng);
  return FromLogical(type, std::move(logical));
}

template <typename A>
NamedTensors<A> RandomFeeds(const Graph& g, uint64_t seed) {
  NamedTensors<A> feeds;
  for (const Node& n : g.nodes()) {
    if (!GetOpInfo(n.op).Has(kTraitSource)) continue;
    feeds.emplace(n.names[0], RandomTensor<A>(n.outputs[0], ValueSeed(seed, n.names[0])));
  }
  return feeds;
}

template Tensor<double> RandomTensor<F64>(const TensorType&, uint64_t);
template Tensor<float> RandomTensor<F32>(const TensorType&, uint64_t);
template Tensor<uint64_t> RandomTensor<ModP>(const TensorType&, uint64_t);
template NamedTensors<F64> RandomFeeds<F64>(const Graph&, uint64_t);
template NamedTensors<F32> RandomFeeds<F32>(const Graph&, uint64_t);
template NamedTensors<ModP> RandomFeeds<ModP>(const Graph&, uint64_t);

}  // namespace lemma
