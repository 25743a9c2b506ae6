#ifndef LEMMA_IR_HASH_H_
#define LEMMA_IR_HASH_H_

// Deterministic 64-bit hashing: the same value hashes the same in every
// process, on every run (unlike absl::Hash). Used for structural graph hashes,
// fingerprints and cache keys.

#include <cstdint>
#include <string_view>
#include <vector>

namespace lemma {

class Graph;
struct TensorType;
class Attributes;

/// A strong 64-bit finaliser (splitmix64).
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
/// Order-dependent combination of `seed` with `value`.
constexpr uint64_t HashCombine(uint64_t seed, uint64_t value) {
  return Mix64(seed ^ (Mix64(value) + 0x2545f4914f6cdd1dULL + (seed << 6) + (seed >> 2)));
}
uint64_t HashBytes(std::string_view bytes);
uint64_t HashTensorType(const TensorType& type);
uint64_t HashAttributes(const Attributes& attrs);

/// Per-value structural hashes of `graph`, indexed [node][output]: a hash of
/// the op, attributes, type and the hashes of the inputs, and for sources of
/// their kind, name and type. Intermediate names and node ids do not count.
std::vector<std::vector<uint64_t>> ValueHashes(const Graph& graph);

/// The canonical structural hash of `graph`. Independent of node numbering,
/// insertion order, intermediate value names and output order; it depends on
/// the ops, attributes, types and layouts, the wiring, the names of inputs,
/// weights and outputs, and on how many times each distinct computation is
/// made (a graph that computes a value twice differs from one that shares it).
/// Dead nodes (nothing an output needs) do not count.
uint64_t StructuralHash(const Graph& graph);

}  // namespace lemma

#endif  // LEMMA_IR_HASH_H_
