#ifndef LEMMA_VERIFIER_VALIDATE_H_
#define LEMMA_VERIFIER_VALIDATE_H_

// Axioms checked on concrete tensors: each axiom is evaluated (verifier/
// evaluate.h) at many sizes and attributes drawn from its ShapeCases, some of
// them perturbed so that the bottom cases are tried too (a size off by one, a
// variable bottom), on random tensors in float64 and modulo a prime. Then,
// on shapes alone and so much more often, variants whose dims are shuffled
// among the values in use check that where one side of an equation is
// well-typed so is the other (what an unguarded law claims). A false axiom
// fails with the assignment that shows it.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "verifier/axioms.h"

namespace lemma::verifier {

struct ValidationOptions {
  /// Assignments drawn per axiom; each is evaluated in F64 and in ModP.
  int samples = 96;
  uint64_t seed = 1;
  /// The share of assignments perturbed after drawing.
  double perturb = 0.3;
  /// Type agreement: for each of `agreement_samples` drawn assignments,
  /// `agreement_variants` variants with dims and attributes shuffled among
  /// the values in use, checked on shapes alone: where the guard holds, the
  /// two sides of the equation must be both bottom or both tensors.
  int agreement_samples = 24;
  int agreement_variants = 48;
};

struct ValidationReport {
  int samples = 0;
  /// Samples where the guard held and the equation's sides were tensors: the
  /// ones that tested the axiom's content rather than its guard.
  int exercised = 0;
  /// OK, or the first failure: "axiom NAME is false at a=2, x=[2,3] (modp):
  /// ..." or an evaluation error naming the axiom.
  absl::Status status;
};

ValidationReport ValidateAxiom(const Axiom& axiom, const ValidationOptions& options = {});

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_VALIDATE_H_
