#ifndef LEMMA_KERNELS_COMPARE_H_
#define LEMMA_KERNELS_COMPARE_H_

// Differential testing of two graphs that claim to compute the same outputs:
// both are evaluated by the reference evaluator on the same random inputs and
// their outputs compared by name. This is how lemma checks a candidate rule,
// a rewritten graph against its original, and an axiom on concrete tensors.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/arith.h"

namespace lemma {

/// Outcome of comparing two graphs on random inputs.
struct Comparison {
  bool equal = true;
  /// When not equal: "output y element 17: 0.25 vs 0.5 (seed 3)".
  std::string mismatch;
  /// The largest |a - b| / (1 + |b|) seen (0 in ModP, where equality is exact).
  double max_error = 0;
};

/// Evaluates `a` and `b` in domain A on `draws` sets of random feeds (seeds
/// seed, seed+1, ...; each input of the same name gets the same tensor in
/// both graphs) and compares outputs of the same name: exactly in ModP,
/// within `tolerance` relative error (NaN equals NaN) in F64 and F32. Every
/// output of `b` must be an output of `a` of the same dims and vice versa;
/// inputs and weights must agree by name and type where both have them.
/// Evaluation errors (an op without a kernel, mismatched interfaces) are
/// errors, not mismatches.
template <typename A>
absl::StatusOr<Comparison> CompareOnRandomInputs(const Graph& a, const Graph& b, uint64_t seed,
                                                 int draws = 1, double tolerance = 1e-9);

extern template absl::StatusOr<Comparison> CompareOnRandomInputs<F64>(const Graph&, const Graph&,
                                                                      uint64_t, int, double);
extern template absl::StatusOr<Comparison> CompareOnRandomInputs<F32>(const Graph&, const Graph&,
                                                                      uint64_t, int, double);
extern template absl::StatusOr<Comparison> CompareOnRandomInputs<ModP>(const Graph&, const Graph&,
                                                                       uint64_t, int, double);

}  // namespace lemma

#endif  // LEMMA_KERNELS_COMPARE_H_
