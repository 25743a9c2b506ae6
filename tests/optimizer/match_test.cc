// Matching cases as data: each tests/optimizer/data/match/*.case file holds a
// graph, a line "---", and a rule file, with the expectation in its header:
//
//   # rule: ID
//   # match: OUT=VALUE ... | IN=VALUE ...     (each match of ID, in order)
//   # failure at VALUE: TEXT                   (no match anywhere; tried at
//                                              VALUE's node, the reason has TEXT)

#include "optimizer/match.h"

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "bench/models.h"
#include "optimizer/graph_cost.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"

namespace lemma {
namespace {

using ::lemma::testing::DataPath;
using ::testing::HasSubstr;

struct MatchCase {
  std::string file;
  std::string rule;
  std::vector<std::string> matches;
  std::string failure_at;
  std::string failure;
  std::string graph_text;
  std::string rules_text;
};

std::vector<MatchCase> LoadCases() {
  const std::string dir = DataPath("optimizer/data/match");
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.ends_with(".case")) names.push_back(name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::vector<MatchCase> cases;
  for (const std::string& name : names) {
    MatchCase c;
    c.file = StrCat(dir, "/", name);
    absl::StatusOr<std::string> text = ReadFile(c.file);
    EXPECT_TRUE(text.ok()) << text.status();
    if (!text.ok()) continue;
    const size_t split = text->find("\n---\n");
    EXPECT_NE(split, std::string::npos) << c.file << " has no --- line";
    if (split == std::string::npos) continue;
    c.graph_text = text->substr(0, split + 1);
    c.rules_text = text->substr(split + 5);
    size_t pos = 0;
    while (pos < text->size()) {
      const size_t end = std::min(text->find('\n', pos), text->size());
      const std::string line = text->substr(pos, end - pos);
      pos = end + 1;
      if (line.starts_with("# rule: ")) c.rule = line.substr(8);
      if (line.starts_with("# match: ")) c.matches.push_back(line.substr(9));
      if (line.starts_with("# failure at ")) {
        const size_t colon = line.find(": ");
        c.failure_at = line.substr(13, colon - 13);
        c.failure = line.substr(colon + 2);
      }
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// "a=c1 b=c2 | x=x w1=k1 w2=k2": outputs, then inputs, by value label.
std::string Describe(const Graph& g, const Rule& rule, const Match& m) {
  std::vector<std::string> outs, ins;
  const std::vector<ValueId> values = m.OutputValues(rule);
  for (size_t k = 0; k < values.size(); ++k) {
    outs.push_back(StrCat(rule.source.outputs[k].name, "=", g.ValueLabel(values[k])));
  }
  for (size_t k = 0; k < m.inputs.size(); ++k) {
    ins.push_back(StrCat(rule.source.nodes[k].name, "=", g.ValueLabel(m.inputs[k])));
  }
  return StrCat(StrJoin(outs, " "), " | ", StrJoin(ins, " "));
}

TEST(MatchCases, EveryCaseMatchesAsItSays) {
  const std::vector<MatchCase> cases = LoadCases();
  EXPECT_GE(cases.size(), 12u);
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<Graph> g = ParseGraph(c.graph_text, c.file);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<RuleSet> rules = ParseRules(c.rules_text, c.file);
    ASSERT_TRUE(rules.ok()) << rules.status();
    const Rule* rule = rules->Find(c.rule);
    ASSERT_NE(rule, nullptr) << "no rule " << c.rule;
    const int index = static_cast<int>(rule - rules->rules().data());
    const Matcher matcher(*g);
    std::vector<std::string> found;
    for (const Match& m : matcher.FindAll(*rules)) {
      if (m.rule == index) found.push_back(Describe(*g, *rule, m));
    }
    EXPECT_EQ(found, c.matches);
    if (!c.failure_at.empty()) {
      const std::optional<ValueId> at = g->FindValue(c.failure_at);
      ASSERT_TRUE(at.has_value()) << c.failure_at;
      MatchFailure failure;
      EXPECT_TRUE(matcher.MatchAt(*rule, index, at->node, &failure).empty());
      EXPECT_THAT(failure.reason, HasSubstr(c.failure));
      EXPECT_GE(failure.matched_ops, 0);
    }
  }
}

TEST(Match, BindMatchRecomputesBindings) {
  const std::vector<MatchCase> cases = LoadCases();
  for (const MatchCase& c : cases) {
    absl::StatusOr<Graph> g = ParseGraph(c.graph_text, c.file);
    absl::StatusOr<RuleSet> rules = ParseRules(c.rules_text, c.file);
    ASSERT_TRUE(g.ok() && rules.ok());
    for (const Match& m : Matcher(*g).FindAll(*rules)) {
      const Rule& rule = rules->rules()[static_cast<size_t>(m.rule)];
      absl::StatusOr<Bindings> b = BindMatch(*g, rule, m.nodes, m.inputs);
      ASSERT_TRUE(b.ok()) << b.status();
      EXPECT_EQ(*b, m.bindings);
    }
  }
}

TEST(Match, EnabledMaskSkipsRules) {
  const std::vector<MatchCase> cases = LoadCases();
  for (const MatchCase& c : cases) {
    if (c.matches.empty()) continue;
    absl::StatusOr<Graph> g = ParseGraph(c.graph_text, c.file);
    absl::StatusOr<RuleSet> rules = ParseRules(c.rules_text, c.file);
    ASSERT_TRUE(g.ok() && rules.ok());
    const Flags none(static_cast<size_t>(rules->size()), 0);
    EXPECT_TRUE(Matcher(*g).FindAll(*rules, none).empty()) << c.file;
  }
}

TEST(Match, DescribeMatchNamesTheRoots) {
  const std::vector<MatchCase> cases = LoadCases();
  const auto it = std::find_if(cases.begin(), cases.end(), [](const MatchCase& c) {
    return c.file.ends_with("conv_merge_both_orders.case");
  });
  ASSERT_NE(it, cases.end());
  absl::StatusOr<Graph> g = ParseGraph(it->graph_text, it->file);
  absl::StatusOr<RuleSet> rules = ParseRules(it->rules_text, it->file);
  ASSERT_TRUE(g.ok() && rules.ok());
  const std::vector<Match> matches = Matcher(*g).FindAll(*rules);
  ASSERT_FALSE(matches.empty());
  EXPECT_EQ(DescribeMatch(*g, rules->rules()[0], matches[0]), "conv2d(x, k1) + conv2d(x, k2)");
}

// FindAll passes over rules that cannot match at a node by their roots'
// neighbourhoods (RuleIndex); it must find exactly what trying every rule
// at every node of its root's op finds, in the same order.
TEST(Match, RuleIndexFindsWhatEveryAttemptFinds) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath("../rules/default.rules"));
  ASSERT_TRUE(rules.ok()) << rules.status();
  for (const models::ModelInfo& info : models::AllModels()) {
    SCOPED_TRACE(info.name);
    absl::StatusOr<Graph> g = models::BuildModel(info.name, {.scale = models::ModelScale::kSmall});
    ASSERT_TRUE(g.ok()) << g.status();
    const Matcher matcher(*g);
    std::vector<std::string> every, indexed;
    for (NodeId id = 0; id < g->num_nodes(); ++id) {
      for (int r : rules->RootedAt(g->node(id).op)) {
        const Rule& rule = rules->rules()[static_cast<size_t>(r)];
        for (const Match& m : matcher.MatchAt(rule, r, id)) {
          every.push_back(StrCat(rule.id, ": ", Describe(*g, rule, m)));
        }
      }
    }
    for (const Match& m : matcher.FindAll(*rules)) {
      const Rule& rule = rules->rules()[static_cast<size_t>(m.rule)];
      indexed.push_back(StrCat(rule.id, ": ", Describe(*g, rule, m)));
    }
    EXPECT_GT(every.size(), 0u);
    EXPECT_EQ(indexed, every);
  }
}

}  // namespace
}  // namespace lemma
