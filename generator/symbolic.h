#ifndef LEMMA_GENERATOR_SYMBOLIC_H_
#define LEMMA_GENERATOR_SYMBOLIC_H_

// Symbolic sizes of the generator's tensors. Every input tensor of the
// enumeration declares its dims as size variables (`[n, c, h, w]`) or
// constants (the 3 of a 3x3 kernel); every tensor an op computes carries its
// dims as ordered sums of those (`c, c` for the channels of a concat of two
// c-channel tensors). The order of the parts is where a concat joined its
// inputs, so a split can undo it; the sum is what a rule writes as a DimExpr.
//
// The enumeration runs at two concrete assignments of the variables, A (the
// sizes it computes at) and B (every variable changed): an op is taken only
// when it type-checks at both and the symbolic dims of its outputs evaluate to
// the inferred dims at both, so that every graph it builds is valid for the
// variables, not only for one set of numbers.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rules/pattern.h"

namespace lemma {

/// A size: an ordered sum of parts, each a size variable (by index) or a
/// positive constant.
class SymSize {
 public:
  static constexpr int kMaxParts = 8;

  SymSize() = default;
  /// The variable with index `var` (0..127).
  static SymSize Var(int var);
  /// The constant `value` (1..127).
  static SymSize Const(int value);

  int num_parts() const { return n_; }
  /// Part i: a variable index (>= 0) or a negated constant (< 0).
  int part(int i) const { return parts_[static_cast<size_t>(i)]; }
  /// Whether no part is a variable.
  bool IsConstant() const;

  /// The value with variable v set to values[v].
  int64_t Evaluate(std::span<const int64_t> values) const;
  /// The first `n` parts, and the parts after them.
  SymSize Prefix(int n) const;
  SymSize Suffix(int n) const;
  /// The parts of `a` followed by those of `b`; nullopt beyond kMaxParts.
  static std::optional<SymSize> Join(const SymSize& a, const SymSize& b);
  /// Whether the two sums are equal for every value of the variables.
  bool SameSum(const SymSize& other) const;
  /// How many copies of `unit` add up to this sum (0 when none do).
  int Multiple(const SymSize& unit) const;
  /// The sum as a pattern expression over `names` (variable v is names[v]).
  DimExpr ToDimExpr(std::span<const std::string> names) const;
  /// "c+c", "3".
  std::string ToString(std::span<const std::string> names) const;

  friend bool operator==(const SymSize&, const SymSize&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SymSize& s) {
    return H::combine(H::combine_contiguous(std::move(h), s.parts_.data(), s.n_), s.n_);
  }

 private:
  // Counts per variable (and the constant total): the sum, order forgotten.
  std::vector<int> Counts() const;

  uint8_t n_ = 0;
  std::array<int8_t, kMaxParts> parts_ = {};
};

/// The symbolic dims of one tensor.
struct SymShape {
  std::vector<SymSize> dims;

  int rank() const { return static_cast<int>(dims.size()); }
  /// Dims evaluated under `values`.
  Dims Evaluate(std::span<const int64_t> values) const;
  friend bool operator==(const SymShape&, const SymShape&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SymShape& s) {
    return H::combine(std::move(h), s.dims);
  }
};

/// Symbolic dims for output dims inferred at two assignments: each output
/// dim is the first candidate, in this order, that evaluates to the inferred
/// value at both assignments: the same-position dim of an input (inputs in
/// order), one of `extra` (the op's symbolic attributes), any dim of an input,
/// the parts of the same-position dims of all inputs joined (a concat), a
/// constant. Nullopt when some dim has no candidate.
std::optional<SymShape> MatchOutputShape(std::span<const SymShape* const> inputs,
                                         std::span<const SymSize> extra, const Dims& out_a,
                                         const Dims& out_b, std::span<const int64_t> values_a,
                                         std::span<const int64_t> values_b);

}  // namespace lemma

#endif  // LEMMA_GENERATOR_SYMBOLIC_H_
