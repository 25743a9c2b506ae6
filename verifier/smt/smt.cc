#include "verifier/smt/smt.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include <z3++.h>

namespace lemma::smt {

// Conversions between the opaque handles and Z3's types, in one place.
struct Access {
  static Z3_context Ctx(const Context& c) { return const_cast<Context&>(c).z3(); }
  static Z3_ast Raw(const Ast& a) { return static_cast<Z3_ast>(a.raw()); }
  static Z3_sort RawSort(const Sort& s) { return reinterpret_cast<Z3_sort>(s.raw()); }
  static Z3_func_decl RawDecl(const Function& f) {
    return reinterpret_cast<Z3_func_decl>(f.raw());
  }
  static z3::expr Z(const Expr& e) { return z3::expr(e.context().z3(), Raw(e)); }
  static Expr Wrap(Context& c, Z3_ast a) { return Expr(&c, a); }
  static Expr Wrap(const z3::expr& e, Context& c) { return Expr(&c, static_cast<Z3_ast>(e)); }
  static Sort WrapSort(Context& c, Z3_sort s) { return Sort(&c, reinterpret_cast<Z3_ast>(s)); }
  static Function WrapDecl(Context& c, Z3_func_decl d) {
    return Function(&c, reinterpret_cast<Z3_ast>(d));
  }
};

namespace {

[[noreturn]] void Die(const char* what, const char* message) {
  std::fprintf(stderr, "lemma smt: %s: %s\n", what, message);
  std::abort();
}

// Runs `f`, turning a Z3 exception (a programming error here) into an abort.
template <typename F>
auto Guard(const char* what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const z3::exception& e) {
    Die(what, e.msg());
  }
}

Context& SameContext(const Expr& a, const Expr& b) {
  if (a.IsNull() || b.IsNull() || &a.context() != &b.context()) {
    Die("expression", "operands are null or from different contexts");
  }
  return a.context();
}

template <typename F>
Expr Binary(const char* what, const Expr& a, const Expr& b, F f) {
  Context& c = SameContext(a, b);
  return Guard(what, [&] { return Access::Wrap(f(Access::Z(a), Access::Z(b)), c); });
}

}  // namespace

// ---------------------------------------------------------------- Ast

Ast::Ast(Context* ctx, void* ast) : ctx_(ctx), ast_(ast) {
  if (ast_ != nullptr) Z3_inc_ref(Access::Ctx(*ctx_), static_cast<Z3_ast>(ast_));
}
Ast::Ast(const Ast& other) : Ast(other.ctx_, other.ast_) {}
Ast::Ast(Ast&& other) noexcept : ctx_(other.ctx_), ast_(other.ast_) { other.ast_ = nullptr; }
Ast& Ast::operator=(const Ast& other) {
  if (this != &other) {
    Ast copy(other);
    *this = std::move(copy);
  }
  return *this;
}
Ast& Ast::operator=(Ast&& other) noexcept {
  if (this != &other) {
    if (ast_ != nullptr) Z3_dec_ref(Access::Ctx(*ctx_), static_cast<Z3_ast>(ast_));
    ctx_ = other.ctx_;
    ast_ = other.ast_;
    other.ast_ = nullptr;
  }
  return *this;
}
Ast::~Ast() {
  if (ast_ != nullptr) Z3_dec_ref(Access::Ctx(*ctx_), static_cast<Z3_ast>(ast_));
}

std::string Ast::ToString() const {
  if (ast_ == nullptr) return "<null>";
  return Z3_ast_to_string(Access::Ctx(*ctx_), static_cast<Z3_ast>(ast_));
}

unsigned Ast::Id() const {
  if (ast_ == nullptr) return 0;
  return Z3_get_ast_id(Access::Ctx(*ctx_), static_cast<Z3_ast>(ast_));
}

