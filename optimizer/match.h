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

/// The rules of a set that FindAllRooted tries, by the op of their root, with
/// what each needs of its root node and the nodes feeding it (op, arity and
/// output count of the producers the pattern computes, up to three levels up,
/// through ops that are not commutative), so that a rule that cannot match at
/// a node is passed over without starting a backtracking search. Built once
/// per set and reused for every graph.
class RuleIndex {
 public:
  /// Indexes the rules of `rules` (only those with enabled[i] != 0 when
  /// `enabled` is given). `rules` must outlive the index.
  explicit RuleIndex(const RuleSet& rules, std::span<const uint8_t> enabled = {});

  const RuleSet& rules() const { return rules_; }

 private:
  friend class Matcher;
  // Root input slots checked for repeated values; later slots are left to
  // the search.
  static constexpr int kSlots = 4;
  // Levels above the root that checks reach.
  static constexpr int kDepth = 3;
  // A producer the pattern computes: the node reached from the root by
  // following input slots `path` (the first slot swapped for a commutative
  // root tried swapped) must have this op, arity and output count, and the
  // value read from it this output index.
  struct Check {
    int8_t path[kDepth] = {};
    int8_t depth = 0;
    OpKind op = OpKind::kInput;
    int index = 0;
    int arity = 0;
    int outputs = 0;
  };
  struct Filter {
    int arity = 0;
    int outputs = 0;
    bool commutative = false;
    // Per root slot below kSlots: the earlier slot that must read the same
    // value (-1: none).
    int same_as[kSlots] = {};
    // The rule's checks: checks_[begin, end), each after those of the nodes
    // on its path.
    int begin = 0;
    int end = 0;
  };
  // Adds the checks of the producers feeding pattern node `pn`, reached by `path`.
  void AddChecks(const Pattern& p, int pn, std::vector<int8_t>& path);

  // A rule and its filter (an index into filters_; rules with the same
  // needs share one, tested once per node).
  struct Entry {
    int rule = -1;
    int filter = -1;
  };
  const RuleSet& rules_;
  std::vector<std::vector<Entry>> by_op_;
  std::vector<Filter> filters_;
  std::vector<Check> checks_;
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
  /// FindAllRooted over the rules of `index`; the same matches as with the
  /// set and flags it was built from.
  std::vector<Match> FindAllRooted(const RuleIndex& index, NodeId begin, NodeId end) const;

  const Graph& graph() const { return graph_; }
  /// Nodes that use an output of `node`, ascending, each once.
  std::span<const NodeId> Users(NodeId node) const;
  /// Position of `node` in the graph's topological order.
  int TopoPosition(NodeId node) const { return topo_pos_[static_cast<size_t>(node)]; }

 private:
  // Whether `node` can be the root of the rule of `filter`, with its two
  // inputs swapped when `swap`.
  bool PassesFilter(const RuleIndex& index, const RuleIndex::Filter& filter, const Node& node,
                    bool swap) const;

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
