#ifndef LEMMA_VERIFIER_ENCODE_H_
#define LEMMA_VERIFIER_ENCODE_H_

// Terms (verifier/term.h) in Z3, through the smt layer: tensors are an
// uninterpreted sort, integers are integers, and each generator op is one
// uninterpreted function per output and per signature (the lengths of its
// list attributes and its number of inputs), taking the flattened integer
// attributes and then the tensor arguments:
//
//   conv2d{stride=[1,1],...}(x, w)  ->  conv2d(1, 1, ..., x, w)
//   split{axis=1,sizes=[a,b]}.0(t)  ->  split_2_o0(1, a, b, t)
//
// ok : Tensor -> Bool, dim : Tensor x Int -> Int and rank : Tensor -> Int are
// uninterpreted too; only the axioms say anything about them.

#include <map>
#include <string>
#include <vector>

#include "verifier/smt/smt.h"
#include "verifier/term.h"

namespace lemma::verifier {

/// Values of the free variables of a term: tensor and integer variables by
/// name (the two sorts have separate names).
struct SmtEnv {
  std::map<std::string, smt::Expr, std::less<>> tensors;
  std::map<std::string, smt::Expr, std::less<>> ints;
};

/// Encodes terms in one smt::Context, declaring each op function once.
class Encoder {
 public:
  explicit Encoder(smt::Context& ctx);

  smt::Context& context() { return ctx_; }
  smt::Sort tensor_sort() const { return tensor_; }

  /// The Z3 form of `t`; every free variable must be in `env` (a missing one
  /// is a programming error and aborts).
  smt::Expr Encode(const Term& t, const SmtEnv& env);

  /// A fresh Z3 constant for each free variable of `t`, named prefix + name.
  SmtEnv Constants(const FreeVars& vars, std::string_view prefix);

  /// The universal closure of `formula` with the given patterns (each a
  /// multi-pattern; terms over the formula's variables).
  smt::Expr Close(const BoolTerm& formula, const std::vector<std::vector<Term>>& patterns,
                  std::string_view name);

  smt::Function ok() const { return ok_; }
  smt::Function dim() const { return dim_; }
  smt::Function rank() const { return rank_; }

 private:
  smt::Function OpFunction(const TermNode& node);

  smt::Context& ctx_;
  smt::Sort tensor_;
  smt::Sort int_;
  smt::Sort bool_;
  smt::Function ok_, dim_, rank_;
  std::map<std::string, smt::Function> ops_;
};

/// The name of the Z3 function for an application node ("conv2d",
/// "concat_2", "split_2_o1", "transpose_2"): one per op, output and signature.
std::string OpFunctionName(const TermNode& node);

/// Patterns for instantiating `formula` by E-matching, chosen as follows. For
/// `L == R` or `G => L == R` (L, R applications), a side can be a pattern
/// alone when it mentions every variable and no arithmetic. Equations are
/// oriented: L is the pattern, or R when L cannot be one (instantiating from
/// both sides of laws such as relu(concat(x, y)) == concat(relu(x), relu(y))
/// makes E-matching loop). A side whose ok() the guard G assumes while it
/// does not assume the other's is the only pattern (from the other side the
/// instance could not be used); when G assumes both, or no side works alone,
/// the pair {L, R} is one multi-pattern. Empty when no pattern fits: such an
/// axiom needs explicit patterns.
std::vector<std::vector<Term>> ChooseTriggers(const BoolTerm& formula);

}  // namespace lemma::verifier

#endif  // LEMMA_VERIFIER_ENCODE_H_
