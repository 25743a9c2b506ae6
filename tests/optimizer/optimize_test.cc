#include "optimizer/optimize.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "bench/models.h"
#include "ir/builder.h"
#include "ir/text_format.h"
#include "kernels/compare.h"
#include "optimizer/graph_cost.h"
#include "rules/rule_text.h"
#include "tests/optimizer/test_util.h"

namespace lemma {
namespace {

using ::lemma::testing::SmallModel;
using ::lemma::testing::TestRules;
using ::testing::HasSubstr;

OptimizeOptions Tested(int64_t budget = 100) {
  return {.budget = budget, .time_limit = std::chrono::seconds(120), .min_status = RuleStatus::kTested};
}

std::string StepsText(const OptimizeResult& r) {
  std::string out;
  for (const AppliedStep& s : r.steps) StrAppend(&out, s.rule_id, " @ ", s.where, "; ");
  return out;
}

// Every extra rule holds on random inputs, at its example sizes and at twice them.
TEST(ExtraRules, HoldOnRandomInputs) {
  const RuleSet rules = TestRules({"optimizer/data/extra.rules"});
  EXPECT_GE(rules.size(), 9);
  for (const Rule& rule : rules.rules()) {
    SCOPED_TRACE(rule.id);
    Bindings twice = rule.example;
    for (auto& [name, value] : twice) value *= 2;
    for (const Bindings* sizes : {&rule.example, static_cast<const Bindings*>(&twice)}) {
      absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64, sizes);
      ASSERT_TRUE(g.ok()) << g.status();
      absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(g->source, g->target, 1, 3);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_TRUE(c->equal) << c->mismatch;
      absl::StatusOr<Comparison> m = CompareOnRandomInputs<ModP>(g->source, g->target, 1, 2);
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_TRUE(m->equal) << m->mismatch;
    }
  }
}

// Repeated computations (a NASNet cell pools its input twice) merge before
// the search, as the first step, and the graph computes what it did.
TEST(Optimize, MergesRepeatedOpsFirst) {
  GraphBuilder b("cell");
  const Value x = b.Input("x", DType::kF32, {1, 8, 10, 10});
  const Pool2dOptions p{.kernel = {3, 3}, .padding = Padding::kSame};
  const Value h = b.Conv2d(x, 8, {1, 1});
  b.Output("y", b.Concat({b.EwAdd(b.AvgPool2d(h, p), h), b.EwAdd(b.AvgPool2d(h, p), x)}, 1));
  const Graph g = *std::move(b).Build();
  absl::StatusOr<OptimizeResult> r = Optimize(g, TestRules(), Tested(50));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->steps.empty());
  EXPECT_EQ(r->steps[0].kind, AppliedStep::Kind::kMerged);
  EXPECT_EQ(r->steps[0].where, "1 repeated op merged");
  EXPECT_EQ(AppliedStep::KindName(r->steps[0].kind), "merged");
  EXPECT_LT(r->steps[0].cost_after, r->cost_before);
  EXPECT_LE(r->cost_after, r->steps[0].cost_after);
  int pools = 0;
  for (const Node& n : r->graph.nodes()) pools += n.op == OpKind::kAvgPool2d ? 1 : 0;
  EXPECT_EQ(pools, 1);
  absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(g, r->graph, 7, 2, 1e-9);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->equal) << c->mismatch;
}

// The optimized graph of every small model computes what the original does.
TEST(Optimize, SmallModelsKeepTheirMeaning) {
  const RuleSet rules = TestRules();
  int rewrites = 0;
  for (const models::ModelInfo& small : models::AllModels()) {
    SCOPED_TRACE(small.name);
    absl::StatusOr<Graph> g = SmallModel(small.name);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<OptimizeResult> r = Optimize(*g, rules, Tested(200));
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->graph.Validate().ok()) << r->graph.Validate();
    EXPECT_LE(r->cost_after, r->cost_before);
    AnalyticalCostModel model;
    EXPECT_DOUBLE_EQ(ComputeGraphCost(r->graph, model).total, r->cost_after);
    EXPECT_DOUBLE_EQ(ComputeGraphCost(*g, model).total, r->cost_before);
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(*g, r->graph, 7, 2, 1e-9);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(c->equal) << c->mismatch << "\n" << StepsText(*r);
    for (const AppliedStep& s : r->steps) {
      if (s.kind == AppliedStep::Kind::kRule) {
        ++rewrites;
        EXPECT_NE(rules.Find(s.rule_id), nullptr) << s.rule_id;
      }
    }
    if (!r->steps.empty()) {
      EXPECT_DOUBLE_EQ(r->steps.back().cost_after, r->cost_after);
    }
  }
  EXPECT_GT(rewrites, 0);
}

