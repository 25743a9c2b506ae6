#include "rules/pattern.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "rules/rule.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"

namespace lemma {
namespace {

using ::lemma::testing::Message;
using ::testing::HasSubstr;

TEST(DimExpr, SumsAreCanonical) {
  const DimExpr a = DimExpr::Var("c2") + DimExpr::Var("c1") + 3;
  const DimExpr b = DimExpr(1) + DimExpr::Var("c1") + DimExpr(2) + DimExpr::Var("c2");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.ToString(), "c1+c2+3");
  EXPECT_EQ(DimExpr(7).ToString(), "7");
  EXPECT_EQ(DimExpr::Var("n").AsVar(), "n");
  EXPECT_FALSE(a.AsVar());
  EXPECT_EQ(*a.Evaluate({{"c1", 4}, {"c2", 5}}), 12);
  EXPECT_THAT(Message(a.Evaluate({{"c1", 4}}).status()), HasSubstr("'c2' is not bound"));
  EXPECT_FALSE((DimExpr::Var("x") + DimExpr::Var("x")).Evaluate({{"x", INT64_MAX}}).ok());
}

const Rule& ConvMerge() {
  static const RuleSet* rules = [] {
    absl::StatusOr<RuleSet> r = ReadRuleFile(::lemma::testing::DataPath("rules/data/handwritten.rules"));
    EXPECT_TRUE(r.ok()) << r.status();
    return new RuleSet(r.ok() ? *std::move(r) : RuleSet());
  }();
  const Rule* rule = rules->Find("conv_merge");
  EXPECT_NE(rule, nullptr);
  return *rule;
}

TEST(BindPattern, BindsDimsAndChecksAttributes) {
  const Rule& rule = ConvMerge();
  const Attributes conv = [] {
    Attributes a(OpKind::kConv2d);
    EXPECT_TRUE(a.SetEnum("padding", "same").ok());
    return a;
  }();
  const std::vector<const Attributes*> attrs = {nullptr, nullptr, nullptr, &conv, &conv};
  const std::vector<TensorType> types = {TensorType::Make(DType::kF32, {1, 8, 7, 7}),
                                         TensorType::Make(DType::kF32, {16, 8, 3, 3}),
                                         TensorType::Make(DType::kF32, {32, 8, 3, 3})};
  absl::StatusOr<Bindings> b = BindPattern(rule.source, types, attrs);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*b, (Bindings{{"c", 8}, {"h", 7}, {"n", 1}, {"o1", 16}, {"o2", 32}, {"w", 7}}));

  // The weights disagree on the input channels.
  std::vector<TensorType> bad = types;
  bad[2] = TensorType::Make(DType::kF32, {32, 4, 3, 3});
  absl::StatusOr<Bindings> e = BindPattern(rule.source, bad, attrs);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(Message(e.status()), HasSubstr("dim 1 of input w2: 'c' is 8 elsewhere but 4 here"));

  // A 1x1 kernel does not match the literal 3.
  bad = types;
  bad[1] = TensorType::Make(DType::kF32, {16, 8, 1, 1});
  EXPECT_THAT(Message(BindPattern(rule.source, bad, attrs).status()),
              HasSubstr("dim 2 of input w1: expected 3 = 3, found 1"));

  // Explicit padding is not the pattern's "same".
  const Attributes explicit_conv(OpKind::kConv2d);
  const std::vector<const Attributes*> other = {nullptr, nullptr, nullptr, &explicit_conv, &conv};
  EXPECT_THAT(Message(BindPattern(rule.source, types, other).status()),
              HasSubstr("attribute padding of conv2d (pattern node 3)"));
  // Rank mismatch.
  bad = types;
  bad[0] = TensorType::Make(DType::kF32, {8, 7, 7});
  EXPECT_THAT(Message(BindPattern(rule.source, bad, attrs).status()),
              HasSubstr("input x must have rank 4, found 3"));
}

TEST(BindPattern, AttributeVariablesBindAndSumsCompare) {
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
rule r {
  example a=2, b=3, k=1, n=4
  source {
    input x: [n, a]
    input y: [n, b]
    %0 = concat(x, y) {axis=k}
    %1, %2 = split(%0) {axis=k, sizes=[a, b]}
    output p = %1
    output q = %2
  }
  target {
    output p = x
    output q = y
  }
})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  const Pattern& src = rules->rules()[0].source;
  Attributes concat(OpKind::kConcat), split(OpKind::kSplit);
  ASSERT_TRUE(concat.Set("axis", int64_t{1}).ok());
  ASSERT_TRUE(split.Set("axis", int64_t{1}).ok());
  ASSERT_TRUE(split.Set("sizes", std::vector<int64_t>{2, 3}).ok());
  const std::vector<TensorType> types = {TensorType::Make(DType::kF64, {4, 2}),
                                         TensorType::Make(DType::kF64, {4, 3})};
  std::vector<const Attributes*> attrs = {nullptr, nullptr, &concat, &split};
  absl::StatusOr<Bindings> b = BindPattern(src, types, attrs);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->at("k"), 1);
  // A split at another position is not the inverse of the concat.
  ASSERT_TRUE(split.Set("sizes", std::vector<int64_t>{3, 2}).ok());
  EXPECT_THAT(Message(BindPattern(src, types, attrs).status()),
              HasSubstr("'a' is 2 elsewhere but 3 here"));
}

