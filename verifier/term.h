#ifndef LEMMA_VERIFIER_TERM_H_
#define LEMMA_VERIFIER_TERM_H_

// The verifier's term language: the one form in which axioms and rules are
// stated, so that each can be both encoded in Z3 (verifier/encode.h) and
// evaluated on concrete tensors by the reference evaluator
// (verifier/evaluate.h).
//
// Three sorts of term:
//   TensorTerm  a tensor variable, or a generator op applied to integer
//               attributes and tensor arguments (one output of it);
//   IntTerm     integers: constants, variables, + - *, division rounding down
//               (by a positive divisor), if-then-else, and the
//               size dim(t, i) and rank(t) of a tensor term;
//   BoolTerm    formulas: equalities, comparisons, connectives, and ok(t).
//
// THE SEMANTICS (what every axiom must be true of). A tensor term denotes a
// tensor, or BOTTOM when the op's shape inference or attributes reject its
// arguments (or an argument is bottom): ops are total and strict. ok(t) holds
// when t is not bottom. dim(t, i) is the i-th dim of t for 0 <= i < rank(t)
// and 0 for any other i; dim and rank of bottom are unconstrained. Two tensor
// terms are equal when both are bottom or both are the same tensor. Variables
// range over all tensors (bottom included) and all integers; tensor dims are
// positive. Attributes are the op's registry attributes flattened in schema
// order (a list contributes each element, the dtype of constants none:
// patterns are generic over it).
//
//   TensorTerm x = TensorVar("x"), y = TensorVar("y");
//   BoolTerm comm = x + y == y + x;             // ewadd commutes
//   IntTerm ax = IntVar("ax", 0, 3);            // sampled in [0, 3] when tested
//   BoolTerm relu_concat = Relu(Concat(ax, {x, y})) == Concat(ax, {Relu(x), Relu(y)});

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/op_registry.h"

namespace lemma::verifier {

enum class TermKind : uint8_t {
  // Tensors.
  kTensorVar,
  kApply,
  // Integers.
  kIntConst,
  kIntVar,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kIte,
  kDim,
  kRank,
  // Formulas.
  kTrue,
  kFalse,
  kTensorEq,
  kIntEq,
  kIntLe,
  kIntLt,
  kAnd,
  kOr,
  kNot,
  kImplies,
  kOk,
};

enum class TermSort : uint8_t { kTensor, kInt, kBool };

/// The sort of every term of `kind`.
TermSort SortOf(TermKind kind);

class Term;

/// One node of a term; shared and immutable.
struct TermNode {
  TermKind kind;
  /// kTensorVar, kIntVar: the name.
  std::string name = {};
  /// kIntConst: the value; kIntVar: the low end of its sampling range.
  int64_t value = 0;
  /// kIntVar: the high end of its sampling range.
  int64_t high = 0;
  /// kApply: the op, which of its outputs, how many it has, and the number of
  /// integers each schema entry contributes (0 for a dtype).
  OpKind op = OpKind::kInput;
  int output = 0;
  int num_outputs = 1;
  std::vector<int> attr_lengths = {};
  /// kApply: the flattened integer attributes, then the tensor arguments.
  /// Others: the operands, in order.
  std::vector<Term> children = {};
};

/// A term of any sort. Cheap to copy (shared). Compare structure with
/// SameTerm; the operators of the typed subclasses build formulas.
class Term {
 public:
  Term() = default;
  explicit Term(std::shared_ptr<const TermNode> node) : node_(std::move(node)) {}

  bool IsNull() const { return node_ == nullptr; }
  TermKind kind() const { return node_->kind; }
  TermSort sort() const { return SortOf(node_->kind); }
  const TermNode& node() const { return *node_; }
  const std::vector<Term>& children() const { return node_->children; }
  /// Identity of the shared node (equal for copies of one term).
  const void* id() const { return node_.get(); }

  /// kApply: the integer attributes and the tensor arguments.
  std::vector<Term> ApplyAttrs() const;
  std::vector<Term> ApplyArgs() const;

  /// A readable, complete and deterministic text:
  /// "conv2d{stride=[1,1],...,activation=0}(x, w)", "(a + dim(x, 1))",
  /// "(ok(t) => (l == r))".
  std::string ToString() const;

