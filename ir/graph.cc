#include "ir/graph.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "ir/hash.h"
#include "ir/strings.h"

namespace lemma {
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '/';
}

bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), IsNameChar);
}

Graph::Graph(std::string name) : name_(std::move(name)) {}

absl::Status Graph::CheckNewName(std::string_view name) const {
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(StrCat(
        "'", name, "' is not a valid name (a letter or '_', then letters, digits, '_.-/')"));
  }
  if (value_names_.contains(ToAbsl(name))) {
    return absl::AlreadyExistsError(StrCat("the name '", name, "' is already taken"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ValueId> Graph::AddSource(OpKind op, std::string name, TensorType type) {
  if (absl::Status s = CheckNewName(name); !s.ok()) return s;
  if (absl::StatusOr<int64_t> n = CheckedNumElements(type.dims); !n.ok()) {
    return absl::InvalidArgumentError(StrCat(OpName(op), " '", name, "': ", n.status().message()));
  }
  if (!LayoutFitsRank(type.layout, type.rank())) {
    return absl::InvalidArgumentError(StrCat(OpName(op), " '", name, "': layout ",
                                                   LayoutName(type.layout),
                                                   " does not fit rank ", type.rank()));
  }
  const NodeId id = num_nodes();
  nodes_.push_back(Node{op, Attributes(op), {}, {std::move(type)}, {name}});
  const ValueId v{id, 0};
  value_names_.emplace(std::move(name), v);
  return v;
}

absl::StatusOr<ValueId> Graph::AddInput(std::string name, TensorType type) {
  return AddSource(OpKind::kInput, std::move(name), std::move(type));
}

absl::StatusOr<ValueId> Graph::AddWeight(std::string name, TensorType type) {
  return AddSource(OpKind::kWeight, std::move(name), std::move(type));
}

absl::StatusOr<NodeId> Graph::AddNode(OpKind op, Attributes attrs, std::vector<ValueId> inputs,
                                      std::vector<std::string> names) {
  const OpInfo& info = GetOpInfo(op);
  if (info.Has(kTraitSource)) {
    return absl::InvalidArgumentError(
        StrCat(info.name, ": use AddInput or AddWeight for sources"));
  }
  std::vector<TensorType> in_types;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueId v = inputs[i];
    if (!IsValue(v)) {
      return absl::InvalidArgumentError(
          StrCat(info.name, ": input ", i, " refers to no value"));
    }
    in_types.push_back(type(v));
  }
  absl::StatusOr<std::vector<TensorType>> out = InferOutputTypes(op, in_types, attrs);
  if (!out.ok()) return out.status();
  if (names.empty()) names.resize(out->size());
  if (names.size() != out->size()) {
    return absl::InvalidArgumentError(StrCat(info.name, ": ", names.size(),
                                                   " names given for ", out->size(),
                                                   " outputs"));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    if (absl::Status s = CheckNewName(names[i]); !s.ok()) {
      return absl::InvalidArgumentError(StrCat(info.name, ": ", s.message()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) {
        return absl::InvalidArgumentError(
            StrCat(info.name, ": the name '", names[i], "' is given twice"));
      }
    }
  }
  const NodeId id = num_nodes();
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].empty()) value_names_.emplace(names[i], ValueId{id, static_cast<int32_t>(i)});
  }
  nodes_.push_back(
      Node{op, std::move(attrs), std::move(inputs), std::move(*out), std::move(names)});
  return id;
}

absl::Status Graph::RemoveLastNode() {
  if (nodes_.empty()) return absl::FailedPreconditionError("RemoveLastNode: the graph is empty");
  const NodeId id = num_nodes() - 1;
  const Node& last = nodes_.back();
  if (GetOpInfo(last.op).Has(kTraitSource)) {
    return absl::FailedPreconditionError(
        StrCat("RemoveLastNode: ", Describe(id), " is a graph input or weight"));
  }
  for (const GraphOutput& o : outputs_) {
    if (o.value.node == id) {
      return absl::FailedPreconditionError(
          StrCat("RemoveLastNode: ", Describe(id), " is graph output '", o.name, "'"));
    }
  }
  for (const std::string& name : last.names) {
    if (!name.empty()) value_names_.erase(name);
  }
  nodes_.pop_back();
  return absl::OkStatus();
}