TEST(InstantiateInto, BuildsTheTargetOnExistingValues) {
  const Rule& rule = ConvMerge();
  GraphBuilder gb("g");
  const Value x = gb.Input("x", DType::kF32, {1, 8, 7, 7});
  const Value w1 = gb.Weight("a", DType::kF32, {16, 8, 3, 3});
  const Value w2 = gb.Weight("b", DType::kF32, {32, 8, 3, 3});
  gb.Output("x", x);
  absl::StatusOr<Graph> g = std::move(gb).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  const Bindings b = {{"c", 8}, {"h", 7}, {"n", 1}, {"o1", 16}, {"o2", 32}, {"w", 7}};
  const std::vector<ValueId> inputs = {x, w1, w2};
  absl::StatusOr<std::vector<ValueId>> outs =
      InstantiateInto(rule.target, b, DType::kF32, inputs, *g);
  ASSERT_TRUE(outs.ok()) << outs.status();
  ASSERT_EQ(outs->size(), 2u);
  EXPECT_EQ(g->type((*outs)[0]).dims, (Dims{1, 16, 7, 7}));
  EXPECT_EQ(g->type((*outs)[1]).dims, (Dims{1, 32, 7, 7}));
  EXPECT_EQ(g->node((*outs)[0].node).op, OpKind::kSplit);
  EXPECT_TRUE(g->Validate().ok());
  // Sizes that do not fit the bound values fail with the pattern node named.
  const Bindings wrong = {{"c", 8}, {"h", 7}, {"n", 1}, {"o1", 16}, {"o2", 30}, {"w", 7}};
  absl::StatusOr<std::vector<ValueId>> e =
      InstantiateInto(rule.target, wrong, DType::kF32, inputs, *g);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(Message(e.status()), HasSubstr("pattern node 5: split"));
}

TEST(InstantiateInto, ConstantsTakeThePatternDType) {
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
rule r {
  example c=2, h=3, n=1, w=3
  source {
    input x: [n, c, h, w]
    %0 = const_iconv() {channels=c, kernel=[3, 3]}
    %1 = conv2d(x, %0) {padding=same}
    output y = %1
  }
  target { output y = x }
})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  for (DType dtype : {DType::kF32, DType::kF64}) {
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rules->rules()[0], dtype);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->source.node(1).outputs[0].dtype, dtype);
  }
}

TEST(RuleSet, IndexesByRootAndFiltersByStatus) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(::lemma::testing::DataPath("rules/data/handwritten.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  std::vector<std::string> ewadd_rooted;
  for (int i : rules->RootedAt(OpKind::kEwAdd)) ewadd_rooted.push_back(rules->rules()[i].id);
  EXPECT_THAT(ewadd_rooted, ::testing::ElementsAre("matmul_distributes", "ewadd_commutes"));
  EXPECT_TRUE(rules->RootedAt(OpKind::kSoftmax).empty());
  EXPECT_EQ(rules->WithStatus(RuleStatus::kTested).size(), rules->size());
  EXPECT_EQ(rules->WithStatus(RuleStatus::kProved).size(), 0);
  EXPECT_EQ(rules->CountByStatus()[static_cast<size_t>(RuleStatus::kTested)], rules->size());
}

TEST(CheckRule, ProvedNeedsAnAxiomSet) {
  absl::StatusOr<RuleSet> rules = ParseRules(
      "rule r { source { input a: [2] %0 = relu(a) output y = %0 } "
      "target { %0 = relu(a) output y = %0 } }");
  ASSERT_TRUE(rules.ok());
  Rule rule = rules->rules()[0];
  rule.status = RuleStatus::kProved;
  EXPECT_THAT(Message(CheckRule(rule)), HasSubstr("rule r: a proved rule must name its axiom set"));
  rule.axiom_set = "x";
  EXPECT_TRUE(CheckRule(rule).ok());
}

}  // namespace
}  // namespace lemma
