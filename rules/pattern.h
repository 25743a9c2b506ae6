#ifndef LEMMA_RULES_PATTERN_H_
#define LEMMA_RULES_PATTERN_H_

// A pattern: one side of a substitution. It is a small graph whose leaves are
// variables (pattern inputs) that stand for any tensor, and whose sizes are
// symbolic: an input declares its dims as variables or constants
// (`input w: [o, c, 3, 3]`), and an integer attribute may be an expression
// over those variables (`split(%1) {axis=1, sizes=[o1, o2]}`). Binding a
// pattern to concrete tensors gives every variable a value; instantiating it
// with those values gives an ordinary graph, whose shapes the op registry
// infers as usual.
//
// Variables are bound by pattern inputs' dims and by source-pattern
// attributes written as a single variable (`concat(a, b) {axis=k}` binds k);
// every other expression is evaluated and compared.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma {

/// Values of a pattern's variables. Ordered, so that printing is deterministic.
using Bindings = std::map<std::string, int64_t, std::less<>>;

/// An integer of a pattern: a constant plus a sum of variables ("c1+c2",
/// "c+1", "4"). Variables are kept sorted, so equal sums compare equal.
class DimExpr {
 public:
  DimExpr() = default;
  /// The constant `c` (implicit, so that `DimExpr e = 3;` reads naturally).
  DimExpr(int64_t c) : constant_(c) {}  // NOLINT(google-explicit-constructor)
  /// The variable `name`.
  static DimExpr Var(std::string name);

  DimExpr operator+(const DimExpr& other) const;
  friend bool operator==(const DimExpr&, const DimExpr&) = default;

  bool IsConstant() const { return vars_.empty(); }
  int64_t constant() const { return constant_; }
  /// The variables of the sum, sorted, with repeats.
  const std::vector<std::string>& vars() const { return vars_; }
  /// The variable when the expression is exactly one variable.
  std::optional<std::string_view> AsVar() const;

  /// The value under `bindings`; fails naming an unbound variable, or on
  /// overflow.
  absl::StatusOr<int64_t> Evaluate(const Bindings& bindings) const;
  /// "c1+c2+1", "3", "n".
  std::string ToString() const;

 private:
  int64_t constant_ = 0;
  std::vector<std::string> vars_;
};

/// An attribute value in a pattern: as AttrValue (ir/attributes.h), with
/// integers, list elements and enum indices as expressions.
using PatternAttrValue = std::variant<DimExpr, std::vector<DimExpr>, double>;

/// A value of a pattern: output `index` of node `node`.
struct PatternRef {
  int node = -1;
  int index = 0;
  friend bool operator==(PatternRef, PatternRef) = default;
};

/// A node of a pattern. Pattern inputs are nodes with op kInput, a name and
/// dims; every other node applies an op.
struct PatternNode {
  OpKind op = OpKind::kInput;
  /// Pattern inputs only: the variable's name.
  std::string name = {};
  /// Pattern inputs only: each a constant or a single variable.
  std::vector<DimExpr> dims = {};
  /// One value per schema entry of `op`, in schema order (defaults filled in).
  std::vector<PatternAttrValue> attrs = {};
  std::vector<PatternRef> inputs = {};
  int num_outputs = 1;

  bool IsInput() const { return op == OpKind::kInput; }
};

/// A named output of a pattern.
struct PatternOutput {
  std::string name;
  PatternRef value;
};

/// A pattern: nodes in topological order (a node's inputs refer to earlier
/// nodes), the pattern inputs first.
struct Pattern {
  std::vector<PatternNode> nodes;
  std::vector<PatternOutput> outputs;

  int num_inputs() const;
  /// The index of the input named `name`, or -1.
  int FindInput(std::string_view name) const;
  /// The number of op nodes (inputs excluded).
  int num_ops() const { return static_cast<int>(nodes.size()) - num_inputs(); }
};

/// A pattern attribute value from a concrete one (every integer a constant).
PatternAttrValue ToPatternAttr(const AttrValue& value);
/// The attributes of `op` with every entry at its default; required entries
/// (which have no default) are 0 or [] and must be set by the caller.
std::vector<PatternAttrValue> DefaultPatternAttrs(OpKind op);
/// The attribute value text as the rule format writes it ("[o1, o2]", "relu").
std::string FormatPatternAttr(OpKind op, size_t index, const PatternAttrValue& value);

/// Patterns are generic over the element type: the `dtype` attribute of the
/// constant ops is not part of a pattern (never compared when binding) and is
/// set to the pattern's dtype when instantiating.
bool IsPatternDTypeAttr(const AttrSpec& spec);

/// Each output of `pattern` as one nested expression, for listings:
/// "ewadd(matmul(x, w1), matmul(x, w2))"; outputs of multi-output ops read
/// "split#0(...)"; attributes are left out.
std::vector<std::string> PatternExpressions(const Pattern& pattern);

/// Concrete attributes of `node` under `bindings`, constants of `dtype`.
/// Fails when an expression has an unbound variable or the value is invalid
/// for the op.
absl::StatusOr<Attributes> InstantiateAttributes(const PatternNode& node,
                                                 const Bindings& bindings, DType dtype);

/// Adds the op nodes of `pattern` to `graph`, input k bound to `inputs[k]`,
/// constants of `dtype`, and returns the values of the pattern's outputs in order. Shape inference
/// runs as for any node; a failure names the pattern node. On error the graph
/// may hold the nodes added so far (they are dead: nothing uses them).
absl::StatusOr<std::vector<ValueId>> InstantiateInto(const Pattern& pattern,
                                                     const Bindings& bindings, DType dtype,
                                                     std::span<const ValueId> inputs,
                                                     Graph& graph);

/// A standalone graph: each pattern input becomes a graph input of `dtype`
/// with its dims under `bindings` (used or not), and each pattern output a
/// graph output.
absl::StatusOr<Graph> Instantiate(const Pattern& pattern, const Bindings& bindings, DType dtype,
                                  std::string name = "pattern");

/// Binds the variables of a source pattern matched to concrete values:
/// `input_types[k]` is the type bound to input k and `node_attrs[i]` the
/// attributes of the graph node matched to pattern node i (null for inputs).
/// Single-variable dims and attributes bind (consistently: a second
/// occurrence must agree); every other expression must evaluate to the
/// concrete value. The error says which dim or attribute disagreed.
absl::StatusOr<Bindings> BindPattern(const Pattern& pattern,
                                     std::span<const TensorType> input_types,
                                     std::span<const Attributes* const> node_attrs);

/// The variables of `pattern`: those a source pattern binds (input dims and
/// single-variable attributes), and all that it mentions.
struct PatternVariables {
  std::vector<std::string> bound;      // sorted, unique
  std::vector<std::string> mentioned;  // sorted, unique
};
PatternVariables CollectVariables(const Pattern& pattern);

}  // namespace lemma

#endif  // LEMMA_RULES_PATTERN_H_
