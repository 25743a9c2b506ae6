#ifndef LEMMA_OPTIMIZER_MATCH_H_
#define LEMMA_OPTIMIZER_MATCH_H_

// Finding where a rule applies: every occurrence of its source pattern in a
// graph. A match maps each pattern op to a distinct graph node of the same op,
// arity and output count, wired the same way, and each pattern input to a
// value; the sizes and attributes must bind (BindPattern). Commutative ops
// (kTraitCommutative) also match with their two inputs swapped. A match is
// refused when
//  * a value computed inside it is used outside it (by a node or as a graph
//    output) without being one of the pattern's outputs: removing the matched
//    nodes would leave that use dangling;
//  * a pattern input is computed from the matched nodes (the match is not
//    convex): the rewrite would make a cycle.
// When a rule does not match where it was tried, MatchFailure says why.
//
// Search order: the pattern node producing the first source output is the
// root; the others are found through the values they share with nodes already
// matched (a consumer's input, or a user of a bound value). A pattern with
// parts connected to nothing matched tries every node of the right op for
// them, which is quadratic; rules are connected in practice.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "rules/rule.h"

namespace lemma {

/// One occurrence of a rule's source pattern in a graph.
struct Match {
  /// The rule's index in its RuleSet.
  int rule = -1;
  /// Per pattern node of the source: the graph node it matched; -1 for inputs.
  std::vector<NodeId> nodes;
  /// Per pattern input: the value bound to it.
  std::vector<ValueId> inputs;
  /// Values of the pattern's variables.
  Bindings bindings;

  /// Per source output of `rule`, the graph value it matched.
  std::vector<ValueId> OutputValues(const Rule& rule) const;
};

/// Why a rule did not match where it was tried.
struct MatchFailure {
  /// Pattern ops matched by the attempt that got furthest (-1: none tried).
  int matched_ops = -1;
  /// What stopped that attempt.
  std::string reason;
};

/// Finds occurrences of rules in one graph. It indexes the graph when built;
/// the graph must outlive it and stay unchanged.
class Matcher {
 public:
  explicit Matcher(const Graph& graph);

  /// Every match of `rule` (at index `rule_index` of its set) whose first
  /// source output is an output of node `root`, in a deterministic order.
  /// When there is none and `failure` is given, it gets the reason the
  /// furthest attempt failed.
  std::vector<Match> MatchAt(const Rule& rule, int rule_index, NodeId root,
                             MatchFailure* failure = nullptr) const;
  /// Every match of every rule of `rules` (only those with enabled[i] != 0
  /// when `enabled` is given), by root node, then rule order.
  std::vector<Match> FindAll(const RuleSet& rules, std::span<const uint8_t> enabled = {}) const;
  /// FindAll restricted to roots in [begin, end): concatenating the matches
  /// of consecutive ranges gives FindAll's.
  std::vector<Match> FindAllRooted(const RuleSet& rules, std::span<const uint8_t> enabled,
                                   NodeId begin, NodeId end) const;

  const Graph& graph() const { return graph_; }
  /// Nodes that use an output of `node`, ascending, each once.
  std::span<const NodeId> Users(NodeId node) const;
  /// Position of `node` in the graph's topological order.
  int TopoPosition(NodeId node) const { return topo_pos_[static_cast<size_t>(node)]; }

 private:
  const Graph& graph_;
  std::vector<int> user_begin_;
  std::vector<NodeId> users_;
  std::vector<int> topo_pos_;
  std::vector<std::vector<NodeId>> by_op_;
};

/// The bindings of a match given by its nodes and inputs (as a Match stores
/// them), or the reason the sizes and attributes do not bind.
absl::StatusOr<Bindings> BindMatch(const Graph& graph, const Rule& rule,
                                   std::span<const NodeId> nodes, std::span<const ValueId> inputs);

/// "conv2d(x, w1) + conv2d(x, w2)": the matched source outputs' nodes with
/// their input values, for explanations. Values are named by the labels
/// PrintGraph gives them (a name, or "%K").
std::string DescribeMatch(const Graph& graph, const Rule& rule, const Match& match);
/// DescribeMatch with the labels given: PrintedValueLabels(graph), computed
/// once for many matches.
std::string DescribeMatch(const Graph& graph, std::span<const std::vector<std::string>> labels,
                          const Rule& rule, const Match& match);

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_MATCH_H_