bool Expr::IsBool() const { return !IsNull() && Access::Z(*this).is_bool(); }
bool Expr::IsInt() const { return !IsNull() && Access::Z(*this).is_int(); }

std::optional<int64_t> Expr::IntValue() const {
  if (IsNull()) return std::nullopt;
  int64_t v = 0;
  if (!Z3_get_numeral_int64(Access::Ctx(context()), Access::Raw(*this), &v)) return std::nullopt;
  return v;
}

Expr Function::operator()(std::span<const Expr> args) const {
  std::vector<Z3_ast> raw;
  raw.reserve(args.size());
  for (const Expr& a : args) {
    if (a.IsNull() || &a.context() != &context()) Die("apply", "argument from another context");
    raw.push_back(Access::Raw(a));
  }
  return Guard("apply", [&] {
    z3::context& c = context().z3();
    z3::expr e(c, Z3_mk_app(c, Access::RawDecl(*this), static_cast<unsigned>(raw.size()),
                            raw.data()));
    c.check_error();
    return Access::Wrap(e, context());
  });
}

std::string Function::Name() const {
  return z3::func_decl(context().z3(), Access::RawDecl(*this)).name().str();
}

// ---------------------------------------------------------------- Context

Context::Context() : ctx_(std::make_unique<z3::context>()) {}
Context::~Context() = default;

z3::context& Context::z3() { return *ctx_; }

Sort Context::IntSort() { return Access::WrapSort(*this, ctx_->int_sort()); }
Sort Context::BoolSort() { return Access::WrapSort(*this, ctx_->bool_sort()); }
Sort Context::UninterpretedSort(std::string_view name) {
  return Access::WrapSort(*this, ctx_->uninterpreted_sort(std::string(name).c_str()));
}

Expr Context::Int(int64_t value) {
  return Access::Wrap(ctx_->int_val(static_cast<int64_t>(value)), *this);
}
Expr Context::Bool(bool value) { return Access::Wrap(ctx_->bool_val(value), *this); }

Expr Context::Const(std::string_view name, const Sort& sort) {
  return Guard("const", [&] {
    z3::sort s(*ctx_, Access::RawSort(sort));
    return Access::Wrap(ctx_->constant(std::string(name).c_str(), s), *this);
  });
}

Function Context::Declare(std::string_view name, std::span<const Sort> domain,
                          const Sort& range) {
  std::vector<Z3_sort> raw;
  for (const Sort& s : domain) raw.push_back(Access::RawSort(s));
  return Guard("declare", [&] {
    Z3_symbol sym = Z3_mk_string_symbol(*ctx_, std::string(name).c_str());
    Z3_func_decl d = Z3_mk_func_decl(*ctx_, sym, static_cast<unsigned>(raw.size()), raw.data(),
                                     Access::RawSort(range));
    ctx_->check_error();
    return Access::WrapDecl(*this, d);
  });
}

void Context::Interrupt() { ctx_->interrupt(); }

// ---------------------------------------------------------------- operators

Expr operator+(const Expr& a, const Expr& b) {
  return Binary("+", a, b, [](const z3::expr& x, const z3::expr& y) { return x + y; });
}
Expr operator-(const Expr& a, const Expr& b) {
  return Binary("-", a, b, [](const z3::expr& x, const z3::expr& y) { return x - y; });
}
Expr operator*(const Expr& a, const Expr& b) {
  return Binary("*", a, b, [](const z3::expr& x, const z3::expr& y) { return x * y; });
}
Expr operator-(const Expr& a) {
  return Guard("neg", [&] { return Access::Wrap(-Access::Z(a), a.context()); });
}
Expr Div(const Expr& a, const Expr& b) {
  return Binary("div", a, b, [](const z3::expr& x, const z3::expr& y) { return x / y; });
}
Expr operator<(const Expr& a, const Expr& b) {
  return Binary("<", a, b, [](const z3::expr& x, const z3::expr& y) { return x < y; });
}
Expr operator<=(const Expr& a, const Expr& b) {
  return Binary("<=", a, b, [](const z3::expr& x, const z3::expr& y) { return x <= y; });
}
Expr operator>(const Expr& a, const Expr& b) { return b < a; }
Expr operator>=(const Expr& a, const Expr& b) { return b <= a; }
Expr operator==(const Expr& a, const Expr& b) {
  return Binary("==", a, b, [](const z3::expr& x, const z3::expr& y) { return x == y; });
}
Expr operator!=(const Expr& a, const Expr& b) {
  return Binary("!=", a, b, [](const z3::expr& x, const z3::expr& y) { return x != y; });
}

