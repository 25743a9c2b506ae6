#include "optimizer/canonical_hash.h"

#include "ir/hash.h"
#include "optimizer/graph_cost.h"

namespace lemma {

uint64_t NodeContentHash(const Node& node) {
  uint64_t h = HashAttributes(node.attrs);
  if (GetOpInfo(node.op).Has(kTraitSource)) h = HashCombine(h, HashBytes(node.names[0]));
  return h;
}

uint64_t ShapeHash(const TensorType& type) {
  uint64_t h = HashCombine(static_cast<uint64_t>(type.dtype), type.dims.size());
  for (int64_t d : type.dims) h = HashCombine(h, static_cast<uint64_t>(d));
  return h;
}

// A multiply-xorshift round per input (each round is a bijection applied in
// order, so the order of the inputs counts) and one full finaliser: the
// search hashes every node downstream of every candidate rewrite.
uint64_t ValueHashOf(uint64_t content, std::span<const uint64_t> inputs, int index,
                     uint64_t shape) {
  uint64_t h = content + inputs.size();
  for (uint64_t in : inputs) {
    h = (h ^ in) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  return Mix64(h ^ (shape + static_cast<uint64_t>(index) * 0xd6e8feb86659fd93ULL));
}

// Value hashes end with a full finaliser already.
uint64_t NodeTerm(uint64_t value0) { return value0 ^ 0x6e6f6465ULL; }

uint64_t OutputTerm(std::string_view name, uint64_t value) {
  return Mix64(HashCombine(HashBytes(name), value));
}

uint64_t CanonicalHashSums::hash() const { return HashCombine(nodes, outputs); }

std::vector<std::vector<uint64_t>> LayoutFreeValueHashes(const Graph& graph) {
  std::vector<std::vector<uint64_t>> hashes(static_cast<size_t>(graph.num_nodes()));
  std::vector<uint64_t> inputs;
  for (NodeId id : graph.TopologicalOrder()) {
    const Node& n = graph.node(id);
    inputs.clear();
    for (ValueId in : n.inputs) {
      inputs.push_back(hashes[static_cast<size_t>(in.node)][static_cast<size_t>(in.index)]);
    }
    const uint64_t content = NodeContentHash(n);
    std::vector<uint64_t>& out = hashes[static_cast<size_t>(id)];
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      out.push_back(ValueHashOf(content, inputs, static_cast<int>(k), ShapeHash(n.outputs[k])));
    }
  }
  return hashes;
}

CanonicalHashSums CanonicalSums(const Graph& graph) {
  const std::vector<std::vector<uint64_t>> values = LayoutFreeValueHashes(graph);
  const std::vector<bool> live = graph.LiveNodes();
  CanonicalHashSums sums;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    if (live[static_cast<size_t>(id)] || graph.node(id).op == OpKind::kInput) {
      sums.nodes += NodeTerm(values[static_cast<size_t>(id)][0]);
    }
  }
  for (const GraphOutput& o : graph.outputs()) {
    sums.outputs += OutputTerm(
        o.name, values[static_cast<size_t>(o.value.node)][static_cast<size_t>(o.value.index)]);
  }
  return sums;
}

uint64_t CanonicalHash(const Graph& graph) { return CanonicalSums(graph).hash(); }

}  // namespace lemma
