// The search evaluates a candidate rewrite from its parent without building
// it; these tests build every candidate of the small models for real and
// check that its cost, canonical hash and size are what the evaluation said.

#include "optimizer/search_state.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "bench/models.h"
#include "ir/builder.h"
#include "ir/hash.h"
#include "ir/text_format.h"
#include "optimizer/canonical_hash.h"
#include "optimizer/rewrite.h"
#include "tests/optimizer/test_util.h"

namespace lemma {
namespace {

using ::lemma::testing::SmallModel;
using ::lemma::testing::TestRules;

// Checks every candidate of `state`; returns how many were checked.
int CheckCandidates(const SearchState& state, const RuleSet& rules, CostModel& model,
                    bool layouts, std::unique_ptr<SearchState>* first_child) {
  TargetPlanCache plans;
  CandidateEvaluator evaluator(state, model, layouts, &plans);
  int checked = 0;
  for (const Match& m : state.matcher->FindAll(rules)) {
    const Rule& rule = rules.rules()[static_cast<size_t>(m.rule)];
    SCOPED_TRACE(StrCat(rule.id, " at ", DescribeMatch(state.graph, rule, m)));
    absl::StatusOr<CandidateEval> eval = evaluator.Evaluate(rule, m);
    absl::StatusOr<std::unique_ptr<SearchState>> built =
        eval.ok() ? ApplyToState(state, rule, m, eval->layouts, model)
                  : absl::StatusOr<std::unique_ptr<SearchState>>(eval.status());
    EXPECT_EQ(eval.ok(), built.ok()) << eval.status() << " / " << built.status();
    if (!eval.ok() || !built.ok()) continue;
    const SearchState& b = **built;
    EXPECT_TRUE(b.graph.Validate().ok());
    EXPECT_NEAR(eval->cost, b.cost, 1e-12 * (1 + b.cost));
    EXPECT_EQ(eval->hash, b.hash());
    EXPECT_EQ(eval->hash, CanonicalHash(b.graph));
    EXPECT_EQ(eval->num_nodes, b.graph.num_nodes());
    EXPECT_NEAR(ComputeGraphCost(b.graph, model).total, b.cost, 1e-12 * (1 + b.cost));
    if (first_child != nullptr && *first_child == nullptr) *first_child = *std::move(built);
    ++checked;
  }
  return checked;
}

TEST(CandidateEvaluator, AgreesWithTheBuiltGraphOnEveryCandidate) {
  const RuleSet rules = TestRules();
  AnalyticalCostModel model;
  int checked = 0;
  for (const models::ModelInfo& small : models::AllModels()) {
    SCOPED_TRACE(small.name);
    absl::StatusOr<Graph> g = SmallModel(small.name);
    ASSERT_TRUE(g.ok()) << g.status();
    for (bool layouts : {false, true}) {
      absl::StatusOr<std::unique_ptr<SearchState>> root = MakeSearchState(*g, model);
      ASSERT_TRUE(root.ok()) << root.status();
      EXPECT_EQ((*root)->hash(), CanonicalHash(*g));
      std::unique_ptr<SearchState> child;
      checked += CheckCandidates(**root, rules, model, layouts, &child);
      // One level deeper: a graph the search made, with its layouts.
      if (child != nullptr) checked += CheckCandidates(*child, rules, model, layouts, nullptr);
    }
  }
  EXPECT_GT(checked, 100);
}

TEST(CandidateEvaluator, RefusesATargetOfOtherTypes) {
  // A target whose output type comes from the bindings alone: with bindings
  // that do not fit the graph it instantiates but makes another type, and
  // the rewrite must be refused, not applied.
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
rule ones {
  status tested
  example m=2, n=3
  source {
    input a: [m, n]
    %0 = relu(a)
    output y = %0
  }
  target {
    %0 = const_ones() {shape=[m, n]}
    output y = %0
  }
})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  GraphBuilder b("g");
  b.Output("y", b.Relu(b.Input("x", DType::kF32, {2, 3})));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  AnalyticalCostModel model;
  absl::StatusOr<std::unique_ptr<SearchState>> state = MakeSearchState(*g, model);
  ASSERT_TRUE(state.ok());
  const std::vector<Match> matches = (*state)->matcher->FindAll(*rules);
  ASSERT_EQ(matches.size(), 1u);
  TargetPlanCache plans;
  CandidateEvaluator evaluator(**state, model, true, &plans);
  EXPECT_TRUE(evaluator.Evaluate(rules->rules()[0], matches[0]).ok());
  Match wrong = matches[0];
  wrong.bindings["m"] = 1;
  absl::StatusOr<CandidateEval> e = evaluator.Evaluate(rules->rules()[0], wrong);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              ::testing::HasSubstr("output 'y' is f32[2,3] in the graph but the target makes f32[1,3]"));
  absl::StatusOr<Graph> applied = ApplyMatch(*g, rules->rules()[0], wrong);
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(std::string(applied.status().message()), ::testing::HasSubstr("rule ones: output 'y'"));
}

