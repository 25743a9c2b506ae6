#include "optimizer/region.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "optimizer/rewrite.h"

namespace lemma {
namespace {

// Builds a region node by node, naming values as the header says.
class RegionBuilder {
 public:
  explicit RegionBuilder(const Graph& graph)
      : graph_(graph), labels_(PrintedValueLabels(graph)) {
    region_.graph = Graph(graph.name());
  }

  // The region value standing for `v`, made a region input, weight or
  // constant when `v` is computed outside the region.
  absl::StatusOr<ValueId> Boundary(ValueId v) {
    if (auto it = region_.values.find(v); it != region_.values.end()) return it->second;
    const Node& p = graph_.node(v.node);
    if (p.op == OpKind::kWeight) return CopySource(v.node);
    if (p.op != OpKind::kInput && p.inputs.empty()) {  // a constant: copied
      if (absl::StatusOr<NodeId> c = CopyNode(v.node, {}); !c.ok()) return c.status();
      return region_.values.at(v);
    }
    return Copy(v);
  }

  // Copies source or op `id` (its inputs already in the region).
  absl::Status Add(NodeId id) {
    const Node& n = graph_.node(id);
    if (GetOpInfo(n.op).Has(kTraitSource)) return CopySource(id).status();
    std::vector<ValueId> inputs;
    for (ValueId in : n.inputs) {
      absl::StatusOr<ValueId> v = Boundary(in);
      if (!v.ok()) return v.status();
      inputs.push_back(*v);
    }
    return CopyNode(id, std::move(inputs)).status();
  }

  absl::Status AddOutput(std::string name, ValueId v) {
    while (std::any_of(region_.graph.outputs().begin(), region_.graph.outputs().end(),
                       [&](const GraphOutput& o) { return o.name == name; })) {
      name += "_";
    }
    return region_.graph.AddOutput(std::move(name), region_.values.at(v));
  }

  std::string Name(ValueId v) {
    const std::string& name = graph_.node(v.node).names[static_cast<size_t>(v.index)];
    if (!name.empty()) return name;
    std::string fresh = labels_[static_cast<size_t>(v.node)][static_cast<size_t>(v.index)];
    if (!fresh.empty() && fresh[0] == '%') fresh = StrCat("v", fresh.substr(1));
    while (graph_.FindValue(fresh).has_value() || taken_.contains(fresh)) fresh += "_";
    taken_.insert(fresh);
    return fresh;
  }

  Region Finish() && { return std::move(region_); }

 private:
  // `v` as a region input of the same name and type.
  absl::StatusOr<ValueId> Copy(ValueId v) {
    absl::StatusOr<ValueId> in = region_.graph.AddInput(Name(v), graph_.type(v));
    if (in.ok()) region_.values[v] = *in;
    return in;
  }

  absl::StatusOr<ValueId> CopySource(NodeId id) {
    const ValueId v{id, 0};
    if (auto it = region_.values.find(v); it != region_.values.end()) return it->second;
    const Node& n = graph_.node(id);
    absl::StatusOr<ValueId> out = n.op == OpKind::kWeight
                                      ? region_.graph.AddWeight(Name(v), n.outputs[0])
                                      : region_.graph.AddInput(Name(v), n.outputs[0]);
    if (out.ok()) region_.values[v] = *out;
    return out;
  }

  absl::StatusOr<NodeId> CopyNode(NodeId id, std::vector<ValueId> inputs) {
    const Node& n = graph_.node(id);
    std::vector<std::string> names;
    for (int k = 0; k < static_cast<int>(n.outputs.size()); ++k) names.push_back(Name({id, k}));
    absl::StatusOr<NodeId> copy = region_.graph.AddNode(n.op, n.attrs, std::move(inputs), names);
    if (!copy.ok()) return copy.status();
    for (int k = 0; k < static_cast<int>(n.outputs.size()); ++k) {
      const ValueId out{*copy, k};
      if (absl::Status s = region_.graph.SetLayout(out, n.outputs[static_cast<size_t>(k)].layout);
          !s.ok()) {
        return s;
      }
      region_.values[ValueId{id, k}] = out;
    }
    return copy;
  }

