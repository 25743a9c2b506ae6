#ifndef LEMMA_VERIFIER_SMT_SMT_H_
#define LEMMA_VERIFIER_SMT_SMT_H_

// A small value-type layer over Z3, so that the verifier reads like the math
// and nothing outside verifier/smt/ sees a Z3 header:
//
//   smt::Context ctx;
//   smt::Sort t = ctx.UninterpretedSort("Tensor");
//   smt::Function add = ctx.Declare("ewadd", {t, t}, t);
//   smt::Expr x = ctx.Const("x", t), y = ctx.Const("y", t);
//   smt::Solver s(ctx);
//   s.Add(smt::ForAll({x, y}, add({x, y}) == add({y, x})));
//
// A Context owns one Z3 context and is used by one thread at a time; every
// Expr, Sort, Function and Solver made from it must die before it does.
// Misuse (mixing contexts, sorts that do not fit) is a programming error and
// aborts with Z3's message.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace z3 {
class context;
}  // namespace z3

namespace lemma::smt {

class Context;

/// A Z3 AST with its reference counted: an expression, a sort or a function
/// declaration. The base of Expr, Sort and Function; not used on its own.
class Ast {
 public:
  Ast() = default;
  Ast(const Ast& other);
  Ast(Ast&& other) noexcept;
  Ast& operator=(const Ast& other);
  Ast& operator=(Ast&& other) noexcept;
  ~Ast();

  /// Whether this holds nothing (default-constructed).
  bool IsNull() const { return ast_ == nullptr; }
  Context& context() const { return *ctx_; }
  /// Z3's text for the AST (SMT-LIB syntax).
  std::string ToString() const;
  /// Z3's id of the AST: equal ids are the same (hash-consed) AST.
  unsigned Id() const;

 protected:
  Ast(Context* ctx, void* ast);
  void* raw() const { return ast_; }
  friend class Context;
  friend class Solver;
  friend struct Access;

 private:
  Context* ctx_ = nullptr;
  void* ast_ = nullptr;
};

/// A sort: Int, Bool or an uninterpreted sort.
class Sort : public Ast {
 public:
  Sort() = default;

 private:
  using Ast::Ast;
  friend class Context;
  friend struct Access;
};

/// A term or formula.
class Expr : public Ast {
 public:
  Expr() = default;

  bool IsBool() const;
  bool IsInt() const;
  /// The value of an integer numeral, or nullopt when this is not one.
  std::optional<int64_t> IntValue() const;

 private:
  using Ast::Ast;
  friend class Context;
  friend class Solver;
  friend struct Access;
};

/// An uninterpreted function (or predicate).
class Function : public Ast {
 public:
  Function() = default;
  /// The application to `args`, which must fit the declared domain.
  Expr operator()(std::span<const Expr> args) const;
  Expr operator()(std::initializer_list<Expr> args) const {
    return (*this)(std::span<const Expr>(args.begin(), args.size()));
  }
  /// The declared name.
  std::string Name() const;

 private:
  using Ast::Ast;
  friend class Context;
  friend struct Access;
};

/// Owns one Z3 context.
class Context {
 public:
  Context();
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  Sort IntSort();
  Sort BoolSort();
  /// The uninterpreted sort named `name` (the same sort for the same name).
  Sort UninterpretedSort(std::string_view name);

  Expr Int(int64_t value);
  Expr Bool(bool value);
  /// A constant (a free symbol, or a variable for ForAll) of `sort`.
  Expr Const(std::string_view name, const Sort& sort);
  /// An uninterpreted function `name` : domain -> range.
  Function Declare(std::string_view name, std::span<const Sort> domain, const Sort& range);
  Function Declare(std::string_view name, std::initializer_list<Sort> domain, const Sort& range) {
    return Declare(name, std::span<const Sort>(domain.begin(), domain.size()), range);
  }

  /// Asks a running Check to stop (callable from another thread).
  void Interrupt();

  z3::context& z3();

