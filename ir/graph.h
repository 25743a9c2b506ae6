#ifndef LEMMA_IR_GRAPH_H_
#define LEMMA_IR_GRAPH_H_

// The tensor graph: a DAG of nodes, each an op with typed attributes, input
// values and one or more typed outputs. Graph inputs and weights are nodes of
// the source ops `input` and `weight`; graph outputs are named references to
// values.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/attributes.h"
#include "ir/op_registry.h"
#include "ir/types.h"

namespace lemma {

using NodeId = int32_t;

/// One output of one node.
struct ValueId {
  NodeId node = -1;
  int32_t index = 0;

  bool valid() const { return node >= 0; }
  friend bool operator==(ValueId, ValueId) = default;
  template <typename H>
  friend H AbslHashValue(H h, ValueId v) {
    return H::combine(std::move(h), v.node, v.index);
  }
};

/// A node: an op applied to input values, producing typed outputs.
struct Node {
  OpKind op;
  Attributes attrs;
  std::vector<ValueId> inputs;
  std::vector<TensorType> outputs;
  /// One per output; empty for an anonymous value (printed as %N).
  std::vector<std::string> names;
};

/// A named graph output.
struct GraphOutput {
  std::string name;
  ValueId value;
  friend bool operator==(const GraphOutput&, const GraphOutput&) = default;
};

/// Whether `name` can name a value or output: a letter or '_', then letters,
/// digits and any of "_.-/".
bool IsValidName(std::string_view name);
/// The first and the following characters of that grammar (for lexers).
bool IsNameStart(char c);
bool IsNameChar(char c);

class Graph {
 public:
  explicit Graph(std::string name = "graph");

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // ---- Construction. Each call validates and leaves the graph unchanged on error.

  /// Adds a graph input named `name`. Fails on an invalid or taken name, a bad
  /// shape or a layout that does not fit the rank.
  absl::StatusOr<ValueId> AddInput(std::string name, TensorType type);
  /// Adds a weight (a trained parameter) named `name`.
  absl::StatusOr<ValueId> AddWeight(std::string name, TensorType type);
  /// Adds a node applying `op` to `inputs`; output types come from shape
  /// inference, with default layouts. `names` is empty or has one (possibly
  /// empty) name per output. Errors read "<op>: <reason>".
  absl::StatusOr<NodeId> AddNode(OpKind op, Attributes attrs, std::vector<ValueId> inputs,
                                 std::vector<std::string> names = {});
  /// Removes the node added last. Fails, changing nothing, when it is a graph
  /// input or weight or when a graph output refers to it. For searches that try
  /// a node and take it back (the rule generator's enumeration).
  absl::Status RemoveLastNode();
  /// Marks `value` as the graph output `name` (output names are unique).
  absl::Status AddOutput(std::string name, ValueId value);
  /// Gives `value` a name (or, with an empty name, makes it anonymous).
  absl::Status SetName(ValueId value, std::string name);
  /// Sets the physical layout of `value`; it must fit the value's rank.
  absl::Status SetLayout(ValueId value, Layout layout);

  // ---- Rewriting.

  /// Redirects every use of `from` (node inputs and graph outputs) to `to`.
  /// Both must have the same dtype and dims; layouts may differ (a layout is
  /// how a value is stored, and consumers read any layout). Fails, changing nothing, when
  /// `to` depends on `from` (the graph would get a cycle).
  absl::Status ReplaceAllUsesWith(ValueId from, ValueId to);
  /// Merges repeated computations: a node that applies the same op, with the
  /// same attributes, to the same inputs as an earlier one, with outputs of
  /// the same types (layouts included), has its uses (node inputs and graph
  /// outputs) redirected to that one; chains of repeats merge in one call.
  /// Sound for every op, all of them pure functions of their inputs. Inputs
  /// and weights are never merged. The repeats are left dead (node ids
  /// stay); returns how many there were.
  int MergeDuplicates();
  /// Removes nodes that no graph output depends on (graph inputs stay: they
  /// are the interface) and renumbers the rest in topological order. Node ids
  /// held by the caller are invalid afterwards. Returns the number removed.
  int RemoveDeadCode();

  // ---- Access.

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const Node& node(NodeId id) const { return nodes_[static_cast<size_t>(id)]; }
  std::span<const Node> nodes() const { return nodes_; }
  std::span<const GraphOutput> outputs() const { return outputs_; }
  const TensorType& type(ValueId v) const {
    return node(v.node).outputs[static_cast<size_t>(v.index)];
  }
  /// The node ids of graph inputs (weights excluded), in node order.
  std::vector<NodeId> InputNodes() const;
  /// The node ids of weights, in node order.
  std::vector<NodeId> WeightNodes() const;
  /// Whether `v` names an output of an existing node.
  bool IsValue(ValueId v) const;
  /// The value named `name`, if any.
  std::optional<ValueId> FindValue(std::string_view name) const;
  /// The output named `name`, if any.
  std::optional<ValueId> FindOutput(std::string_view name) const;
  /// The name of `v`, or "%<node>:<index>" when it has none (for messages).
  std::string ValueLabel(ValueId v) const;
  /// "node 5 (conv2d, 'conv1')": how error messages name a node.
  std::string Describe(NodeId id) const;
  /// For each node, the nodes that use one of its outputs (with repeats).
  std::vector<std::vector<NodeId>> Users() const;

  /// Node ids in a topological order: by construction node order is one, but
  /// ReplaceAllUsesWith may break it. Ties go to the smaller id, so the order
  /// is deterministic.
  std::vector<NodeId> TopologicalOrder() const;
  /// live[id]: whether some graph output depends on node `id`.
  std::vector<bool> LiveNodes() const;
  /// Checks every invariant: inputs refer to earlier-defined or existing
  /// values, no cycles, types agree with shape inference, names unique.
  absl::Status Validate() const;

  /// Exact structural equality: same nodes in the same order, same names,
  /// attributes, types and outputs.
  friend bool operator==(const Graph&, const Graph&);

 private:
  absl::StatusOr<ValueId> AddSource(OpKind op, std::string name, TensorType type);
  absl::Status CheckNewName(std::string_view name) const;

  std::string name_;
  std::vector<Node> nodes_;
  std::vector<GraphOutput> outputs_;
  absl::flat_hash_map<std::string, ValueId> value_names_;
};

}  // namespace lemma

#endif  // LEMMA_IR_GRAPH_H_