Expr operator+(const Expr& a, int64_t b) { return a + a.context().Int(b); }
Expr operator-(const Expr& a, int64_t b) { return a - a.context().Int(b); }
Expr operator*(int64_t a, const Expr& b) { return b.context().Int(a) * b; }
Expr operator==(const Expr& a, int64_t b) { return a == a.context().Int(b); }
Expr operator!=(const Expr& a, int64_t b) { return a != a.context().Int(b); }
Expr operator<(const Expr& a, int64_t b) { return a < a.context().Int(b); }
Expr operator<=(const Expr& a, int64_t b) { return a <= a.context().Int(b); }
Expr operator>(const Expr& a, int64_t b) { return a > a.context().Int(b); }
Expr operator>=(const Expr& a, int64_t b) { return a >= a.context().Int(b); }

Expr operator&&(const Expr& a, const Expr& b) {
  return Binary("and", a, b, [](const z3::expr& x, const z3::expr& y) { return x && y; });
}
Expr operator||(const Expr& a, const Expr& b) {
  return Binary("or", a, b, [](const z3::expr& x, const z3::expr& y) { return x || y; });
}
Expr operator!(const Expr& a) {
  return Guard("not", [&] { return Access::Wrap(!Access::Z(a), a.context()); });
}
Expr Implies(const Expr& a, const Expr& b) {
  return Binary("implies", a, b,
                [](const z3::expr& x, const z3::expr& y) { return z3::implies(x, y); });
}
Expr Ite(const Expr& c, const Expr& a, const Expr& b) {
  SameContext(c, a);
  SameContext(a, b);
  return Guard("ite", [&] {
    return Access::Wrap(z3::ite(Access::Z(c), Access::Z(a), Access::Z(b)), a.context());
  });
}

namespace {
Expr Fold(Context& ctx, std::span<const Expr> args, bool conjunction) {
  if (args.empty()) return ctx.Bool(conjunction);
  z3::expr_vector v(ctx.z3());
  for (const Expr& a : args) v.push_back(Access::Z(a));
  return Guard("and/or", [&] {
    return Access::Wrap(conjunction ? z3::mk_and(v) : z3::mk_or(v), ctx);
  });
}
}  // namespace

Expr And(Context& ctx, std::span<const Expr> args) { return Fold(ctx, args, true); }
Expr Or(Context& ctx, std::span<const Expr> args) { return Fold(ctx, args, false); }

Expr ForAll(std::span<const Expr> vars, const Expr& body, std::span<const Pattern> patterns,
            std::string_view name) {
  Context& ctx = body.context();
  if (vars.empty()) return body;
  return Guard("forall", [&] {
    z3::context& c = ctx.z3();
    std::vector<Z3_app> bound;
    for (const Expr& v : vars) bound.push_back(Z3_to_app(c, Access::Raw(v)));
    // Patterns are held (reference counted) until the quantifier holds them.
    std::vector<Z3_pattern> pats;
    for (const Pattern& p : patterns) {
      std::vector<Z3_ast> terms;
      for (const Expr& t : p) terms.push_back(Access::Raw(t));
      pats.push_back(Z3_mk_pattern(c, static_cast<unsigned>(terms.size()), terms.data()));
      c.check_error();
      Z3_inc_ref(c, Z3_pattern_to_ast(c, pats.back()));
    }
    Z3_symbol qid = Z3_mk_string_symbol(c, std::string(name).c_str());
    Z3_symbol skolem = Z3_mk_string_symbol(c, "");
    Z3_ast q = Z3_mk_quantifier_const_ex(c, true, 1, qid, skolem,
                                         static_cast<unsigned>(bound.size()), bound.data(),
                                         static_cast<unsigned>(pats.size()), pats.data(), 0,
                                         nullptr, Access::Raw(body));
    c.check_error();
    Expr out = Access::Wrap(ctx, q);
    for (Z3_pattern p : pats) Z3_dec_ref(c, Z3_pattern_to_ast(c, p));
    return out;
  });
}

