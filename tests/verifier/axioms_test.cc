#include "verifier/axioms.h"

#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "verifier/encode.h"
#include "verifier/validate.h"

namespace lemma::verifier {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// ---------------------------------------------------------------- every axiom

class AxiomTest : public ::testing::TestWithParam<std::string> {};

// Each axiom holds on concrete tensors (float64 and modulo p) at many sizes
// and attributes, and its sides agree on being well-typed; at three seeds,
// and with enough samples that test more than the guard.
TEST_P(AxiomTest, HoldsOnConcreteTensors) {
  const Axiom* axiom = FindAxiom(GetParam());
  ASSERT_NE(axiom, nullptr);
  for (uint64_t seed : {1, 2, 3}) {
    const ValidationReport report = ValidateAxiom(*axiom, {.seed = seed});
    ASSERT_TRUE(report.status.ok()) << report.status;
    EXPECT_GE(report.exercised * 8, report.samples)
        << axiom->name << ": only " << report.exercised << " of " << report.samples
        << " samples tested more than the guard";
  }
}

TEST_P(AxiomTest, HasPatternsOverItsVariables) {
  const Axiom* axiom = FindAxiom(GetParam());
  ASSERT_NE(axiom, nullptr);
  const std::vector<std::vector<Term>> triggers = TriggersOf(*axiom);
  ASSERT_FALSE(triggers.empty()) << axiom->name << " has no E-matching pattern";
  const FreeVars vars = CollectFreeVars(axiom->formula);
  for (const std::vector<Term>& pattern : triggers) {
    std::set<std::string> covered;
    for (const Term& t : pattern) {
      EXPECT_FALSE(HasArithmetic(t)) << axiom->name << ": " << t.ToString();
      const FreeVars v = CollectFreeVars(t);
      for (const Term& x : v.tensors) covered.insert("t:" + x.node().name);
      for (const Term& x : v.ints) covered.insert("i:" + x.node().name);
    }
    for (const Term& x : vars.tensors) EXPECT_TRUE(covered.contains("t:" + x.node().name));
    for (const Term& x : vars.ints) EXPECT_TRUE(covered.contains("i:" + x.node().name));
  }
}

std::vector<std::string> AxiomNames() {
  std::vector<std::string> names;
  for (const Axiom& a : Axioms()) names.push_back(a.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EveryAxiom, AxiomTest, ::testing::ValuesIn(AxiomNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(Axioms, NamesAreUniqueAndEachHasAMeaning) {
  std::set<std::string> names;
  for (const Axiom& a : Axioms()) {
    EXPECT_TRUE(names.insert(a.name).second) << a.name;
    EXPECT_FALSE(a.meaning.empty()) << a.name;
    EXPECT_EQ(a.meaning.find('\n'), std::string::npos) << a.name;
  }
  EXPECT_GE(names.size(), 150u);
}

TEST(Axioms, SetIdNamesTheVersionAndHashesTheFormulas) {
  EXPECT_THAT(AxiomSetId(), MatchesRegex("lemma-axioms-1-[0-9a-f]{8}"));
  EXPECT_EQ(AxiomSetId(), AxiomSetId());
}

// The families the verifier needs, by a representative each.
TEST(Axioms, CoverTheOperatorSet) {
  for (const char* name :
       {"ewadd_comm", "ewmul_distrib", "scalar_mul_matmul_left", "matmul_assoc",
        "matmul_linear_right", "conv_linear_weight", "conv_concat_weight", "conv_group_merge",
        "conv_enlarge", "conv_identity", "conv_const_pool", "matmul_identity_right",
        "ewmul_ones_r4", "relu_concat", "relu_maxpool", "avgpool_concat", "split_concat_0",
        "concat_split", "transpose_transpose_r2", "transpose_concat_r2", "matmul_transpose",
        "enlarge_concat", "conv2d_dims", "concat2_dims", "split2_0_dims", "matmul_strict"}) {
    EXPECT_NE(FindAxiom(name), nullptr) << name;
  }
}

// ---------------------------------------------------------------- planted false axioms

const TensorTerm x = TensorVar("x"), y = TensorVar("y"), z = TensorVar("z"), w = TensorVar("w");

IntTerm Size(const char* name, int64_t high = 3) { return IntVar(name, 1, high); }

ShapeCase Shapes(std::vector<std::pair<TensorTerm, std::vector<IntTerm>>> shapes,
                 BoolTerm where = BoolTerm::Constant(true)) {
  return ShapeCase{std::move(shapes), std::move(where)};
}

void ExpectCaught(const Axiom& axiom, const char* why) {
  const ValidationReport report = ValidateAxiom(axiom);
  ASSERT_FALSE(report.status.ok()) << axiom.name << " passed validation";
  EXPECT_THAT(std::string(report.status.message()), HasSubstr(axiom.name));
  EXPECT_THAT(std::string(report.status.message()), HasSubstr(why));
}

TEST(PlantedAxioms, ReluIsNotAdditive) {
  const IntTerm a = Size("a"), b = Size("b");
  ExpectCaught({"relu_additive", "false", Relu(x + y) == Relu(x) + Relu(y),
                {Shapes({{x, {a, b}}, {y, {a, b}}})}},
               "is false at");
}

TEST(PlantedAxioms, MatMulDoesNotCommute) {
  const IntTerm n = Size("n");
  ExpectCaught({"matmul_comm", "false", MatMul(x, y) == MatMul(y, x),
                {Shapes({{x, {n, n}}, {y, {n, n}}})}},
               "is false at");
}

// TASO's grouped-convolution merge (commented out there as wrong): the same
// group count on both sides, whatever the channels.
TEST(PlantedAxioms, TasoGroupMergeIsWrong) {
  const ConvAttrs p = {.padding = 1, .groups = IntVar("g", 1, 2)};
  const IntTerm n = Size("n", 2), c = Size("c", 2), h = Size("h", 4), o1 = Size("o1", 4),
                o2 = Size("o2", 4), cz = Size("cz", 4);
  ExpectCaught({"taso_group_merge", "false",
                Concat(1, {Conv2d(x, y, p), Conv2d(z, w, p)}) ==
                    Conv2d(Concat(1, {x, z}), Concat(0, {y, w}), p),
                {Shapes({{x, {n, c * p.groups, h, h}},
                         {y, {o1, c, 3, 3}},
                         {z, {n, cz, h, h}},
                         {w, {o2, c, 3, 3}}})}},
               "is false at");
}

// TASO states that enlarging a kernel under same padding changes nothing for
// every stride; with stride 2 the window moves when the padding would be
// negative.
TEST(PlantedAxioms, EnlargeWithStrideTwoIsWrong) {
  const IntTerm n = Size("n", 2), c = Size("c", 2), h = Size("h", 8), s = IntVar("s", 1, 2);
  const ConvAttrs p = {.stride_h = s, .stride_w = s, .padding = 1};
  const TensorTerm r = Conv2d(x, Enlarge(w, 3, 3), p);
  ExpectCaught({"enlarge_any_stride", "false", Implies(Ok(r), r == Conv2d(x, w, p)),
                {Shapes({{x, {n, c, h, h}}, {w, {c, c, 1, 1}}})}},
               "is false at");
}

// Unguarded, conv2d's linearity in its input claims that when the sum of two
// conv2ds exists so does the conv2d of the sum: with stride 2, inputs of
// different sizes give outputs of one size (caught on values or on shapes).
TEST(PlantedAxioms, UnguardedLinearityIsCaughtOnShapes) {
  const IntTerm n = Size("n", 2), c = Size("c", 2), h = Size("h", 5);
  const ConvAttrs p = {.stride_h = 2, .stride_w = 2};
  ExpectCaught({"conv_linear_unguarded", "false",
                Conv2d(x + y, w, p) == Conv2d(x, w, p) + Conv2d(y, w, p),
                {Shapes({{x, {n, c, h, h}}, {y, {n, c, h, h}}, {w, {c, c, 1, 1}}})}},
               "is false at");
}

// Concats whose split points differ add up, while their parts do not: only
// the shape phase, which shuffles sizes among the tensors, finds this one.
TEST(PlantedAxioms, ConcatOfSumsNeedsTheSameSplitPoints) {
  const IntTerm a = Size("a"), b = Size("b");
  ExpectCaught({"concat_sums_unguarded", "false",
                Concat(0, {x, z}) + Concat(0, {y, w}) == Concat(0, {x + y, z + w}),
                {Shapes({{x, {a}}, {y, {a}}, {z, {b}}, {w, {b}}})}},
               "is false at");
}

TEST(PlantedAxioms, ReadingTheDimOfBottomIsAnError) {
  const IntTerm a = Size("a"), i = IntVar("i", 0, 1);
  const ValidationReport report =
      ValidateAxiom({"unguarded_dim", "reads a dim of a maybe-bottom term",
                     Dim(x + y, i) == Dim(x, i), {Shapes({{x, {a, a}}, {y, {a, a}}})}});
  ASSERT_FALSE(report.status.ok());
  EXPECT_THAT(std::string(report.status.message()), HasSubstr("dim of bottom"));
}

}  // namespace
}  // namespace lemma::verifier