absl::Status Graph::AddOutput(std::string name, ValueId value) {
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(StrCat("'", name, "' is not a valid output name"));
  }
  if (FindOutput(name)) {
    return absl::AlreadyExistsError(StrCat("the output '", name, "' already exists"));
  }
  if (!IsValue(value)) {
    return absl::InvalidArgumentError(StrCat("output '", name, "' refers to no value"));
  }
  outputs_.push_back({std::move(name), value});
  return absl::OkStatus();
}

bool Graph::IsValue(ValueId v) const {
  return v.node >= 0 && v.node < num_nodes() && v.index >= 0 &&
         v.index < static_cast<int>(node(v.node).outputs.size());
}

absl::Status Graph::SetName(ValueId value, std::string name) {
  if (!IsValue(value)) return absl::InvalidArgumentError("SetName: no such value");
  std::string& slot = nodes_[static_cast<size_t>(value.node)].names[static_cast<size_t>(value.index)];
  if (slot == name) return absl::OkStatus();
  if (!name.empty()) {
    if (absl::Status s = CheckNewName(name); !s.ok()) return s;
  }
  if (!slot.empty()) value_names_.erase(slot);
  slot = name;
  if (!name.empty()) value_names_.emplace(std::move(name), value);
  return absl::OkStatus();
}

absl::Status Graph::SetLayout(ValueId value, Layout layout) {
  if (!IsValue(value)) return absl::InvalidArgumentError("SetLayout: no such value");
  TensorType& t = nodes_[static_cast<size_t>(value.node)].outputs[static_cast<size_t>(value.index)];
  if (!LayoutFitsRank(layout, t.rank())) {
    return absl::InvalidArgumentError(StrCat("layout ", LayoutName(layout),
                                                   " does not fit ", t.ToString(), " of ",
                                                   ValueLabel(value)));
  }
  t.layout = layout;
  return absl::OkStatus();
}

absl::Status Graph::ReplaceAllUsesWith(ValueId from, ValueId to) {
  if (!IsValue(from) || !IsValue(to)) {
    return absl::InvalidArgumentError("ReplaceAllUsesWith: no such value");
  }
  const TensorType& a = type(from);
  const TensorType& b = type(to);
  if (a.dtype != b.dtype || a.dims != b.dims) {
    return absl::InvalidArgumentError(StrCat("cannot replace ", ValueLabel(from), " (",
                                                   a.ToString(), ") with ", ValueLabel(to),
                                                   " (", b.ToString(), ")"));
  }
  // `to` must not depend on `from`: walk to's ancestors.
  std::vector<bool> seen(nodes_.size(), false);
  std::vector<NodeId> stack = {to.node};
  while (!stack.empty()) {
    const NodeId n = stack.back();
    stack.pop_back();
    if (seen[static_cast<size_t>(n)]) continue;
    seen[static_cast<size_t>(n)] = true;
    for (ValueId in : node(n).inputs) {
      if (in == from) {
        return absl::InvalidArgumentError(StrCat("cannot replace ", ValueLabel(from),
                                                       " with ", ValueLabel(to),
                                                       ", which depends on it"));
      }
      stack.push_back(in.node);
    }
  }
  if (from == to) return absl::OkStatus();
  for (Node& n : nodes_) {
    for (ValueId& in : n.inputs) {
      if (in == from) in = to;
    }
  }
  for (GraphOutput& o : outputs_) {
    if (o.value == from) o.value = to;
  }
  return absl::OkStatus();
}

std::vector<NodeId> Graph::TopologicalOrder() const {
  const size_t n = nodes_.size();
  std::vector<int> pending(n, 0);
  const std::vector<std::vector<NodeId>> users = Users();
  for (size_t i = 0; i < n; ++i) pending[i] = static_cast<int>(nodes_[i].inputs.size());
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) ready.push(static_cast<NodeId>(i));
  }
  std::vector<NodeId> order;
  order.reserve(n);
  while (!ready.empty()) {
    const NodeId id = ready.top();
    ready.pop();
    order.push_back(id);
    for (NodeId u : users[static_cast<size_t>(id)]) {
      if (--pending[static_cast<size_t>(u)] == 0) ready.push(u);
    }
  }
  return order;  // shorter than num_nodes() only if there is a cycle
}