// Rewrites whose replacing value has another layout or another precomputed
// status than the value it replaces: the consumers downstream must be costed
// again. The rules only exercise the evaluator (`keep_weight` is not true).
TEST(CandidateEvaluator, RecostsConsumersWhoseInputsChange) {
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
rule conv_identity {
  status tested
  example c=4, h=5, n=2, w=5
  source {
    input x: [n, c, h, w]
    %0 = const_iconv() {channels=c, kernel=[3, 3]}
    %1 = conv2d(x, %0) {padding=same}
    output y = %1
  }
  target {
    output y = x
  }
}
rule keep_weight {
  status tested
  example c=4, h=5, n=2, w=5
  source {
    input a: [n, c, h, w]
    input b: [n, c, h, w]
    %0 = ewadd(a, b)
    output y = %0
  }
  target {
    output y = b
  }
})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  absl::StatusOr<Graph> g = ParseGraph(R"(graph g {
  input x: f32[1,4,6,6]
  weight b: f32[1,4,6,6]
  weight k: f32[4,4,3,3]
  i = const_iconv() {channels=4, kernel=[3,3]}
  c = conv2d(x, i) {padding=same} : f32[1,4,6,6]@nhwc
  r = relu(c) : f32[1,4,6,6]@nhwc
  o = conv2d(r, k) {padding=same} : f32[1,4,6,6]@nhwc
  s = ewadd(x, b)
  t = relu(s)
  u = ewmul(t, o) : f32[1,4,6,6]@nhwc
  output y = u
})");
  ASSERT_TRUE(g.ok()) << g.status();
  AnalyticalCostModel model;
  for (bool layouts : {false, true}) {
    absl::StatusOr<std::unique_ptr<SearchState>> state = MakeSearchState(*g, model);
    ASSERT_TRUE(state.ok()) << state.status();
    const std::vector<Match> matches = (*state)->matcher->FindAll(*rules);
    ASSERT_EQ(matches.size(), 3u);  // conv_identity, keep_weight both ways round
    TargetPlanCache plans;
    CandidateEvaluator evaluator(**state, model, layouts, &plans);
    for (const Match& m : matches) {
      const Rule& rule = rules->rules()[static_cast<size_t>(m.rule)];
      SCOPED_TRACE(StrCat(rule.id, " at ", DescribeMatch((*state)->graph, rule, m)));
      absl::StatusOr<CandidateEval> eval = evaluator.Evaluate(rule, m);
      ASSERT_TRUE(eval.ok()) << eval.status();
      absl::StatusOr<std::unique_ptr<SearchState>> built =
          ApplyToState(**state, rule, m, eval->layouts, model);
      ASSERT_TRUE(built.ok()) << built.status();
      EXPECT_NEAR(eval->cost, (*built)->cost, 1e-15);
      EXPECT_EQ(eval->hash, (*built)->hash());
      EXPECT_EQ(eval->num_nodes, (*built)->graph.num_nodes());
    }
  }
  // After keep_weight (y = b), relu(b) is precomputed: free, and it frees u's input.
  absl::StatusOr<std::unique_ptr<SearchState>> state = MakeSearchState(*g, model);
  ASSERT_TRUE(state.ok());
  const std::vector<Match> matches = (*state)->matcher->FindAll(*rules);
  const Rule& keep = *rules->Find("keep_weight");
  for (const Match& m : matches) {
    if (&rules->rules()[static_cast<size_t>(m.rule)] != &keep) continue;
    if (m.inputs[1] != *(*state)->graph.FindValue("b")) continue;
    absl::StatusOr<std::unique_ptr<SearchState>> built = ApplyToState(**state, keep, m, {}, model);
    ASSERT_TRUE(built.ok());
    const Graph& b = (*built)->graph;
    const NodeId t = b.FindValue("t")->node;
    EXPECT_TRUE((*built)->precomputed[static_cast<size_t>(t)]);
    EXPECT_EQ((*built)->node_cost[static_cast<size_t>(t)], 0.0);
  }
}

TEST(CanonicalHash, IgnoresNumberingNamesAndLayouts) {
  // The same computation written in two orders with other intermediate names.
  absl::StatusOr<Graph> a = ParseGraph(R"(graph g {
  input x: f32[1,4,6,6]
  weight w1: f32[4,4,3,3]
  weight w2: f32[4,4,1,1]
  p = conv2d(x, w1) {padding=same}
  q = conv2d(x, w2)
  s = ewadd(p, q)
  output y = s
})");
  absl::StatusOr<Graph> b = ParseGraph(R"(graph h {
  weight w2: f32[4,4,1,1]
  input x: f32[1,4,6,6]
  other = conv2d(x, w2)
  weight w1: f32[4,4,3,3]
  %0 = conv2d(x, w1) {padding=same} : f32[1,4,6,6]@nhwc
  s2 = ewadd(%0, other)
  output y = s2
})");
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(CanonicalHash(*a), CanonicalHash(*b));
  EXPECT_NE(StructuralHash(*a), StructuralHash(*b));  // the layout differs
  // Other wiring is another graph.
  Graph c = *a;
  ASSERT_TRUE(c.ReplaceAllUsesWith(*c.FindValue("s"), *c.FindValue("p")).ok());
  EXPECT_NE(CanonicalHash(c), CanonicalHash(*a));
}

}  // namespace
}  // namespace lemma