  const Graph& graph_;
  std::vector<std::vector<std::string>> labels_;
  absl::flat_hash_set<std::string> taken_;
  Region region_;
};

}  // namespace

absl::StatusOr<Region> ExtractRegion(const Graph& graph, std::span<const NodeId> nodes) {
  std::vector<uint8_t> inside(static_cast<size_t>(graph.num_nodes()), 0);
  for (NodeId id : nodes) {
    if (id < 0) continue;
    if (id >= graph.num_nodes()) {
      return absl::OutOfRangeError(StrCat("region: no node ", id, " in graph ", graph.name()));
    }
    inside[static_cast<size_t>(id)] = 1;
  }
  RegionBuilder builder(graph);
  const std::vector<NodeId> order = graph.TopologicalOrder();
  for (NodeId id : order) {
    if (!inside[static_cast<size_t>(id)]) continue;
    if (absl::Status s = builder.Add(id); !s.ok()) {
      return absl::InternalError(StrCat("region of graph ", graph.name(), ": ", s.message()));
    }
  }
  // Outputs: the graph outputs inside, then the values used outside.
  absl::flat_hash_set<ValueId> out;
  for (const GraphOutput& o : graph.outputs()) {
    if (!inside[static_cast<size_t>(o.value.node)]) continue;
    if (absl::Status s = builder.AddOutput(o.name, o.value); !s.ok()) return s;
    out.insert(o.value);
  }
  absl::flat_hash_set<ValueId> used_outside;
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    if (inside[static_cast<size_t>(id)]) continue;
    for (ValueId in : graph.node(id).inputs) {
      if (inside[static_cast<size_t>(in.node)]) used_outside.insert(in);
    }
  }
  for (NodeId id : order) {
    if (!inside[static_cast<size_t>(id)]) continue;
    for (int k = 0; k < static_cast<int>(graph.node(id).outputs.size()); ++k) {
      const ValueId v{id, k};
      if (!used_outside.contains(v) || out.contains(v)) continue;
      if (absl::Status s = builder.AddOutput(builder.Name(v), v); !s.ok()) return s;
    }
  }
  return std::move(builder).Finish();
}

std::vector<NodeId> Neighbourhood(const Graph& graph, NodeId node) {
  std::vector<NodeId> out = {node};
  for (ValueId in : graph.node(node).inputs) {
    if (!GetOpInfo(graph.node(in.node).op).Has(kTraitSource)) out.push_back(in.node);
  }
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    for (ValueId in : graph.node(id).inputs) {
      if (in.node == node) out.push_back(id);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

NodeId FindNodeByLabel(const Graph& graph, std::string_view label) {
  const std::vector<std::vector<std::string>> labels = PrintedValueLabels(graph);
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    for (const std::string& l : labels[static_cast<size_t>(id)]) {
      if (l == label) return id;
    }
  }
  if (std::optional<ValueId> o = graph.FindOutput(label)) return o->node;
  return -1;
}

std::vector<std::string> NodeLabels(const Graph& graph) {
  std::vector<std::vector<std::string>> labels = PrintedValueLabels(graph);
  std::vector<std::string> out;
  out.reserve(labels.size());
  for (std::vector<std::string>& l : labels) out.push_back(l.empty() ? "" : std::move(l[0]));
  return out;
}

std::vector<std::string> MatchNodeLabels(const Graph& graph, std::span<const std::string> labels,
                                         const Match& match) {
  std::vector<std::string> out;
  for (NodeId id : match.nodes) {
    if (id < 0) continue;
    out.push_back(static_cast<size_t>(id) < labels.size() ? labels[static_cast<size_t>(id)]
                                                          : graph.Describe(id));
  }
  return out;
}

absl::StatusOr<RewriteRegion> MatchRegion(const Graph& graph, const Rule& rule, const Match& match,
                                          std::span<const Layout> layouts) {
  absl::StatusOr<Region> region = ExtractRegion(graph, match.nodes);
  if (!region.ok()) return region.status();
  Match local = match;
  for (NodeId& id : local.nodes) {
    if (id >= 0) id = region->values.at(ValueId{id, 0}).node;
  }
  for (ValueId& v : local.inputs) {
    auto it = region->values.find(v);
    if (it == region->values.end()) {
      return absl::InternalError(StrCat("rule ", rule.id, ": a pattern input lies outside the region"));
    }
    v = it->second;
  }
  absl::StatusOr<Graph> after = ApplyMatch(region->graph, rule, local, layouts);
  if (!after.ok()) return after.status();
  return RewriteRegion{std::move(region->graph), *std::move(after)};
}

}  // namespace lemma