std::vector<bool> Graph::LiveNodes() const {
  std::vector<bool> live(nodes_.size(), false);
  std::vector<NodeId> stack;
  for (const GraphOutput& o : outputs_) stack.push_back(o.value.node);
  while (!stack.empty()) {
    const NodeId id = stack.back();
    stack.pop_back();
    if (live[static_cast<size_t>(id)]) continue;
    live[static_cast<size_t>(id)] = true;
    for (ValueId in : node(id).inputs) stack.push_back(in.node);
  }
  return live;
}

int Graph::MergeDuplicates() {
  // Outputs of repeats -> the value they repeat, per node.
  std::vector<std::vector<ValueId>> same(nodes_.size());
  absl::flat_hash_map<uint64_t, std::vector<NodeId>> seen;
  int merged = 0;
  for (NodeId id : TopologicalOrder()) {
    Node& n = nodes_[static_cast<size_t>(id)];
    for (ValueId& in : n.inputs) {
      const std::vector<ValueId>& to = same[static_cast<size_t>(in.node)];
      if (!to.empty()) in = to[static_cast<size_t>(in.index)];
    }
    if (GetOpInfo(n.op).Has(kTraitSource)) continue;
    uint64_t key = HashCombine(static_cast<uint64_t>(n.op), HashAttributes(n.attrs));
    for (ValueId in : n.inputs) key = HashCombine(HashCombine(key, in.node), in.index);
    for (const TensorType& t : n.outputs) key = HashCombine(key, HashTensorType(t));
    std::vector<NodeId>& bucket = seen[key];
    NodeId twin = -1;
    for (NodeId other : bucket) {
      const Node& o = nodes_[static_cast<size_t>(other)];
      if (o.op == n.op && o.attrs == n.attrs && o.inputs == n.inputs && o.outputs == n.outputs) {
        twin = other;
        break;
      }
    }
    if (twin < 0) {
      bucket.push_back(id);
      continue;
    }
    std::vector<ValueId>& to = same[static_cast<size_t>(id)];
    for (size_t j = 0; j < n.outputs.size(); ++j) to.push_back({twin, static_cast<int32_t>(j)});
    ++merged;
  }
  for (GraphOutput& o : outputs_) {
    const std::vector<ValueId>& to = same[static_cast<size_t>(o.value.node)];
    if (!to.empty()) o.value = to[static_cast<size_t>(o.value.index)];
  }
  return merged;
}

int Graph::RemoveDeadCode() {
  const size_t n = nodes_.size();
  std::vector<bool> live = LiveNodes();
  for (size_t i = 0; i < n; ++i) {
    if (nodes_[i].op == OpKind::kInput) live[i] = true;
  }
  std::vector<NodeId> remap(n, -1);
  std::vector<Node> kept;
  for (NodeId id : TopologicalOrder()) {
    if (!live[static_cast<size_t>(id)]) continue;
    remap[static_cast<size_t>(id)] = static_cast<NodeId>(kept.size());
    kept.push_back(std::move(nodes_[static_cast<size_t>(id)]));
  }
  const int removed = static_cast<int>(n - kept.size());
  for (Node& node : kept) {
    for (ValueId& in : node.inputs) in.node = remap[static_cast<size_t>(in.node)];
  }
  for (GraphOutput& o : outputs_) o.value.node = remap[static_cast<size_t>(o.value.node)];
  nodes_ = std::move(kept);
  value_names_.clear();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (size_t j = 0; j < nodes_[i].names.size(); ++j) {
      if (!nodes_[i].names[j].empty()) {
        value_names_.emplace(nodes_[i].names[j],
                             ValueId{static_cast<NodeId>(i), static_cast<int32_t>(j)});
      }
    }
  }
  return removed;
}

std::vector<NodeId> Graph::InputNodes() const {
  std::vector<NodeId> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].op == OpKind::kInput) out.push_back(static_cast<NodeId>(i));
  }
  return out;
}

std::vector<NodeId> Graph::WeightNodes() const {
  std::vector<NodeId> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].op == OpKind::kWeight) out.push_back(static_cast<NodeId>(i));
  }
  return out;
}

