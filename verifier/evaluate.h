#ifndef LEMMA_VERIFIER_EVALUATE_H_
#define LEMMA_VERIFIER_EVALUATE_H_

// Terms (verifier/term.h) evaluated on concrete tensors by the reference
// evaluator, with the semantics term.h states: an application whose shape
// inference or attributes fail is bottom, and so is every term over a bottom.
// This is how axioms are checked: each is evaluated at many sizes,
// attributes and random tensors, in float64 and modulo a prime.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "ir/types.h"
#include "kernels/arith.h"
#include "verifier/term.h"

namespace lemma::verifier {

/// Values of the free variables of a term: each tensor variable's dims (or
/// nullopt: bottom), each integer variable's value.
struct Assignment {
  std::map<std::string, std::optional<Dims>, std::less<>> tensors;
  std::map<std::string, int64_t, std::less<>> ints;

  /// "a=2, ax=1, w=[3,4,1,1], x=bottom": for messages.
  std::string ToString() const;
};

/// Evaluates terms under one assignment in domain A (F64 or ModP). Tensor
/// variables hold random tensors drawn from `seed`; each application runs
/// once. A variable the assignment lacks, dim or rank of bottom, integer
/// overflow and a kernel failure on a well-typed application are errors, not
/// values: an axiom's guard must rule them out (&&, ||, => and ite evaluate
/// left to right and stop once the result is known).
template <typename A>
class TermEvaluator {
 public:
  /// With `shapes_only`, applications run shape inference but no kernel:
  /// ok, dim and rank evaluate, tensor equality is an error.
  TermEvaluator(const Assignment& assignment, uint64_t seed, double tolerance = 1e-9,
                bool shapes_only = false);
  ~TermEvaluator();

  absl::StatusOr<bool> Eval(const BoolTerm& t);
  absl::StatusOr<int64_t> EvalInt(const IntTerm& t);
  /// Whether `t` is bottom (false) or a tensor (true).
  absl::StatusOr<bool> IsOk(const TensorTerm& t);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

extern template class TermEvaluator<F64>;
extern template class TermEvaluator<ModP>;

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_EVALUATE_H_
