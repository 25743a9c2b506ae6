// The explorer (every match with its cost effect, applied one at a time with
// undo) and regions (a node's neighbourhood, a rewrite before and after).

#include "optimizer/explore.h"

#include <unistd.h>

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/model_io.h"
#include "ir/text_format.h"
#include "kernels/compare.h"
#include "kernels/weights.h"
#include "optimizer/graph_cost.h"
#include "optimizer/optimize.h"
#include "optimizer/region.h"
#include "optimizer/rewrite.h"
#include "tests/optimizer/test_util.h"

namespace lemma {
namespace {

using ::testing::IsEmpty;
using ::testing::Not;

// Two NASRNN-like cells (x@W + h@U): matmuls that share an operand, sums of
// matmuls, and one anonymous value.
constexpr const char* kCell = R"(graph cell {
  input x: f32[1,64]
  weight h: f32[1,64]
  weight w1: f32[64,64]
  weight u1: f32[64,64]
  weight w2: f32[64,64]
  weight u2: f32[64,64]
  a = matmul(x, w1)
  b = matmul(h, u1)
  c = matmul(x, w2)
  d = matmul(h, u2)
  s = ewadd(a, b)
  %0 = ewadd(c, d)
  r = ewmul(s, %0)
  output y = r
}
)";

Graph Cell() {
  absl::StatusOr<Graph> g = ParseGraph(kCell);
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

void ExpectSameOnRandomInputs(const Graph& a, const Graph& b) {
  absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(a, b, 7, 2, 1e-9);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->equal) << c->mismatch << "\n" << PrintGraph(a) << PrintGraph(b);
}

TEST(ExplorerTest, ListsMatchesBestFirstWithTheirCosts) {
  const RuleSet rules = testing::TestRules();
  absl::StatusOr<std::unique_ptr<Explorer>> e =
      Explorer::Create(Cell(), rules, {.min_status = RuleStatus::kTested, .optimize_layouts = false});
  ASSERT_TRUE(e.ok()) << e.status();
  const MatchListing& l = (*e)->matches();
  ASSERT_THAT(l.matches, Not(IsEmpty()));
  AnalyticalCostModel model;
  EXPECT_DOUBLE_EQ(l.cost, ComputeGraphCost((*e)->graph(), model).total);
  for (size_t i = 0; i < l.matches.size(); ++i) {
    const MatchEffect& m = l.matches[i];
    if (i > 0) {
      EXPECT_LE(l.matches[i - 1].delta(), m.delta());
    }
    EXPECT_EQ(m.cost_before, l.cost);
    EXPECT_THAT(m.nodes, Not(IsEmpty()));
    // Without layout choices the listed cost is that of the graph built.
    const Rule& rule = rules.rules()[static_cast<size_t>(m.match.rule)];
    EXPECT_EQ(rule.id, m.rule_id);
    absl::StatusOr<Graph> g = ApplyMatch((*e)->graph(), rule, m.match, m.layouts);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_NEAR(m.cost_after, ComputeGraphCost(*g, model).total, 1e-12 + 1e-9 * m.cost_after)
        << m.rule_id << " at " << m.where;
  }
  // The best match lowers the cost: merging x@w1 and x@w2 (or distributing)
  // turns matmuls on the activations into precomputed weight ops.
  EXPECT_LT(l.matches[0].delta(), 0);
}

TEST(ExplorerTest, NamesMatchedNodesByTheirLabels) {
  const RuleSet rules = testing::TestRules();
  absl::StatusOr<std::unique_ptr<Explorer>> e =
      Explorer::Create(Cell(), rules, {.min_status = RuleStatus::kTested});
  ASSERT_TRUE(e.ok()) << e.status();
  bool saw_anonymous = false;
  for (const MatchEffect& m : (*e)->matches().matches) {
    for (const std::string& n : m.nodes) {
      EXPECT_NE(FindNodeByLabel((*e)->graph(), n), -1) << n;
      saw_anonymous = saw_anonymous || n == "%0";
    }
    // Inputs are named as `lemma print` names them, never by node number.
    EXPECT_THAT(m.where, Not(::testing::HasSubstr(":"))) << m.where;
  }
  EXPECT_TRUE(saw_anonymous);  // the ewadd of c and d is matched somewhere
}

TEST(ExplorerTest, ApplyUndoAndHistory) {
  const RuleSet rules = testing::TestRules();
  absl::StatusOr<std::unique_ptr<Explorer>> made =
      Explorer::Create(Cell(), rules, {.min_status = RuleStatus::kTested});
  ASSERT_TRUE(made.ok()) << made.status();
  Explorer& e = **made;
  const Graph start = e.graph();
  const double start_cost = e.cost();
  const size_t start_matches = e.matches().matches.size();
  const MatchEffect best = e.matches().matches[0];

  EXPECT_FALSE(e.Apply(start_matches).ok());  // out of range: nothing changes
  EXPECT_EQ(e.graph(), start);
  EXPECT_FALSE(e.Undo());

  ASSERT_TRUE(e.Apply(0).ok());
  // Laid out again as a whole: no dearer than the listed estimate.
  EXPECT_LE(e.cost(), best.cost_after + 1e-12);
  EXPECT_LT(e.cost(), start_cost);
  ASSERT_EQ(e.history().size(), 1u);
  EXPECT_EQ(e.history()[0].rule_id, best.rule_id);
  EXPECT_EQ(e.history()[0].cost_before, start_cost);
  EXPECT_EQ(e.history()[0].cost_after, e.cost());
  ExpectSameOnRandomInputs(start, e.graph());

  ASSERT_TRUE(e.Undo());
  EXPECT_EQ(e.graph(), start);
  EXPECT_EQ(e.cost(), start_cost);
  EXPECT_THAT(e.history(), IsEmpty());
  EXPECT_EQ(e.matches().matches.size(), start_matches);
  EXPECT_EQ(e.matches().matches[0].rule_id, best.rule_id);
}

