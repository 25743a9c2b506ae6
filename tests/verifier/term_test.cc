#include "verifier/term.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "verifier/encode.h"
#include "verifier/evaluate.h"

namespace lemma::verifier {
namespace {

using ::testing::HasSubstr;

const TensorTerm x = TensorVar("x"), y = TensorVar("y");

TEST(Term, PrintsEveryAttribute) {
  const IntTerm ax = IntVar("ax", 0, 3);
  EXPECT_EQ((x + y).ToString(), "ewadd(x, y)");
  EXPECT_EQ(Split(ax, {2, IntVar("b", 1, 3)}, x, 1).ToString(),
            "split{axis=ax,sizes=[2, b]}.1(x)");
  EXPECT_EQ(Conv2d(x, y, {}).ToString(),
            "conv2d{stride=[1, 1],padding=0,pads=[0, 0, 0, 0],dilation=[1, 1],groups=1,"
            "activation=0}(x, y)");
  EXPECT_EQ(ConstOnes({2, 3}).ToString(), "const_ones{shape=[2, 3]}()");
  EXPECT_EQ(Implies(Ok(x), Dim(x, 1) == IntTerm(3) + ax).ToString(),
            "(ok(x) => (dim(x, 1) == (3 + ax)))");
}

TEST(Term, StructuralEqualityAndVariables) {
  EXPECT_TRUE(SameTerm(Relu(x + y), Relu(x + y)));
  EXPECT_FALSE(SameTerm(Relu(x + y), Relu(y + x)));
  const FreeVars v = CollectFreeVars(Implies(Ok(x), Dim(y, IntVar("i", 0, 3)) == IntTerm(1)));
  ASSERT_EQ(v.tensors.size(), 2u);
  EXPECT_EQ(v.tensors[0].node().name, "x");
  ASSERT_EQ(v.ints.size(), 1u);
  EXPECT_EQ(v.ints[0].node().name, "i");
  EXPECT_TRUE(HasArithmetic(Split(0, {IntVar("a", 1, 2) + IntTerm(1)}, x, 0)));
  EXPECT_FALSE(HasArithmetic(Split(0, {IntVar("a", 1, 2)}, x, 0)));
  EXPECT_EQ(CollectApplications(Relu(x + y) + (x + y)).size(), 3u);
}

TEST(Term, FunctionNamesFollowSignatures) {
  EXPECT_EQ(OpFunctionName((x + y).node()), "ewadd");
  EXPECT_EQ(OpFunctionName(Concat(1, {x, y, x}).node()), "concat_3");
  EXPECT_EQ(OpFunctionName(Split(1, {1, 2}, x, 1).node()), "split_2_o1");
  EXPECT_EQ(OpFunctionName(Transpose({1, 0}, x).node()), "transpose_2");
}

TEST(Term, TriggersAreOrientedAndRespectGuards) {
  const TensorTerm l = Relu(Concat(0, {x, y})), r = Concat(0, {Relu(x), Relu(y)});
  std::vector<std::vector<Term>> t = ChooseTriggers(l == r);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(SameTerm(t[0][0], l));
  t = ChooseTriggers(Implies(Ok(r), l == r));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_TRUE(SameTerm(t[0][0], r));
  t = ChooseTriggers(Implies(Ok(l) && Ok(r), l == r));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].size(), 2u);
  // A side with arithmetic cannot be a pattern.
  const IntTerm a = IntVar("a", 1, 3);
  t = ChooseTriggers(Split(0, {a + IntTerm(1)}, x, 0) == Split(0, {a}, x, 0));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_FALSE(HasArithmetic(t[0][0]));
  EXPECT_TRUE(ChooseTriggers(Implies(Ok(x), Dim(x, 0) == IntTerm(1))).empty());
}

// The semantics of term.h: ill-typed applications are bottom, strictly.
TEST(Evaluate, BottomSemantics) {
  Assignment a;
  a.tensors["x"] = Dims{2, 3};
  a.tensors["y"] = Dims{3, 2};
  a.ints["i"] = 1;
  TermEvaluator<F64> eval(a, 1);
  EXPECT_EQ(*eval.IsOk(x + y), false);
  EXPECT_EQ(*eval.IsOk(Relu(x + y)), false);
  EXPECT_EQ(*eval.IsOk(MatMul(x, y)), true);
  EXPECT_EQ(*eval.Eval(Relu(x + y) == Relu(y + x)), true);  // both bottom
  EXPECT_EQ(*eval.Eval(Relu(x + x) == Relu(x) + Relu(x)), true);
  EXPECT_EQ(*eval.Eval(MatMul(x, y) == MatMul(y, x)), false);
  EXPECT_EQ(*eval.EvalInt(Dim(MatMul(x, y), IntVar("i", 0, 1))), 2);
  EXPECT_EQ(*eval.EvalInt(Dim(x, 7)), 0);
  EXPECT_EQ(*eval.EvalInt(Rank(Transpose({1, 0}, x))), 2);
  EXPECT_EQ(*eval.EvalInt(FloorDiv(IntTerm(-7), IntTerm(2))), -4);
  const absl::StatusOr<int64_t> bad = eval.EvalInt(Dim(x + y, 0));
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("dim of bottom"));
  // A guard that fails first keeps the undefined dim from being read.
  EXPECT_EQ(*eval.Eval(Implies(Ok(x + y), Dim(x + y, 0) == IntTerm(2))), true);
}

TEST(Evaluate, ModPAndBottomVariables) {
  Assignment a;
  a.tensors["x"] = Dims{4};
  a.tensors["y"] = std::nullopt;
  TermEvaluator<ModP> eval(a, 3);
  EXPECT_EQ(*eval.IsOk(y), false);
  EXPECT_EQ(*eval.IsOk(x + y), false);
  EXPECT_EQ(*eval.Eval(x * (x + x) == x * x + x * x), true);
  EXPECT_FALSE(eval.Eval(Relu(TensorVar("z")) == x).ok());  // z has no value
}

}  // namespace
}  // namespace lemma::verifier
