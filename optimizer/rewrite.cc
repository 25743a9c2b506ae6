#include "optimizer/rewrite.h"

#include "ir/strings.h"

namespace lemma {

DType MatchDType(const Graph& graph, const Rule& rule, const Match& match) {
  return graph.type(match.OutputValues(rule)[0]).dtype;
}

absl::StatusOr<Graph> ApplyMatch(const Graph& graph, const Rule& rule, const Match& match,
                                 std::span<const Layout> layouts) {
  auto error = [&](std::string_view reason) {
    return absl::FailedPreconditionError(StrCat("rule ", rule.id, ": ", reason));
  };
  Graph g = graph;
  const NodeId first_new = g.num_nodes();
  const std::vector<ValueId> sources = match.OutputValues(rule);
  absl::StatusOr<std::vector<ValueId>> outs = InstantiateInto(
      rule.target, match.bindings, MatchDType(graph, rule, match), match.inputs, g);
  if (!outs.ok()) return error(StrCat("target: ", outs.status().message()));
  for (size_t k = 0; k < sources.size(); ++k) {
    const TensorType& s = g.type(sources[k]);
    const TensorType& t = g.type((*outs)[k]);
    if (s.dtype != t.dtype || s.dims != t.dims) {
      return error(StrCat("output '", rule.source.outputs[k].name, "' is ", s.ToString(),
                          " in the graph but the target makes ", t.ToString()));
    }
  }
  if (!layouts.empty()) {
    size_t next = 0;
    for (NodeId id = first_new; id < g.num_nodes(); ++id) {
      for (int k = 0; k < static_cast<int>(g.node(id).outputs.size()); ++k) {
        if (next >= layouts.size()) return error("fewer layouts than new values");
        if (absl::Status s = g.SetLayout(ValueId{id, k}, layouts[next++]); !s.ok()) {
          return error(ToStd(s.message()));
        }
      }
    }
    if (next != layouts.size()) return error("more layouts than new values");
  } else {
    for (size_t k = 0; k < sources.size(); ++k) {
      const ValueId out = (*outs)[k];
      if (out.node < first_new) continue;
      const Layout want = g.type(sources[k]).layout;
      if (LayoutFitsRank(want, g.type(out).rank())) {
        if (absl::Status s = g.SetLayout(out, want); !s.ok()) return error(ToStd(s.message()));
      }
    }
  }
  for (size_t k = 0; k < sources.size(); ++k) {
    if (absl::Status s = g.ReplaceAllUsesWith(sources[k], (*outs)[k]); !s.ok()) {
      return error(ToStd(s.message()));
    }
  }
  // A new value takes over the name of the value it replaces.
  for (size_t k = 0; k < sources.size(); ++k) {
    const ValueId out = (*outs)[k];
    const std::string name = g.node(sources[k].node).names[static_cast<size_t>(sources[k].index)];
    if (name.empty() || out.node < first_new ||
        !g.node(out.node).names[static_cast<size_t>(out.index)].empty()) {
      continue;
    }
    if (g.SetName(sources[k], "").ok()) {
      if (absl::Status s = g.SetName(out, name); !s.ok()) return error(ToStd(s.message()));
    }
  }
  g.RemoveDeadCode();
  return g;
}

}  // namespace lemma