// ---------------------------------------------------------------- Solver

struct Solver::Impl {
  explicit Impl(z3::context& c) : solver(c), model(c) {}
  z3::solver solver;
  z3::model model;
  bool has_model = false;
  std::string reason;
};

Solver::Solver(Context& ctx) : ctx_(ctx), impl_(std::make_unique<Impl>(ctx.z3())) {
  z3::params p(ctx.z3());
  p.set("mbqi", false);
  p.set("auto_config", false);
  impl_->solver.set(p);
}

Solver::~Solver() = default;

void Solver::SetTimeoutMs(unsigned ms) {
  z3::params p(ctx_.z3());
  p.set("timeout", ms);
  impl_->solver.set(p);
}

namespace {
template <typename T>
void SetOne(z3::context& c, z3::solver& solver, std::string_view name, T value) {
  Guard("set param", [&] {
    z3::params p(c);
    p.set(std::string(name).c_str(), value);
    solver.set(p);
  });
}
}  // namespace

void Solver::SetParam(std::string_view name, double value) {
  SetOne(ctx_.z3(), impl_->solver, name, value);
}
void Solver::SetParam(std::string_view name, unsigned value) {
  SetOne(ctx_.z3(), impl_->solver, name, value);
}
void Solver::SetParam(std::string_view name, bool value) {
  SetOne(ctx_.z3(), impl_->solver, name, value);
}

void Solver::Add(const Expr& formula) {
  Guard("add", [&] { impl_->solver.add(Access::Z(formula)); });
}

void Solver::AddTracked(const Expr& formula, std::string_view name) {
  Guard("add", [&] { impl_->solver.add(Access::Z(formula), std::string(name).c_str()); });
}

CheckResult Solver::Check() {
  impl_->has_model = false;
  impl_->reason.clear();
  try {
    const z3::check_result r = impl_->solver.check();
    if (r == z3::unsat) return CheckResult::kUnsat;
    if (r == z3::sat) {
      impl_->model = impl_->solver.get_model();
      impl_->has_model = true;
      return CheckResult::kSat;
    }
    // No model after kUnknown: completing one after a timeout can run for minutes.
    impl_->reason = impl_->solver.reason_unknown();
    return CheckResult::kUnknown;
  } catch (const z3::exception& e) {
    impl_->reason = e.msg();
    return CheckResult::kUnknown;
  }
}

std::string Solver::ReasonUnknown() const { return impl_->reason; }

std::vector<std::string> Solver::UnsatCore() const {
  std::vector<std::string> names;
  Guard("unsat core", [&] {
    const z3::expr_vector core = impl_->solver.unsat_core();
    for (unsigned i = 0; i < core.size(); ++i) names.push_back(core[i].decl().name().str());
  });
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<int64_t> Solver::ModelInt(const Expr& term) const {
  if (!impl_->has_model) return std::nullopt;
  try {
    const z3::expr v = impl_->model.eval(Access::Z(term), true);
    int64_t out = 0;
    if (v.is_numeral_i64(out)) return out;
  } catch (const z3::exception&) {
  }
  return std::nullopt;
}

}  // namespace lemma::smt
