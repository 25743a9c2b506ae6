#include "rules/rule_text.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/strings.h"
#include "kernels/compare.h"
#include "tests/common/error_cases.h"

namespace lemma {
namespace {

using ::lemma::testing::DataPath;
using ::lemma::testing::ErrorCase;
using ::lemma::testing::Message;
using ::testing::HasSubstr;

RuleSet Load(const std::string& relative) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath(relative));
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *std::move(rules) : RuleSet();
}

TEST(RuleText, HandWrittenFileIsInCanonicalForm) {
  const std::string path = DataPath("rules/data/handwritten.rules");
  absl::StatusOr<std::string> text = ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<RuleSet> rules = ParseRules(*text, path);
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(rules->size(), 11);
  EXPECT_EQ(PrintRules(*rules, "Hand-written rules that hold: each is random-tested by rule_test."),
            *text);
}

TEST(RuleText, RoundTripKeepsEveryField) {
  Rule rule;
  rule.id = "r7";
  rule.status = RuleStatus::kProved;
  rule.axiom_set = "lemma-axioms-1";
  rule.axioms_used = {"ewadd_comm", "matmul_linear_right"};
  rule.fingerprint = 0x00ab'cdef'0123'4567;
  rule.origin = "a \"quoted\" origin";
  rule.example = {{"m", 2}, {"k", 3}};
  rule.source.nodes = {PatternNode{.name = "a", .dims = {DimExpr::Var("m"), DimExpr::Var("k")}},
                       PatternNode{.name = "b", .dims = {DimExpr::Var("m"), DimExpr::Var("k")}}};
  PatternNode add{.op = OpKind::kEwAdd, .attrs = DefaultPatternAttrs(OpKind::kEwAdd),
                  .inputs = {{0, 0}, {1, 0}}};
  rule.source.nodes.push_back(add);
  rule.source.outputs = {{"y", {2, 0}}};
  rule.target = rule.source;
  rule.target.nodes[2].inputs = {{1, 0}, {0, 0}};
  RuleSet set;
  ASSERT_TRUE(set.Add(rule).ok());
  const std::string text = PrintRules(set);
  EXPECT_THAT(text, HasSubstr("status proved \"lemma-axioms-1\"\n"));
  EXPECT_THAT(text, HasSubstr("uses [ewadd_comm, matmul_linear_right]\n"));
  EXPECT_THAT(text, HasSubstr("fingerprint \"00abcdef01234567\"\n"));
  EXPECT_THAT(text, HasSubstr("origin \"a \\\"quoted\\\" origin\"\n"));
  EXPECT_THAT(text, HasSubstr("example k=3, m=2\n"));
  absl::StatusOr<RuleSet> back = ParseRules(text);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
  const Rule& r = back->rules()[0];
  EXPECT_EQ(r.status, RuleStatus::kProved);
  EXPECT_EQ(r.axiom_set, rule.axiom_set);
  EXPECT_EQ(r.axioms_used, rule.axioms_used);
  EXPECT_EQ(r.fingerprint, rule.fingerprint);
  EXPECT_EQ(r.origin, rule.origin);
  EXPECT_EQ(r.example, rule.example);
  EXPECT_EQ(PrintRules(*back), text);
}

TEST(RuleText, RefutedAndUnknownKeepTheirNote) {
  for (const char* status : {"refuted", "unknown"}) {
    const std::string text = StrCat("rule r { status ", status,
                                    " \"output y element 0: 1 vs 2\" source { input a: [2] "
                                    "%0 = relu(a) output y = %0 } target { output y = a } }");
    absl::StatusOr<RuleSet> rules = ParseRules(text);
    ASSERT_TRUE(rules.ok()) << rules.status();
    EXPECT_EQ(rules->rules()[0].note, "output y element 0: 1 vs 2");
    EXPECT_THAT(PrintRules(*rules), HasSubstr(StrCat("status ", status, " \"output y")));
  }
}

// Every hand-written rule holds on random inputs, in float64 and exactly
// modulo p, at its example sizes and at other sizes.
TEST(RuleText, HandWrittenRulesHoldOnRandomInputs) {
  const RuleSet rules = Load("rules/data/handwritten.rules");
  for (const Rule& rule : rules.rules()) {
    SCOPED_TRACE(rule.id);
    Bindings other = rule.example;
    for (auto& [name, value] : other) {
      if (name != "k") value += 2;  // concat's axis variable keeps its value
    }
    for (const Bindings* sizes : {&rule.example, static_cast<const Bindings*>(&other)}) {
      absl::StatusOr<RuleGraphs> f64 = InstantiateRule(rule, DType::kF64, sizes);
      ASSERT_TRUE(f64.ok()) << f64.status();
      absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(f64->source, f64->target, 1, 3);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_TRUE(c->equal) << c->mismatch;
      absl::StatusOr<Comparison> m = CompareOnRandomInputs<ModP>(f64->source, f64->target, 1, 3);
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_TRUE(m->equal) << m->mismatch;
    }
  }
}

TEST(RuleText, PlantedFalseRulesFailRandomTesting) {
  const RuleSet rules = Load("rules/data/false.rules");
  ASSERT_EQ(rules.size(), 3);
  for (const Rule& rule : rules.rules()) {
    SCOPED_TRACE(rule.id);
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule);
    ASSERT_TRUE(g.ok()) << g.status();
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(g->source, g->target, 1, 3);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->equal);
    EXPECT_THAT(c->mismatch, HasSubstr("output "));
    absl::StatusOr<Comparison> m = CompareOnRandomInputs<ModP>(g->source, g->target, 1, 1);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_FALSE(m->equal);
  }
}

TEST(RuleText, EveryErrorFileFailsWhereItSays) {
  const std::vector<ErrorCase> cases =
      ::lemma::testing::LoadErrorCases(DataPath("rules/data/errors"), ".rules");
  EXPECT_GE(cases.size(), 16u);
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<RuleSet> rules = ParseRules(c.text, c.file);
    ASSERT_FALSE(rules.ok()) << PrintRules(*rules);
    ::lemma::testing::ExpectErrorCase(c, rules.status());
  }
}

TEST(RuleText, ReadRuleFilesMergesAndNamesTheFileOfAClash) {
  const std::string hand = DataPath("rules/data/handwritten.rules");
  const std::string wrong = DataPath("rules/data/false.rules");
  absl::StatusOr<RuleSet> both = ReadRuleFiles(StrCat(hand, ",", wrong));
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->size(), 14);
  EXPECT_EQ(both->rules()[11].id, "relu_distributes");
  absl::StatusOr<RuleSet> twice = ReadRuleFiles(StrCat(hand, ",", hand));
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(Message(twice.status()), HasSubstr(StrCat(hand, ": rule matmul_distributes: duplicate id")));
}

TEST(RuleText, MissingFileIsNamed) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile("/nonexistent/x.rules");
  ASSERT_FALSE(rules.ok());
  EXPECT_THAT(Message(rules.status()), HasSubstr("/nonexistent/x.rules"));
}

TEST(RuleText, WriteIsAtomicAndReadsBack) {
  const RuleSet rules = Load("rules/data/handwritten.rules");
  const std::string path = StrCat(::testing::TempDir(), "/rules_roundtrip.rules");
  ASSERT_TRUE(WriteRuleFile(path, rules, "header").ok());
  absl::StatusOr<RuleSet> back = ReadRuleFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(PrintRules(*back), PrintRules(rules));
}

}  // namespace
}  // namespace lemma
