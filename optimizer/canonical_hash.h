#ifndef LEMMA_OPTIMIZER_CANONICAL_HASH_H_
#define LEMMA_OPTIMIZER_CANONICAL_HASH_H_

// The hash by which the search recognises a graph it has seen. Like
// StructuralHash (ir/hash.h) it is independent of node numbering, insertion
// order, intermediate value names and output order, and counts how many
// times each distinct computation is made; unlike it, it ignores layouts (a
// layout is chosen for a graph, not a different graph) and is a sum over
// nodes, so that the search can update it for a rewrite without rehashing
// the graph:
//
//   hash = HashCombine(sum over live nodes and graph inputs of NodeTerm,
//                      sum over outputs of OutputTerm)
//
// where a node's hash covers its op, attributes, output shapes, the hashes of
// its inputs (so the wiring) and, for sources, their name.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "ir/graph.h"

namespace lemma {

/// What a node is, without its inputs: op and attributes, and a source's name.
uint64_t NodeContentHash(const Node& node);
/// A type's dtype and dims, not its layout.
uint64_t ShapeHash(const TensorType& type);
/// The hash of output `index` (of shape hash `shape`) of a node with content
/// `content` whose inputs hash to `inputs`, in order.
uint64_t ValueHashOf(uint64_t content, std::span<const uint64_t> inputs, int index,
                     uint64_t shape);
/// The term a node with output-0 hash `value0` adds to the node sum.
uint64_t NodeTerm(uint64_t value0);
/// The term an output named `name` of value hash `value` adds to the output sum.
uint64_t OutputTerm(std::string_view name, uint64_t value);

/// The two sums, and the hash they make.
struct CanonicalHashSums {
  uint64_t nodes = 0;
  uint64_t outputs = 0;
  uint64_t hash() const;
};

/// Per value hashes of `graph`, indexed [node][output] (nodes in any order).
std::vector<std::vector<uint64_t>> LayoutFreeValueHashes(const Graph& graph);
/// The sums of `graph`: live nodes (those an output needs) and graph inputs.
CanonicalHashSums CanonicalSums(const Graph& graph);
/// CanonicalSums(graph).hash().
uint64_t CanonicalHash(const Graph& graph);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_CANONICAL_HASH_H_