TEST(Optimize, HonoursTheBudget) {
  absl::StatusOr<Graph> g = SmallModel("nasnet_a");  // nasnet_a: many matches
  ASSERT_TRUE(g.ok());
  for (int64_t budget : {0, 1, 3}) {
    absl::StatusOr<OptimizeResult> r = Optimize(*g, TestRules(), Tested(budget));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->stats.explored, budget);
    EXPECT_EQ(r->stats.stop, StopReason::kBudget);
  }
}

TEST(Optimize, HonoursTheTimeLimit) {
  absl::StatusOr<Graph> g = SmallModel("nasnet_a");
  ASSERT_TRUE(g.ok());
  OptimizeOptions options = Tested(1000000);
  options.time_limit = std::chrono::duration<double>(0);
  absl::StatusOr<OptimizeResult> r = Optimize(*g, TestRules(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.stop, StopReason::kTimeLimit);
  EXPECT_EQ(r->stats.explored, 0);
  // A short limit stops a search that would otherwise go on.
  options.time_limit = std::chrono::milliseconds(50);
  options.alpha = 1.5;
  const auto start = std::chrono::steady_clock::now();
  r = Optimize(*g, TestRules(), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stats.stop, StopReason::kTimeLimit);
  EXPECT_LT(seconds, 5.0);
  EXPECT_TRUE(r->graph.Validate().ok());
}

TEST(Optimize, IsDeterministicForAnyNumberOfThreads) {
  for (const models::ModelInfo& small : models::AllModels()) {
    SCOPED_TRACE(small.name);
    absl::StatusOr<Graph> g = SmallModel(small.name);
    ASSERT_TRUE(g.ok());
    OptimizeOptions one = Tested(50), three = Tested(50);
    one.threads = 1;
    three.threads = 3;
    absl::StatusOr<OptimizeResult> a = Optimize(*g, TestRules(), one);
    absl::StatusOr<OptimizeResult> b = Optimize(*g, TestRules(), three);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(PrintGraph(a->graph), PrintGraph(b->graph));
    EXPECT_EQ(StepsText(*a), StepsText(*b));
    EXPECT_EQ(a->cost_after, b->cost_after);
    EXPECT_EQ(a->stats.explored, b->stats.explored);
    EXPECT_EQ(a->stats.generated, b->stats.generated);
    EXPECT_EQ(a->stats.duplicates_skipped, b->stats.duplicates_skipped);
  }
}

TEST(Optimize, AGraphWithoutMatchesComesBackUnchanged) {
  GraphBuilder b("plain");
  const Value x = b.Input("x", DType::kF32, {4, 8});
  b.Output("y", b.Softmax(b.Tanh(b.Sigmoid(x))));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  absl::StatusOr<OptimizeResult> r = Optimize(*g, TestRules(), Tested());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->graph == *g);
  EXPECT_TRUE(r->steps.empty());
  EXPECT_EQ(r->cost_after, r->cost_before);
  EXPECT_EQ(r->stats.explored, 1);
  EXPECT_EQ(r->stats.generated, 0);
  EXPECT_EQ(r->stats.stop, StopReason::kExhausted);
}

TEST(Optimize, KeepsLayoutsWhenToldTo) {
  absl::StatusOr<Graph> g = SmallModel("resnext_block");  // resnext_block: convs only
  ASSERT_TRUE(g.ok());
  RuleSet none;
  OptimizeOptions options = Tested();
  options.optimize_layouts = false;
  absl::StatusOr<OptimizeResult> r = Optimize(*g, none, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->graph == *g);
  // On a machine whose convs all read NCHW, every value keeps its layout.
  MachineSpec channels_first;
  channels_first.conv_layout = Layout::kNCHW;
  AnalyticalCostModel nchw_model(channels_first);
  OptimizeOptions nchw = Tested();
  nchw.cost_model = &nchw_model;
  absl::StatusOr<OptimizeResult> d = Optimize(*g, none, nchw);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->graph == *g);
  // On a machine whose dense convs run NCHW at a tenth of their
  // channels-last speed, they read NHWC and the graph gets cheaper.
  MachineSpec channels_last;
  channels_last.other_conv_layout_speed = 0.1;
  channels_last.op_overhead = 0;  // small convs: reorders pay no fixed cost
  AnalyticalCostModel nhwc_model(channels_last);
  OptimizeOptions last = Tested();
  last.cost_model = &nhwc_model;
  absl::StatusOr<OptimizeResult> l = Optimize(*g, none, last);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_LT(l->cost_after, l->cost_before);
  ASSERT_EQ(l->steps.size(), 1u);
  EXPECT_EQ(l->steps[0].kind, AppliedStep::Kind::kLayouts);
  int nhwc = 0;
  for (const Node& n : l->graph.nodes()) {
    if (n.op == OpKind::kConv2d && n.outputs[0].layout == Layout::kNHWC) ++nhwc;
  }
  EXPECT_GT(nhwc, 0);
  // Inputs and outputs keep their layouts.
  EXPECT_EQ(l->graph.type(*l->graph.FindValue("x")).layout, Layout::kNCHW);
  EXPECT_EQ(l->graph.type(*l->graph.FindOutput("y")).layout, Layout::kNCHW);
  absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(*g, l->graph, 3, 1, 1e-9);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->equal) << c->mismatch;
}