TEST(ExplorerTest, RewrittenGraphExportsAndReadsBackEqual) {
  const RuleSet rules = testing::TestRules();
  const Graph original = Cell();
  absl::StatusOr<std::unique_ptr<Explorer>> made =
      Explorer::Create(original, rules, {.min_status = RuleStatus::kTested});
  ASSERT_TRUE(made.ok()) << made.status();
  Explorer& e = **made;
  for (int i = 0; i < 3 && !e.matches().matches.empty(); ++i) ASSERT_TRUE(e.Apply(0).ok());
  ASSERT_THAT(e.history(), Not(IsEmpty()));
  const std::string dir = ::testing::TempDir();
  for (const char* name : {"explored.lemma", "explored.onnx"}) {
    const std::string path = dir + "/" + name;
    const Model model{e.graph(), WithRandomWeights(e.graph(), {}, 1)};
    ASSERT_TRUE(WriteModel(path, model).ok()) << path;
    absl::StatusOr<Model> back = ReadModel(path);
    ASSERT_TRUE(back.ok()) << back.status();
    ExpectSameOnRandomInputs(original, back->graph);
    std::remove(path.c_str());
  }
}

TEST(ExplorerTest, RefusesUnusableStatus) {
  const RuleSet rules = testing::TestRules();
  EXPECT_FALSE(Explorer::Create(Cell(), rules, {.min_status = RuleStatus::kRefuted}).ok());
  // Proved only: the test rules are all tested, so nothing is listed.
  absl::StatusOr<std::unique_ptr<Explorer>> e = Explorer::Create(Cell(), rules);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->usable_rules(), 0);
  EXPECT_THAT((*e)->matches().matches, IsEmpty());
}

TEST(RegionTest, MatchRegionBeforeAndAfterAgree) {
  const RuleSet rules = testing::TestRules();
  absl::StatusOr<std::unique_ptr<Explorer>> e =
      Explorer::Create(Cell(), rules, {.min_status = RuleStatus::kTested});
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_THAT((*e)->matches().matches, Not(IsEmpty()));
  for (size_t i = 0; i < (*e)->matches().matches.size(); ++i) {
    const MatchEffect& m = (*e)->matches().matches[i];
    absl::StatusOr<RewriteRegion> r = (*e)->Picture(i);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->before.Validate().ok());
    ASSERT_TRUE(r->after.Validate().ok());
    int ops = 0;
    for (const Node& n : r->before.nodes()) ops += GetOpInfo(n.op).Has(kTraitSource) ? 0 : 1;
    EXPECT_EQ(ops, rules.rules()[static_cast<size_t>(m.match.rule)].source.num_ops()) << m.rule_id;
    ExpectSameOnRandomInputs(r->before, r->after);
  }
}

TEST(RegionTest, NeighbourhoodOfANode) {
  const Graph g = Cell();
  const NodeId s = FindNodeByLabel(g, "s");
  ASSERT_GE(s, 0);
  EXPECT_EQ(FindNodeByLabel(g, "y"), FindNodeByLabel(g, "r"));  // an output name
  EXPECT_EQ(FindNodeByLabel(g, "nope"), -1);
  absl::StatusOr<Region> r = ExtractRegion(g, Neighbourhood(g, s));
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string text = PrintGraph(r->graph);
  // s with the matmuls feeding it and the ewmul using it; %0 is read from
  // outside, as an input named after its label.
  EXPECT_THAT(text, ::testing::HasSubstr("s = ewadd(a, b)"));
  EXPECT_THAT(text, ::testing::HasSubstr("a = matmul(x, w1)"));
  EXPECT_THAT(text, ::testing::HasSubstr("input v0: f32[1,64]"));
  EXPECT_THAT(text, ::testing::HasSubstr("r = ewmul(s, v0)"));
  EXPECT_THAT(text, ::testing::HasSubstr("output y = r"));
  EXPECT_TRUE(r->graph.Validate().ok());
  EXPECT_FALSE(ExtractRegion(g, std::vector<NodeId>{99}).ok());
}

TEST(RegionTest, PrintedLabelsAreThoseOfPrintGraph) {
  const Graph g = Cell();
  const std::vector<std::string> labels = NodeLabels(g);
  const NodeId anon = FindNodeByLabel(g, "%0");
  ASSERT_GE(anon, 0);
  EXPECT_EQ(labels[static_cast<size_t>(anon)], "%0");
  EXPECT_THAT(PrintGraph(g), ::testing::HasSubstr("%0 = ewadd(c, d)"));
  EXPECT_EQ(OpName(g.node(anon).op), "ewadd");
}

TEST(OptimizeStepsTest, StepsNameTheirNodesAndCarryTheirRegion) {
  const RuleSet rules = testing::TestRules();
  absl::StatusOr<OptimizeResult> r =
      Optimize(Cell(), rules, {.budget = 50, .min_status = RuleStatus::kTested, .threads = 1});
  ASSERT_TRUE(r.ok()) << r.status();
  int rewrites = 0;
  for (const AppliedStep& s : r->steps) {
    if (s.kind != AppliedStep::Kind::kRule) continue;
    ++rewrites;
    EXPECT_THAT(s.nodes, Not(IsEmpty())) << s.rule_id;
    ASSERT_TRUE(s.region.has_value()) << s.rule_id;
    ExpectSameOnRandomInputs(s.region->before, s.region->after);
  }
  EXPECT_GT(rewrites, 0);
}

}  // namespace
}  // namespace lemma
