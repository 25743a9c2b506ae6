// Rules that repeat another up to renaming: the key is blind to names and
// node order but not to structure, and a rule found redundant makes, at its
// own source, a graph that its earlier twin makes too.

#include "optimizer/redundant_rules.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"
#include "optimizer/canonical_hash.h"
#include "optimizer/match.h"
#include "optimizer/rewrite.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"

namespace lemma {
namespace {

using ::lemma::testing::DataPath;

constexpr const char* kRules = R"(
rule merge_a {
  example c=2, e=3, h=4, n=1, o=5, w=4
  source {
    input x: [n, c, h, w]
    input p: [o, c, 1, 1]
    input q: [e, c, 1, 1]
    %0 = conv2d(x, q) {padding=same}
    %1 = conv2d(x, p) {padding=same}
    output y0 = %0
    output y1 = %1
  }
  target {
    %0 = concat(p, q) {axis=0}
    %1 = conv2d(x, %0) {padding=same}
    %2, %3 = split(%1) {axis=1, sizes=[o, e]}
    output y0 = %3
    output y1 = %2
  }
}

rule merge_b {
  example c=2, e=3, h=4, n=1, o=5, w=4
  source {
    input x: [n, c, h, w]
    input p: [o, c, 1, 1]
    input q: [e, c, 1, 1]
    %0 = conv2d(x, q) {padding=same}
    %1 = conv2d(x, p) {padding=same}
    output y0 = %0
    output y1 = %1
  }
  target {
    %0 = concat(q, p) {axis=0}
    %1 = conv2d(x, %0) {padding=same}
    %2, %3 = split(%1) {axis=1, sizes=[e, o]}
    output y0 = %2
    output y1 = %3
  }
}

rule merge_renamed {
  example b=1, ci=2, hh=4, k=3, m=5, ww=4
  source {
    input w2: [k, ci, 1, 1]
    input img: [b, ci, hh, ww]
    input w1: [m, ci, 1, 1]
    %0 = conv2d(img, w1) {padding=same}
    %1 = conv2d(img, w2) {padding=same}
    output out1 = %1
    output out0 = %0
  }
  target {
    %0 = concat(w2, w1) {axis=0}
    %1 = conv2d(img, %0) {padding=same}
    %2, %3 = split(%1) {axis=1, sizes=[k, m]}
    output out1 = %2
    output out0 = %3
  }
}

rule merge_relu {
  example c=2, e=3, h=4, n=1, o=5, w=4
  source {
    input x: [n, c, h, w]
    input p: [o, c, 1, 1]
    input q: [e, c, 1, 1]
    %0 = conv2d(x, q) {padding=same, activation=relu}
    %1 = conv2d(x, p) {padding=same, activation=relu}
    output y0 = %0
    output y1 = %1
  }
  target {
    %0 = concat(p, q) {axis=0}
    %1 = conv2d(x, %0) {padding=same, activation=relu}
    %2, %3 = split(%1) {axis=1, sizes=[o, e]}
    output y0 = %3
    output y1 = %2
  }
}

rule merge_square {
  example c=2, h=4, n=1, o=5, w=4
  source {
    input x: [n, c, h, w]
    input p: [o, c, 1, 1]
    input q: [o, c, 1, 1]
    %0 = conv2d(x, q) {padding=same}
    %1 = conv2d(x, p) {padding=same}
    output y0 = %0
    output y1 = %1
  }
  target {
    %0 = concat(p, q) {axis=0}
    %1 = conv2d(x, %0) {padding=same}
    %2, %3 = split(%1) {axis=1, sizes=[o, o]}
    output y0 = %3
    output y1 = %2
  }
}

rule merge_square_relu {
  example c=2, h=4, n=1, o=5, w=4
  source {
    input x: [n, c, h, w]
    input p: [o, c, 1, 1]
    input q: [o, c, 1, 1]
    %0 = conv2d(x, q) {padding=same, activation=relu}
    %1 = conv2d(x, p) {padding=same, activation=relu}
    output y0 = %0
    output y1 = %1
  }
  target {
    %0 = concat(p, q) {axis=0}
    %1 = conv2d(x, %0) {padding=same, activation=relu}
    %2, %3 = split(%1) {axis=1, sizes=[o, o]}
    output y0 = %3
    output y1 = %2
  }
}

rule commute_a {
  example k=3, m=2
  source {
    input a: [m, k]
    input b: [m, k]
    %0 = ewadd(a, b)
    output y = %0
  }
  target {
    %0 = ewadd(b, a)
    output y = %0
  }
}

rule commute_b {
  example r=2, s=3
  source {
    input u: [r, s]
    input v: [r, s]
    %0 = ewadd(v, u)
    output z = %0
  }
  target {
    %0 = ewadd(u, v)
    output z = %0
  }
}
)";

TEST(RedundantRules, KeysIgnoreNamesAndOrderButNotStructure) {
  absl::StatusOr<RuleSet> rules = ParseRules(kRules, "test.rules");
  ASSERT_TRUE(rules.ok()) << rules.status();
  auto key = [&](const char* id) { return RuleRenamingKey(*rules->Find(id)); };
  EXPECT_EQ(key("merge_a"), key("merge_b"));
  EXPECT_EQ(key("merge_a"), key("merge_renamed"));
  EXPECT_NE(key("merge_a"), key("merge_relu"));
  EXPECT_EQ(key("commute_a"), key("commute_b"));
  EXPECT_NE(key("commute_a"), key("merge_a"));
  EXPECT_NE(key("merge_square"), key("merge_a"));
  // merge_a..merge_renamed are one rule; merge_square is merge_a with e = o
  // (a special case); merge_square_relu is a special case of merge_relu.
  const Flags redundant = RedundantRules(*rules);
  EXPECT_EQ(redundant, (Flags{0, 1, 1, 0, 1, 1, 0, 1}));
  // Only enabled rules count: with merge_a off, merge_b is the first; with
  // merge_relu off, merge_square_relu is the most general of its kind.
  const Flags some = RedundantRules(*rules, Flags{0, 1, 1, 0, 1, 1, 1, 1});
  EXPECT_EQ(some, (Flags{0, 0, 1, 0, 1, 0, 0, 1}));
}

// Every rule of rules/default.rules found redundant, applied to its own
// source (at the example sizes), makes a graph that some kept rule makes at
// some match there.
TEST(RedundantRules, DefaultRulesLeftOutMakeNothingNew) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath("../rules/default.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  Flags proved(static_cast<size_t>(rules->size()), 0);
  for (size_t i = 0; i < proved.size(); ++i) {
    proved[i] = rules->rules()[i].status == RuleStatus::kProved;
  }
  const Flags redundant = RedundantRules(*rules, proved);
  Flags kept = proved;
  int count = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    if (redundant[i]) {
      EXPECT_TRUE(proved[i]);
      kept[i] = 0;
      ++count;
    }
  }
  const RuleIndex index(*rules, kept);
  for (int i = 0; i < rules->size(); ++i) {
    if (!redundant[static_cast<size_t>(i)]) continue;
    const Rule& rule = rules->rules()[static_cast<size_t>(i)];
    SCOPED_TRACE(rule.id);
    absl::StatusOr<RuleGraphs> sides = InstantiateRule(rule);
    ASSERT_TRUE(sides.ok()) << sides.status();
    const Graph& g = sides->source;
    const Matcher matcher(g);
    absl::flat_hash_set<uint64_t> made;
    for (const Match& m : matcher.FindAllRooted(index, 0, g.num_nodes())) {
      absl::StatusOr<Graph> out = ApplyMatch(g, rules->rules()[static_cast<size_t>(m.rule)], m);
      if (out.ok()) made.insert(CanonicalHash(*out));
    }
    int own = 0;
    for (NodeId id = 0; id < g.num_nodes(); ++id) {
      for (const Match& m : matcher.MatchAt(rule, i, id)) {
        absl::StatusOr<Graph> out = ApplyMatch(g, rule, m);
        ASSERT_TRUE(out.ok()) << out.status();
        EXPECT_TRUE(made.contains(CanonicalHash(*out)));
        ++own;
      }
    }
    EXPECT_GT(own, 0);
  }
  EXPECT_GT(count, 1000);
}

}  // namespace
}  // namespace lemma