 private:
  std::shared_ptr<const TermNode> node_;
};

/// Structural equality of two terms.
bool SameTerm(const Term& a, const Term& b);

class BoolTerm;

/// A term of sort Tensor.
class TensorTerm : public Term {
 public:
  TensorTerm() = default;
  explicit TensorTerm(Term t);
};

/// A term of sort Int.
class IntTerm : public Term {
 public:
  IntTerm() = default;
  explicit IntTerm(Term t);
  /// The constant `value` (implicit, so that `Split(ax, {a, 3}, x, 0)` reads).
  IntTerm(int64_t value);  // NOLINT(google-explicit-constructor)
  IntTerm(int value) : IntTerm(int64_t{value}) {}  // NOLINT(google-explicit-constructor)
};

/// A term of sort Bool.
class BoolTerm : public Term {
 public:
  BoolTerm() = default;
  explicit BoolTerm(Term t);
  /// The constant `value`.
  static BoolTerm Constant(bool value);
};

// ---------------------------------------------------------------- builders

/// A tensor variable.
TensorTerm TensorVar(std::string name);
/// An integer variable; [low, high] is where validation samples it.
IntTerm IntVar(std::string name, int64_t low, int64_t high);

/// The size of dim `i` of `t` (0 outside its rank) and its rank.
IntTerm Dim(const TensorTerm& t, const IntTerm& i);
IntTerm Rank(const TensorTerm& t);
/// t is not bottom.
BoolTerm Ok(const TensorTerm& t);

IntTerm operator+(const IntTerm& a, const IntTerm& b);
IntTerm operator-(const IntTerm& a, const IntTerm& b);
IntTerm operator*(const IntTerm& a, const IntTerm& b);
/// a / b rounded down; b must be positive (guard it: Z3 leaves a / 0 open).
IntTerm FloorDiv(const IntTerm& a, const IntTerm& b);
IntTerm Ite(const BoolTerm& c, const IntTerm& a, const IntTerm& b);

BoolTerm operator==(const IntTerm& a, const IntTerm& b);
BoolTerm operator!=(const IntTerm& a, const IntTerm& b);
BoolTerm operator<=(const IntTerm& a, const IntTerm& b);
BoolTerm operator<(const IntTerm& a, const IntTerm& b);
BoolTerm operator>=(const IntTerm& a, const IntTerm& b);
BoolTerm operator>(const IntTerm& a, const IntTerm& b);
BoolTerm operator==(const TensorTerm& a, const TensorTerm& b);
BoolTerm operator!=(const TensorTerm& a, const TensorTerm& b);

BoolTerm operator&&(const BoolTerm& a, const BoolTerm& b);
BoolTerm operator||(const BoolTerm& a, const BoolTerm& b);
BoolTerm operator!(const BoolTerm& a);
/// a => b.
BoolTerm Implies(const BoolTerm& a, const BoolTerm& b);
BoolTerm AllOf(std::vector<BoolTerm> parts);

/// An attribute of an op application, by its registry name; a list attribute
/// gives each element, a scalar one element.
struct NamedAttr {
  std::string_view name;
  std::vector<IntTerm> values;
};

/// Output `output` of `op` applied to `args`. Attributes not named take their
/// registry defaults; every required one must be named (a missing or unknown
/// attribute, or a list of the wrong length, is a programming error and
/// aborts). `num_outputs` is the op's output count (split: its sizes).
TensorTerm Apply(OpKind op, std::vector<NamedAttr> attrs, std::vector<TensorTerm> args,
                 int output = 0);
/// The same from attributes already flattened in schema order with
/// `attr_lengths` per schema entry (how rules are converted).
TensorTerm ApplyFlat(OpKind op, std::vector<int> attr_lengths, std::vector<IntTerm> attrs,
                     std::vector<TensorTerm> args, int output, int num_outputs);

// The generator's ops, attributes as in the registry (ir/op_registry.cc).

/// ewadd and ewmul, as + and *.
TensorTerm operator+(const TensorTerm& a, const TensorTerm& b);
TensorTerm operator*(const TensorTerm& a, const TensorTerm& b);
/// x times the rank-0 tensor s.
TensorTerm ScalarMul(const TensorTerm& x, const TensorTerm& s);
TensorTerm Relu(const TensorTerm& x);
TensorTerm MatMul(const TensorTerm& a, const TensorTerm& b, const IntTerm& activation = 0);

/// The attributes of conv2d; defaults are the registry's.
struct ConvAttrs {
  IntTerm stride_h = 1, stride_w = 1;
  IntTerm padding = 0;  // Padding: 0 explicit, 1 same
  IntTerm pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  IntTerm dilation_h = 1, dilation_w = 1;
  IntTerm groups = 1;
  IntTerm activation = 0;  // Activation: 0 none, 1 relu, 2 sigmoid, 3 tanh
};
/// Every conv2d attribute a variable named prefix + field, sampled where
/// validation finds each meaningful (strides 1-2, pads 0-2, ...).
ConvAttrs ConvVars(std::string_view prefix);
TensorTerm Conv2d(const TensorTerm& x, const TensorTerm& w, const ConvAttrs& a);

/// The attributes of avgpool2d and maxpool2d (count_include_pad: avg only).
struct PoolAttrs {
  IntTerm kernel_h, kernel_w;
  IntTerm stride_h = 1, stride_w = 1;
  IntTerm padding = 0;
  IntTerm pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  IntTerm count_include_pad = 0;
};
PoolAttrs PoolVars(std::string_view prefix);
TensorTerm AvgPool2d(const TensorTerm& x, const PoolAttrs& a);
TensorTerm MaxPool2d(const TensorTerm& x, const PoolAttrs& a);

TensorTerm Concat(const IntTerm& axis, std::vector<TensorTerm> parts);
/// Piece `output` of x cut along `axis` into `sizes`.
TensorTerm Split(const IntTerm& axis, std::vector<IntTerm> sizes, const TensorTerm& x,
                 int output);
TensorTerm Transpose(std::vector<IntTerm> perm, const TensorTerm& x);
TensorTerm Enlarge(const TensorTerm& w, const IntTerm& kernel_h, const IntTerm& kernel_w);
TensorTerm ConstPool(const IntTerm& channels, const IntTerm& kernel_h, const IntTerm& kernel_w);
TensorTerm ConstIdentityConv(const IntTerm& channels, const IntTerm& kernel_h,
                             const IntTerm& kernel_w);
TensorTerm ConstIdentityMatrix(const IntTerm& size);
TensorTerm ConstOnes(std::vector<IntTerm> shape);

// ---------------------------------------------------------------- queries

/// The free variables of a term, each once, in order of first occurrence.
struct FreeVars {
  std::vector<TensorTerm> tensors;
  std::vector<IntTerm> ints;
};
FreeVars CollectFreeVars(const Term& t);

/// Whether `t` mentions an arithmetic or if-then-else term anywhere (such a
/// term cannot be part of a Z3 pattern).
bool HasArithmetic(const Term& t);

/// Every application in `t`, each distinct one once, children first.
std::vector<TensorTerm> CollectApplications(const Term& t);

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_TERM_H_