 private:
  std::unique_ptr<z3::context> ctx_;
};

// Integer arithmetic and comparison.
Expr operator+(const Expr& a, const Expr& b);
Expr operator-(const Expr& a, const Expr& b);
Expr operator*(const Expr& a, const Expr& b);
Expr operator-(const Expr& a);
/// Integer division rounding toward minus infinity (SMT-LIB div).
Expr Div(const Expr& a, const Expr& b);
Expr operator<(const Expr& a, const Expr& b);
Expr operator<=(const Expr& a, const Expr& b);
Expr operator>(const Expr& a, const Expr& b);
Expr operator>=(const Expr& a, const Expr& b);
/// Equality of two terms of one sort (any sort).
Expr operator==(const Expr& a, const Expr& b);
Expr operator!=(const Expr& a, const Expr& b);

// Mixed with integer literals.
Expr operator+(const Expr& a, int64_t b);
Expr operator-(const Expr& a, int64_t b);
Expr operator*(int64_t a, const Expr& b);
Expr operator==(const Expr& a, int64_t b);
Expr operator!=(const Expr& a, int64_t b);
Expr operator<(const Expr& a, int64_t b);
Expr operator<=(const Expr& a, int64_t b);
Expr operator>(const Expr& a, int64_t b);
Expr operator>=(const Expr& a, int64_t b);

// Boolean connectives.
Expr operator&&(const Expr& a, const Expr& b);
Expr operator||(const Expr& a, const Expr& b);
Expr operator!(const Expr& a);
Expr Implies(const Expr& a, const Expr& b);
/// The conjunction (true when empty) and disjunction (false when empty);
/// `ctx` gives the context when the list is empty.
Expr And(Context& ctx, std::span<const Expr> args);
Expr Or(Context& ctx, std::span<const Expr> args);
/// if c then a else b.
Expr Ite(const Expr& c, const Expr& a, const Expr& b);

/// A multi-pattern: a quantifier is instantiated for each way all of its
/// terms match terms of the current problem at once.
using Pattern = std::vector<Expr>;

/// For all `vars` (constants made by Context::Const), `body`. Each pattern
/// must mention every variable; `name` identifies the quantifier in Z3's
/// statistics. With no patterns Z3 picks its own.
Expr ForAll(std::span<const Expr> vars, const Expr& body, std::span<const Pattern> patterns = {},
            std::string_view name = "");

/// Outcome of a satisfiability check.
enum class CheckResult : uint8_t { kUnsat, kSat, kUnknown };

/// A Z3 solver for quantified formulas over uninterpreted functions and
/// integers, tuned for instantiation by patterns (E-matching): model-based
/// quantifier instantiation is off, so that `kSat` is rare and `kUnknown`
/// means "could not refute".
class Solver {
 public:
  explicit Solver(Context& ctx);
  ~Solver();
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;

  /// Z3 stops a check after `ms` milliseconds (then Check says kUnknown and
  /// ReasonUnknown says "timeout" or "canceled").
  void SetTimeoutMs(unsigned ms);
  /// Sets a Z3 solver parameter ("qi.eager_threshold", "qi.max_instances",
  /// ...); an unknown name is a programming error.
  void SetParam(std::string_view name, double value);
  void SetParam(std::string_view name, unsigned value);
  void SetParam(std::string_view name, bool value);
  void Add(const Expr& formula);
  /// Adds `formula` under the name `name`, reported by UnsatCore when the
  /// formula takes part in a proof of unsatisfiability.
  void AddTracked(const Expr& formula, std::string_view name);

  CheckResult Check();
  /// Why the last check was kUnknown ("timeout", "canceled", "incomplete
  /// quantifiers", ...).
  std::string ReasonUnknown() const;
  /// The names (AddTracked) of the formulas used by the last kUnsat proof,
  /// sorted.
  std::vector<std::string> UnsatCore() const;
  /// The value of an integer term in the model of the last check, when it
  /// was kSat.
  std::optional<int64_t> ModelInt(const Expr& term) const;

 private:
  struct Impl;
  Context& ctx_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lemma::smt

#endif  // LEMMA_VERIFIER_SMT_SMT_H_
