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
  const Flags redundant = RedundantRules(*rules);
  EXPECT_EQ(redundant, (Flags{0, 1, 1, 0, 0, 1}));
  // Only enabled rules count: with merge_a off, merge_b is the first.
  const Flags some = RedundantRules(*rules, Flags{0, 1, 1, 1, 1, 1});
  EXPECT_EQ(some, (Flags{0, 0, 1, 0, 0, 1}));
}

// Every rule of rules/default.rules found redundant, applied to its own
// source (at the example sizes), makes a graph that its earlier twin makes
// at some match there.
TEST(RedundantRules, DefaultRulesRepeatsMakeTheSameGraphs) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath("../rules/default.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  const Flags redundant = RedundantRules(*rules);
  absl::flat_hash_map<uint64_t, int> first;
  int count = 0;
  for (int i = 0; i < rules->size(); ++i) {
    const Rule& rule = rules->rules()[static_cast<size_t>(i)];
    const uint64_t key = RuleRenamingKey(rule);
    first.try_emplace(key, i);
    if (!redundant[static_cast<size_t>(i)]) continue;
    ++count;
    const int twin_index = first.at(key);
    ASSERT_LT(twin_index, i);
    const Rule& twin = rules->rules()[static_cast<size_t>(twin_index)];
    SCOPED_TRACE(rule.id + " repeats " + twin.id);
    absl::StatusOr<RuleGraphs> sides = InstantiateRule(rule);
    ASSERT_TRUE(sides.ok()) << sides.status();
    const Graph& g = sides->source;
    const Matcher matcher(g);
    std::vector<Match> own, theirs;
    for (NodeId id = 0; id < g.num_nodes(); ++id) {
      for (Match& m : matcher.MatchAt(rule, i, id)) own.push_back(std::move(m));
      for (Match& m : matcher.MatchAt(twin, twin_index, id)) theirs.push_back(std::move(m));
    }
    ASSERT_FALSE(own.empty());
    absl::flat_hash_set<uint64_t> made;
    for (const Match& m : theirs) {
      absl::StatusOr<Graph> out = ApplyMatch(g, twin, m);
      if (out.ok()) made.insert(CanonicalHash(*out));
    }
    for (const Match& m : own) {
      absl::StatusOr<Graph> out = ApplyMatch(g, rule, m);
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_TRUE(made.contains(CanonicalHash(*out)));
    }
  }
  EXPECT_GT(count, 100);
}

}  // namespace
}  // namespace lemma
