#ifndef LEMMA_OPTIMIZER_REGION_H_
#define LEMMA_OPTIMIZER_REGION_H_

// Regions of a graph, for showing a part of it: a node with its neighbours,
// or the nodes a rewrite replaces, before and after. A region is a graph of
// its own: the chosen nodes, fed by what they read from outside (graph inputs
// and weights stay inputs and weights, constants are copied, values computed
// outside become inputs), with an output for each of their values used
// outside the region or by a graph output.
//
// Naming: a region keeps the names of the values it copies; a value that has
// no name gets the label PrintGraph gives it in the whole graph, without the
// '%' ("%3" becomes "v3"), so that the region reads like the graph it came
// from.

#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "optimizer/match.h"
#include "rules/rule.h"

namespace lemma {

/// A part of a graph as a graph of its own.
struct Region {
  Graph graph;
  /// Each value of the whole graph that the region holds (its nodes' outputs
  /// and the values they read) -> the corresponding value of `graph`.
  absl::flat_hash_map<ValueId, ValueId> values;
};

/// The region of `graph` made of `nodes` (any order; repeats and -1 are
/// ignored). Fails when a node id is out of range.
absl::StatusOr<Region> ExtractRegion(const Graph& graph, std::span<const NodeId> nodes);

/// `node` with the ops that compute its inputs and the ops that use its
/// outputs (sources are not listed: a region reads them anyway), ascending.
std::vector<NodeId> Neighbourhood(const Graph& graph, NodeId node);

/// The node whose output has PrintGraph's label `label` (a value name, or
/// "%K"), or whose output is the graph output `label`; -1 when none.
NodeId FindNodeByLabel(const Graph& graph, std::string_view label);

/// How users see each node named: the PrintGraph label of its first output.
std::vector<std::string> NodeLabels(const Graph& graph);

/// The labels (NodeLabels) of the ops `match` covers, in the rule's pattern
/// order.
std::vector<std::string> MatchNodeLabels(const Graph& graph, std::span<const std::string> labels,
                                         const Match& match);

/// A rewrite's region before and after it is applied.
struct RewriteRegion {
  Graph before;
  Graph after;
};

/// The nodes `match` of `rule` covers, as a region, and that region with the
/// rewrite applied (ApplyMatch; `layouts` as it takes them). Fails as
/// ApplyMatch does.
absl::StatusOr<RewriteRegion> MatchRegion(const Graph& graph, const Rule& rule, const Match& match,
                                          std::span<const Layout> layouts = {});

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_REGION_H_
