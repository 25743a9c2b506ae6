#ifndef LEMMA_VERIFIER_AXIOMS_H_
#define LEMMA_VERIFIER_AXIOMS_H_

// The operator axioms: what the verifier knows about the generator's ops,
// each a formula of the term language (verifier/term.h), true in its
// semantics (ops total and strict, ill-typed applications bottom), with a
// name, a one-line meaning, and the sizes at which validation
// (verifier/validate.h) tests it on the reference evaluator.
//
// Two families:
//   * laws: equations between applications (ewadd commutes, conv2d is linear
//     in its kernel, split undoes concat, ...), guarded where one side can be
//     well-typed while the other is not;
//   * shape laws: the rank and dims of each op's result and its strictness
//     (ok(f(x)) implies ok(x)), which the laws' guards about sizes rest on.
//
// The set is identified by AxiomSetId(), a hash of every axiom's name and
// formula: a proved rule names the set it was proved from.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "verifier/term.h"

namespace lemma::verifier {

/// One way validation draws an axiom's variables: each integer variable
/// (of the formula and of the dims here) is drawn from its range until
/// `where` holds, and each tensor variable gets its dims from `shapes`.
struct ShapeCase {
  std::vector<std::pair<TensorTerm, std::vector<IntTerm>>> shapes;
  BoolTerm where = BoolTerm::Constant(true);
  /// Groups of integer variables drawn together as a random permutation of
  /// 0..n-1 (transpose's perm), before the others.
  std::vector<std::vector<IntTerm>> permutations = {};
  /// Integer variables held at a value in this case.
  std::vector<std::pair<IntTerm, int64_t>> fixed = {};
};

struct Axiom {
  std::string name;
  /// One line: what the axiom says, in words.
  std::string meaning;
  BoolTerm formula;
  /// Where validation samples (one case is picked per sample).
  std::vector<ShapeCase> cases;
  /// Z3 patterns; empty: ChooseTriggers(formula) (verifier/encode.h).
  std::vector<std::vector<Term>> triggers = {};
};

/// Every axiom, in a fixed order: laws first, then shape laws.
const std::vector<Axiom>& Axioms();

/// The axiom named `name`, or null.
const Axiom* FindAxiom(std::string_view name);

/// "lemma-axioms-1-" followed by 8 hex digits of a hash of every axiom's name
/// and formula text: changes whenever an axiom does.
const std::string& AxiomSetId();

/// The Z3 patterns of `axiom`: its own, or chosen from its formula.
std::vector<std::vector<Term>> TriggersOf(const Axiom& axiom);

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_AXIOMS_H_