std::optional<ValueId> Graph::FindValue(std::string_view name) const {
  auto it = value_names_.find(ToAbsl(name));
  if (it == value_names_.end()) return std::nullopt;
  return it->second;
}

std::optional<ValueId> Graph::FindOutput(std::string_view name) const {
  for (const GraphOutput& o : outputs_) {
    if (o.name == name) return o.value;
  }
  return std::nullopt;
}

std::string Graph::ValueLabel(ValueId v) const {
  const std::string& name = node(v.node).names[static_cast<size_t>(v.index)];
  if (!name.empty()) return name;
  return StrCat("%", v.node, ":", v.index);
}

std::string Graph::Describe(NodeId id) const {
  const Node& n = node(id);
  for (const std::string& name : n.names) {
    if (!name.empty()) return StrCat("node ", id, " (", OpName(n.op), ", '", name, "')");
  }
  return StrCat("node ", id, " (", OpName(n.op), ")");
}

std::vector<std::vector<NodeId>> Graph::Users() const {
  std::vector<std::vector<NodeId>> users(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (ValueId in : nodes_[i].inputs) {
      users[static_cast<size_t>(in.node)].push_back(static_cast<NodeId>(i));
    }
  }
  return users;
}

absl::Status Graph::Validate() const {
  absl::flat_hash_map<absl::string_view, ValueId> names;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    const NodeId id = static_cast<NodeId>(i);
    auto fail = [&](const auto& reason) {
      return absl::InvalidArgumentError(StrCat(Describe(id), ": ", reason));
    };
    if (n.attrs.op() != n.op) return fail("attributes belong to another op");
    if (n.names.size() != n.outputs.size()) return fail("names and outputs differ in number");
    for (size_t j = 0; j < n.names.size(); ++j) {
      if (n.names[j].empty()) continue;
      if (!IsValidName(n.names[j])) return fail(StrCat("invalid name '", n.names[j], "'"));
      if (!names.emplace(n.names[j], ValueId{id, static_cast<int32_t>(j)}).second) {
        return fail(StrCat("the name '", n.names[j], "' is used twice"));
      }
    }
    for (const TensorType& t : n.outputs) {
      if (!LayoutFitsRank(t.layout, t.rank())) {
        return fail(StrCat("layout of ", t.ToString(), " does not fit its rank"));
      }
    }
    if (GetOpInfo(n.op).Has(kTraitSource)) {
      if (!n.inputs.empty() || n.outputs.size() != 1 || n.names[0].empty()) {
        return fail("a source has no inputs, one output and a name");
      }
      continue;
    }
    std::vector<TensorType> in_types;
    for (ValueId v : n.inputs) {
      if (!IsValue(v)) {
        return fail("an input refers to no value");
      }
      in_types.push_back(type(v));
    }
    absl::StatusOr<std::vector<TensorType>> out = InferOutputTypes(n.op, in_types, n.attrs);
    if (!out.ok()) return fail(out.status().message());
    if (out->size() != n.outputs.size()) return fail("wrong number of outputs");
    for (size_t j = 0; j < out->size(); ++j) {
      if ((*out)[j].dtype != n.outputs[j].dtype || (*out)[j].dims != n.outputs[j].dims) {
        return fail(StrCat("output ", j, " is typed ", n.outputs[j].ToString(),
                                 " but infers as ", (*out)[j].ToString()));
      }
    }
  }
  if (TopologicalOrder().size() != nodes_.size()) {
    return absl::InvalidArgumentError("the graph has a cycle");
  }
  for (const GraphOutput& o : outputs_) {
    if (!IsValue(o.value)) {
      return absl::InvalidArgumentError(StrCat("output '", o.name, "' refers to no value"));
    }
  }
  return absl::OkStatus();
}

bool operator==(const Graph& a, const Graph& b) {
  if (a.name_ != b.name_ || a.outputs_ != b.outputs_ || a.nodes_.size() != b.nodes_.size()) {
    return false;
  }
  for (size_t i = 0; i < a.nodes_.size(); ++i) {
    const Node& x = a.nodes_[i];
    const Node& y = b.nodes_[i];
    if (x.op != y.op || !(x.attrs == y.attrs) || x.inputs != y.inputs || x.outputs != y.outputs ||
        x.names != y.names) {
      return false;
    }
  }
  return true;
}

}  // namespace lemma