TEST(Optimize, AppliesOnlyTrustedRules) {
  absl::StatusOr<Graph> g = SmallModel("nasrnn");  // nasrnn
  ASSERT_TRUE(g.ok());
  const RuleSet rules = TestRules();  // all tested
  OptimizeOptions options = Tested();
  options.min_status = RuleStatus::kProved;
  options.optimize_layouts = false;
  absl::StatusOr<OptimizeResult> r = Optimize(*g, rules, options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rules_used, 0);
  EXPECT_TRUE(r->steps.empty());
  // The same rules marked proved are applied by default.
  RuleSet proved;
  for (Rule rule : rules.rules()) {
    rule.status = RuleStatus::kProved;
    rule.axiom_set = "test";
    ASSERT_TRUE(proved.Add(rule).ok());
  }
  r = Optimize(*g, proved, {.budget = 20});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->rules_used, proved.size());
  EXPECT_FALSE(r->steps.empty());
  for (RuleStatus bad : {RuleStatus::kUnknown, RuleStatus::kRefuted}) {
    options.min_status = bad;
    EXPECT_THAT(std::string(Optimize(*g, rules, options).status().message()),
                HasSubstr("never applied"));
  }
}

TEST(Optimize, RejectsBadOptionsAndGraphs) {
  absl::StatusOr<Graph> g = SmallModel("resnext_block");
  ASSERT_TRUE(g.ok());
  EXPECT_THAT(std::string(Optimize(*g, TestRules(), {.alpha = 0.5}).status().message()),
              HasSubstr("alpha must be at least 1"));
  EXPECT_THAT(std::string(Optimize(*g, TestRules(), {.budget = -1}).status().message()),
              HasSubstr("budget"));
  OptimizeOptions options;
  options.time_limit = std::chrono::duration<double>(-1);
  EXPECT_THAT(std::string(Optimize(*g, TestRules(), options).status().message()),
              HasSubstr("time limit"));
}

TEST(Optimize, ReportsProgress) {
  absl::StatusOr<Graph> g = SmallModel("nasrnn");
  ASSERT_TRUE(g.ok());
  std::vector<SearchProgress> seen;
  OptimizeOptions options = Tested(10);
  options.progress = [&](const SearchProgress& p) { seen.push_back(p); };
  absl::StatusOr<OptimizeResult> r = Optimize(*g, TestRules(), options);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(static_cast<int64_t>(seen.size()), r->stats.explored);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].explored, static_cast<int64_t>(i + 1));
  EXPECT_GE(seen.back().best_cost, r->cost_after);
}

// The full-size zoo: every model optimizes at a small budget, keeps its
// interface and gets no more expensive. (Evaluating full-size models is too
// slow for a unit test; the small ones above are compared on random inputs.)
TEST(Optimize, ZooModelsAtASmallBudget) {
  const RuleSet rules = TestRules();
  for (const models::ModelInfo& m : models::AllModels()) {
    SCOPED_TRACE(m.name);
    absl::StatusOr<Graph> g = models::BuildModel(m.name);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<OptimizeResult> r = Optimize(*g, rules, Tested(5));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->graph.Validate().ok());
    EXPECT_LE(r->cost_after, r->cost_before);
    EXPECT_EQ(r->graph.outputs().size(), g->outputs().size());
  }
}

// The shipped rules (rules/default.rules, proved rules only) make small zoo
// models cheaper than choosing layouts alone does, and the optimized graphs
// compute what the originals do.
TEST(Optimize, DefaultRulesBeatLayoutsOnSmallZooModels) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(::lemma::testing::DataPath("../rules/default.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  for (const char* name : {"resnet50", "bert"}) {
    SCOPED_TRACE(name);
    absl::StatusOr<Graph> g = models::BuildModel(name, {.scale = models::ModelScale::kSmall});
    ASSERT_TRUE(g.ok()) << g.status();
    const OptimizeOptions options = {.budget = 20, .time_limit = std::chrono::seconds(120)};
    absl::StatusOr<OptimizeResult> layouts_only = Optimize(*g, RuleSet(), options);
    ASSERT_TRUE(layouts_only.ok()) << layouts_only.status();
    absl::StatusOr<OptimizeResult> r = Optimize(*g, *rules, options);
    ASSERT_TRUE(r.ok()) << r.status();
    int rewrites = 0;
    for (const AppliedStep& s : r->steps) rewrites += s.kind == AppliedStep::Kind::kRule;
    EXPECT_GT(rewrites, 0) << StepsText(*r);
    EXPECT_LT(r->cost_after, 0.99 * layouts_only->cost_after) << StepsText(*r);
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(*g, r->graph, 11, 2, 1e-9);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(c->equal) << c->mismatch << "\n" << StepsText(*r);
  }
}

}  // namespace
}  // namespace lemma
