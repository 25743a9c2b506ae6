#include "ir/hash.h"

#include <algorithm>
#include <cstring>

#include "ir/graph.h"

namespace lemma {

uint64_t HashBytes(std::string_view bytes) {
  uint64_t h = Mix64(bytes.size());
  size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t chunk;
    std::memcpy(&chunk, bytes.data() + i, 8);
    h = HashCombine(h, chunk);
  }
  uint64_t tail = 0;
  for (size_t j = 0; i + j < bytes.size(); ++j) {
    tail |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i + j])) << (8 * j);
  }
  return HashCombine(h, tail);
}

uint64_t HashTensorType(const TensorType& type) {
  uint64_t h = HashCombine(static_cast<uint64_t>(type.dtype), static_cast<uint64_t>(type.layout));
  h = HashCombine(h, type.dims.size());
  for (int64_t d : type.dims) h = HashCombine(h, static_cast<uint64_t>(d));
  return h;
}

uint64_t HashAttributes(const Attributes& attrs) {
  uint64_t h = Mix64(static_cast<uint64_t>(attrs.op()));
  for (const std::optional<AttrValue>& v : attrs.values()) {
    if (!v) {
      h = HashCombine(h, 0xdeadULL);
      continue;
    }
    h = HashCombine(h, v->index());
    if (const int64_t* i = std::get_if<int64_t>(&*v)) {
      h = HashCombine(h, static_cast<uint64_t>(*i));
    } else if (const double* d = std::get_if<double>(&*v)) {
      uint64_t bits;
      std::memcpy(&bits, d, sizeof bits);
      h = HashCombine(h, bits);
    } else {
      const auto& list = std::get<std::vector<int64_t>>(*v);
      h = HashCombine(h, list.size());
      for (int64_t x : list) h = HashCombine(h, static_cast<uint64_t>(x));
    }
  }
  return h;
}

std::vector<std::vector<uint64_t>> ValueHashes(const Graph& graph) {
  std::vector<std::vector<uint64_t>> hashes(static_cast<size_t>(graph.num_nodes()));
  for (NodeId id : graph.TopologicalOrder()) {
    const Node& n = graph.node(id);
    uint64_t h = HashAttributes(n.attrs);
    if (GetOpInfo(n.op).Has(kTraitSource)) h = HashCombine(h, HashBytes(n.names[0]));
    for (ValueId in : n.inputs) {
      h = HashCombine(h, hashes[static_cast<size_t>(in.node)][static_cast<size_t>(in.index)]);
    }
    std::vector<uint64_t>& out = hashes[static_cast<size_t>(id)];
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      out.push_back(HashCombine(HashCombine(h, i), HashTensorType(n.outputs[i])));
    }
  }
  return hashes;
}

uint64_t StructuralHash(const Graph& graph) {
  const std::vector<std::vector<uint64_t>> values = ValueHashes(graph);
  const std::vector<bool> live = graph.LiveNodes();
  // The multiset of live node hashes counts repeated computations; sorting
  // makes it independent of numbering.
  std::vector<uint64_t> nodes;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    const Node& n = graph.node(id);
    if (live[static_cast<size_t>(id)] || n.op == OpKind::kInput) {
      nodes.push_back(values[static_cast<size_t>(id)][0]);
    }
  }
  std::sort(nodes.begin(), nodes.end());
  std::vector<uint64_t> outputs;
  for (const GraphOutput& o : graph.outputs()) {
    outputs.push_back(HashCombine(
        HashBytes(o.name), values[static_cast<size_t>(o.value.node)][static_cast<size_t>(o.value.index)]));
  }
  std::sort(outputs.begin(), outputs.end());
  uint64_t h = Mix64(nodes.size());
  for (uint64_t x : nodes) h = HashCombine(h, x);
  h = HashCombine(h, outputs.size());
  for (uint64_t x : outputs) h = HashCombine(h, x);
  return h;
}

}  // namespace lemma
