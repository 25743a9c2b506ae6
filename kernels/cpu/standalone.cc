#include "kernels/cpu/standalone.h"

#include "ir/strings.h"
#include "kernels/cpu/target.h"
#include "kernels/random.h"

namespace lemma::cpu {

bool IsConstantValue(const Graph& graph, ValueId value) {
  std::vector<NodeId> stack = {value.node};
  std::vector<bool> seen(static_cast<size_t>(graph.num_nodes()), false);
  while (!stack.empty()) {
    const NodeId id = stack.back();
    stack.pop_back();
    if (seen[static_cast<size_t>(id)]) continue;
    seen[static_cast<size_t>(id)] = true;
    const Node& n = graph.node(id);
    if (n.op == OpKind::kInput) return false;
    for (ValueId in : n.inputs) stack.push_back(in.node);
  }
  return true;
}

absl::StatusOr<std::unique_ptr<StandaloneGroup>> StandaloneGroup::Make(const Graph& graph,
                                                                       Group group) {
  std::unique_ptr<StandaloneGroup> s(new StandaloneGroup(graph, std::move(group)));
  std::vector<NodeId> nodes = {s->group_.root};
  nodes.insert(nodes.end(), s->group_.chain.begin(), s->group_.chain.end());
  uint64_t seed = 1;
  for (NodeId id : nodes) {
    for (const TensorType& t : graph.node(id).outputs) {
      if (t.dtype != DType::kF32) {
        return absl::InvalidArgumentError(StrCat(graph.Describe(id), ": not f32"));
      }
    }
    for (ValueId in : graph.node(id).inputs) {
      if (std::find(nodes.begin(), nodes.end(), in.node) != nodes.end()) continue;
      if (!IsConstantValue(graph, in) || s->constants_.count({in.node, in.index})) continue;
      const TensorType& t = graph.type(in);
      if (t.dtype != DType::kF32) {
        return absl::InvalidArgumentError(StrCat(graph.ValueLabel(in), ": not f32"));
      }
      s->constants_[{in.node, in.index}] = RandomTensor<F32>(t, seed++, WeightScale(t));
    }
  }
  return s;
}

ValueAccess StandaloneGroup::Access(ValueId value) const {
  const TensorType& t = graph_.type(value);
  ValueAccess a;
  a.dims = t.dims;
  a.strides = PhysicalStrides(t);
  a.elements = t.num_elements();
  if (auto it = constants_.find({value.node, value.index}); it != constants_.end()) {
    a.constant = it->second.data.data();
  }
  return a;
}

int StandaloneGroup::vector_width() const { return HostTarget().vector_width; }

}  // namespace lemma::cpu
