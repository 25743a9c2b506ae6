#include "optimizer/layout.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "optimizer/graph_cost.h"

namespace lemma {
namespace {

constexpr int kMaxSweeps = 4;
// A change must save more than this many seconds: float noise never counts.
constexpr double kMinSaving = 1e-13;

class UnionFind {
 public:
  explicit UnionFind(size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0); }
  size_t Find(size_t x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void Union(size_t a, size_t b) {
    a = Find(a);
    b = Find(b);
    if (a != b) parent_[std::max(a, b)] = std::min(a, b);
  }

 private:
  std::vector<size_t> parent_;
};

}  // namespace

int OptimizeLayouts(Graph& graph, CostModel& model, std::span<const uint8_t> precomputed_seeds) {
  const size_t n = static_cast<size_t>(graph.num_nodes());
  const Flags pre = PrecomputedNodes(graph, precomputed_seeds);
  const std::vector<bool> live = graph.LiveNodes();
  // Values, flattened.
  std::vector<size_t> first(n + 1, 0);
  for (size_t i = 0; i < n; ++i) first[i + 1] = first[i] + graph.node(static_cast<NodeId>(i)).outputs.size();
  const size_t num_values = first[n];
  auto flat = [&](ValueId v) { return first[static_cast<size_t>(v.node)] + static_cast<size_t>(v.index); };
  std::vector<ValueId> value_of(num_values);
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < graph.node(static_cast<NodeId>(i)).outputs.size(); ++k) {
      value_of[first[i] + k] = ValueId{static_cast<NodeId>(i), static_cast<int32_t>(k)};
    }
  }
  std::vector<uint8_t> is_free(num_values, 0);
  for (size_t v = 0; v < num_values; ++v) {
    const ValueId id = value_of[v];
    const Node& node = graph.node(id.node);
    is_free[v] = live[static_cast<size_t>(id.node)] && !GetOpInfo(node.op).Has(kTraitSource) &&
                 !pre[static_cast<size_t>(id.node)] &&
                 AllowedLayouts(graph.type(id).rank()).size() > 1;
  }
  for (const GraphOutput& o : graph.outputs()) is_free[flat(o.value)] = 0;

  // Groups joined by layout-preserving ops.
  UnionFind groups(num_values);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = graph.node(static_cast<NodeId>(i));
    if (!live[i] || pre[i] || !IsLayoutPreserving(node.op)) continue;
    const size_t out0 = first[i];
    if (!is_free[out0]) continue;
    for (size_t k = 1; k < node.outputs.size(); ++k) {
      if (is_free[out0 + k]) groups.Union(out0, out0 + k);
    }
    for (ValueId in : node.inputs) {
      if (is_free[flat(in)] && graph.type(in).rank() == node.outputs[0].rank()) {
        groups.Union(flat(in), out0);
      }
    }
  }
  std::vector<std::vector<size_t>> members(num_values);
  for (size_t v = 0; v < num_values; ++v) {
    if (is_free[v]) members[groups.Find(v)].push_back(v);
  }

  // Nodes whose cost depends on each group's layout: producers and consumers.
  std::vector<std::vector<NodeId>> consumers(num_values);
  for (size_t i = 0; i < n; ++i) {
    if (!live[i]) continue;
    for (ValueId in : graph.node(static_cast<NodeId>(i)).inputs) {
      std::vector<NodeId>& c = consumers[flat(in)];
      if (c.empty() || c.back() != static_cast<NodeId>(i)) c.push_back(static_cast<NodeId>(i));
    }
  }
  std::vector<double> cost(n, 0.0);
  auto cost_all = [&] {
    for (size_t i = 0; i < n; ++i) {
      cost[i] = live[i] ? NodeCostInGraph(graph, static_cast<NodeId>(i), pre, model) : 0.0;
    }
  };
  auto total = [&] {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += pre[i] ? 0.0 : cost[i];
    return sum;
  };
  // The free values' layouts, to start from or keep.
  auto snapshot = [&] {
    std::vector<Layout> layouts(num_values, Layout::kRowMajor);
    for (size_t v = 0; v < num_values; ++v) {
      if (is_free[v]) layouts[v] = graph.type(value_of[v]).layout;
    }
    return layouts;
  };
  auto restore = [&](const std::vector<Layout>& layouts) {
    for (size_t v = 0; v < num_values; ++v) {
      if (is_free[v]) (void)graph.SetLayout(value_of[v], layouts[v]);
    }
  };

  std::vector<NodeId> touched;
  std::vector<double> trial;
  // Each group in turn takes the other layout where that lowers the cost of
  // the nodes around it, until no group can.
  auto descend = [&] {
    for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
      bool improved = false;
      for (size_t root = 0; root < num_values; ++root) {
        const std::vector<size_t>& group = members[root];
        if (group.empty()) continue;
        touched.clear();
        for (size_t v : group) {
          touched.push_back(value_of[v].node);
          touched.insert(touched.end(), consumers[v].begin(), consumers[v].end());
        }
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        const Layout current = graph.type(value_of[group[0]]).layout;
        for (Layout candidate : AllowedLayouts(graph.type(value_of[group[0]]).rank())) {
          if (candidate == current) continue;
          for (size_t v : group) (void)graph.SetLayout(value_of[v], candidate);
          double delta = 0;
          trial.clear();
          for (NodeId t : touched) {
            trial.push_back(pre[static_cast<size_t>(t)] ? 0.0 : NodeCostInGraph(graph, t, pre, model));
            delta += trial.back() - cost[static_cast<size_t>(t)];
          }
          if (delta < -kMinSaving) {
            for (size_t j = 0; j < touched.size(); ++j) cost[static_cast<size_t>(touched[j])] = trial[j];
            improved = true;
            break;
          }
          for (size_t v : group) (void)graph.SetLayout(value_of[v], current);
        }
      }
      if (!improved) break;
    }
  };

  // A single group rarely pays for the reorders at its edges, so the descent
  // also starts from every 4-d value channels-last and from every one NCHW;
  // the cheapest end wins (the first on a tie).
  const std::vector<Layout> original = snapshot();
  cost_all();
  descend();
  std::vector<Layout> best = snapshot();
  double best_total = total();
  for (Layout uniform : {Layout::kNHWC, Layout::kNCHW}) {
    std::vector<Layout> start = original;
    bool differs = false;
    for (size_t v = 0; v < num_values; ++v) {
      if (is_free[v] && graph.type(value_of[v]).rank() == 4) {
        differs = differs || start[v] != uniform;
        start[v] = uniform;
      }
    }
    if (!differs) continue;
    restore(start);
    cost_all();
    descend();
    const double t = total();
    if (t < best_total - kMinSaving) {
      best = snapshot();
      best_total = t;
    }
  }
  restore(best);
  int changed = 0;
  for (size_t v = 0; v < num_values; ++v) changed += is_free[v] && best[v] != original[v] ? 1 : 0;

  // Precomputed values read by computed nodes: the layout the first one prefers.
  for (size_t v = 0; v < num_values; ++v) {
    const ValueId id = value_of[v];
    if (!live[static_cast<size_t>(id.node)] || !pre[static_cast<size_t>(id.node)]) continue;
    bool is_output = false;
    for (const GraphOutput& o : graph.outputs()) is_output = is_output || o.value == id;
    if (is_output) continue;
    for (NodeId c : consumers[v]) {
      if (pre[static_cast<size_t>(c)]) continue;
      const Node& node = graph.node(c);
      std::vector<const TensorType*> types;
      Flags flags;
      for (ValueId in : node.inputs) {
        types.push_back(&graph.type(in));
        flags.push_back(pre[static_cast<size_t>(in.node)]);
      }
      const OpCostKey key = NodeCostKey(node, types, flags, model);
      const size_t slot = static_cast<size_t>(
          std::find(node.inputs.begin(), node.inputs.end(), id) - node.inputs.begin());
      const Layout want = key.inputs[slot].layout;
      if (want != graph.type(id).layout && graph.SetLayout(id, want).ok()) ++changed;
      break;
    }
  }
  return changed;
}

}  // namespace lemma
