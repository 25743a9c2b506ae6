#include "verifier/smt/smt.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lemma::smt {
namespace {

using ::testing::ElementsAre;

TEST(Smt, QuantifiedLawProvesAnInstance) {
  Context ctx;
  const Sort t = ctx.UninterpretedSort("T");
  const Function add = ctx.Declare("add", {t, t}, t);
  const Expr x = ctx.Const("x", t), y = ctx.Const("y", t);
  const Expr a = ctx.Const("a", t), b = ctx.Const("b", t);
  Solver s(ctx);
  const Pattern pattern = {add({x, y})};
  s.Add(ForAll(std::vector<Expr>{x, y}, add({x, y}) == add({y, x}), {&pattern, 1}, "comm"));
  s.Add(add({a, b}) != add({b, a}));
  EXPECT_EQ(s.Check(), CheckResult::kUnsat);
}

TEST(Smt, UnsatCoreNamesTheTrackedFormulasUsed) {
  Context ctx;
  const Expr p = ctx.Const("p", ctx.IntSort());
  Solver s(ctx);
  s.AddTracked(p > 3, "big");
  s.AddTracked(p < 2, "small");
  s.AddTracked(p != 10, "not_ten");
  EXPECT_EQ(s.Check(), CheckResult::kUnsat);
  EXPECT_THAT(s.UnsatCore(), ElementsAre("big", "small"));
}

TEST(Smt, SatHasAModel) {
  Context ctx;
  const Expr p = ctx.Const("p", ctx.IntSort()), q = ctx.Const("q", ctx.IntSort());
  Solver s(ctx);
  s.Add(p + q == 7 && p - q == 1);
  ASSERT_EQ(s.Check(), CheckResult::kSat);
  EXPECT_EQ(s.ModelInt(p), 4);
  EXPECT_EQ(s.ModelInt(q), 3);
  EXPECT_EQ(s.ModelInt(Div(p + q, ctx.Int(2))), 3);
}

TEST(Smt, ArithmeticAndConnectives) {
  Context ctx;
  const Expr n = ctx.Const("n", ctx.IntSort());
  Solver s(ctx);
  s.Add(Implies(n > 0, Ite(n == 1, ctx.Int(5), 2 * n) >= 4));
  s.Add(n == 1 || n == 2);
  s.Add(!(n == 2));
  EXPECT_EQ(s.Check(), CheckResult::kSat);
  EXPECT_EQ(s.ModelInt(n), 1);
  EXPECT_EQ(ctx.Int(42).IntValue(), 42);
  EXPECT_EQ(n.IntValue(), std::nullopt);
  EXPECT_TRUE((n > 0).IsBool());
  EXPECT_TRUE((n + 1).IsInt());
}

// Without instantiation patterns that can fire, E-matching cannot refute:
// the answer is kUnknown (never a wrong kUnsat), with a reason.
TEST(Smt, IncompleteQuantifiersAreUnknown) {
  Context ctx;
  const Sort t = ctx.UninterpretedSort("T");
  const Function f = ctx.Declare("f", {t}, t);
  const Expr x = ctx.Const("x", t), a = ctx.Const("a", t);
  Solver s(ctx);
  const Pattern pattern = {f({f({x})})};
  s.Add(ForAll(std::vector<Expr>{x}, f({f({x})}) == x, {&pattern, 1}));
  s.Add(f({a}) != a);
  EXPECT_NE(s.Check(), CheckResult::kUnsat);
}

TEST(Smt, ExpressionsAreValuesWithIdentity) {
  Context ctx;
  const Expr a = ctx.Const("a", ctx.IntSort());
  Expr b = a;
  Expr c;
  EXPECT_TRUE(c.IsNull());
  c = b + 1;
  EXPECT_EQ((a + 1).Id(), c.Id());  // hash-consed
  EXPECT_EQ(c.ToString(), "(+ a 1)");
}

}  // namespace
}  // namespace lemma::smt
