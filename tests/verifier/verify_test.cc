#include "verifier/prove.h"

#include <dirent.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"
#include "verifier/axioms.h"

namespace lemma::verifier {
namespace {

using ::lemma::testing::DataPath;
using ::testing::HasSubstr;

// Short enough for ctest; every case here proves in milliseconds.
constexpr int kTimeoutMs = 5000;

std::vector<std::string> RuleFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(DataPath(dir).c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.ends_with(".rules")) out.push_back(StrCat(dir, "/", name));
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

RuleSet Load(const std::string& relative) {
  absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath(relative));
  EXPECT_TRUE(rules.ok()) << rules.status();
  return rules.ok() ? *std::move(rules) : RuleSet();
}

// ---------------------------------------------------------------- must be proved

class ProvedFile : public ::testing::TestWithParam<std::string> {};

TEST_P(ProvedFile, EveryRuleIsProved) {
  const RuleSet rules = Load(GetParam());
  ASSERT_GT(rules.size(), 0);
  Prover prover({.timeout_ms = kTimeoutMs});
  for (const Rule& rule : rules.rules()) {
    const Verdict v = prover.Verify(rule);
    ASSERT_TRUE(std::holds_alternative<Proved>(v)) << rule.id << ": " << DescribeVerdict(v);
    const Proved& p = std::get<Proved>(v);
    EXPECT_EQ(p.axiom_set, AxiomSetId());
    EXPECT_FALSE(p.axioms_used.empty()) << rule.id;
    for (const std::string& name : p.axioms_used) {
      EXPECT_NE(FindAxiom(name), nullptr) << rule.id << " used " << name;
    }
  }
}

// The axioms and a rule's hypotheses, with the rule's terms to instantiate
// on, do not let Z3 derive false.
TEST_P(ProvedFile, AxiomsAndHypothesesAreConsistent) {
  const RuleSet rules = Load(GetParam());
  Prover prover({.timeout_ms = 2000});
  for (const Rule& rule : rules.rules()) {
    const Verdict v = prover.ProveContradiction(rule);
    EXPECT_FALSE(std::holds_alternative<Proved>(v)) << rule.id << " lets Z3 prove false";
  }
}

std::vector<std::string> ProvedFiles() {
  std::vector<std::string> files = RuleFiles("verifier/data/proved");
  files.push_back("rules/data/handwritten.rules");
  return files;
}

INSTANTIATE_TEST_SUITE_P(Data, ProvedFile, ::testing::ValuesIn(ProvedFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(info.param.rfind('/') + 1);
                           name = name.substr(0, name.find('.'));
                           for (char& c : name) c = std::isalnum(c) ? c : '_';
                           return StrCat(info.index, "_", name);
                         });

// ---------------------------------------------------------------- must not be proved

class FalseFile : public ::testing::TestWithParam<std::string> {};

// Z3 alone (no random testing first) never proves a false rule.
TEST_P(FalseFile, NoRuleIsProved) {
  const RuleSet rules = Load(GetParam());
  ASSERT_GT(rules.size(), 0);
  Prover prover({.timeout_ms = 2000});
  for (const Rule& rule : rules.rules()) {
    const Verdict v = prover.Prove(rule);
    EXPECT_FALSE(std::holds_alternative<Proved>(v)) << rule.id << " was proved";
  }
}

// Verification refutes each with a concrete counterexample.
TEST_P(FalseFile, EveryRuleIsRefuted) {
  const RuleSet rules = Load(GetParam());
  Prover prover({.timeout_ms = 2000, .extra_sizes = 8});
  for (const Rule& rule : rules.rules()) {
    const Verdict v = prover.Verify(rule);
    ASSERT_TRUE(std::holds_alternative<Refuted>(v)) << rule.id << ": " << DescribeVerdict(v);
    EXPECT_THAT(std::get<Refuted>(v).counterexample, HasSubstr("output "));
  }
}

INSTANTIATE_TEST_SUITE_P(Data, FalseFile,
                         ::testing::Values("verifier/data/false/false.rules",
                                           "rules/data/false.rules"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return StrCat("file", info.index);
                         });

// ---------------------------------------------------------------- verdicts

TEST(Verify, RulesOutsideTheOpSetAreUnknown) {
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
    rule sigmoid_rule {
      example n=3
      source { input a: [n]  %0 = sigmoid(a)  %1 = relu(%0)  output y = %1 }
      target { %0 = sigmoid(a)  output y = %0 }
    })");
  ASSERT_TRUE(rules.ok()) << rules.status();
  Prover prover;
  const Verdict v = prover.Verify(rules->rules()[0]);
  ASSERT_TRUE(std::holds_alternative<Unknown>(v)) << DescribeVerdict(v);
  EXPECT_THAT(std::get<Unknown>(v).reason, HasSubstr("sigmoid"));
}

// A negative axis means the same as the positive one.
TEST(Verify, NegativeAxesAreNormalized) {
  absl::StatusOr<RuleSet> rules = ParseRules(R"(
    rule negative_axis {
      example a=2, b=3, n=4
      source {
        input x: [n, a]
        input y: [n, b]
        %0 = concat(x, y) {axis=-1}
        %1, %2 = split(%0) {axis=1, sizes=[a, b]}
        output p = %1
      }
      target { output p = x }
    })");
  ASSERT_TRUE(rules.ok()) << rules.status();
  Prover prover({.timeout_ms = kTimeoutMs});
  const Verdict v = prover.Verify(rules->rules()[0]);
  EXPECT_TRUE(std::holds_alternative<Proved>(v)) << DescribeVerdict(v);
}

TEST(Verify, TimeoutIsATypedVerdict) {
  const RuleSet rules = Load("verifier/data/proved/grouped.rules");
  Prover prover({.timeout_ms = 1, .unsat_cores = false});
  int timeouts = 0;
  for (const Rule& rule : rules.rules()) {
    const Verdict v = prover.Prove(rule);
    EXPECT_FALSE(std::holds_alternative<Refuted>(v));
    timeouts += std::holds_alternative<Timeout>(v);
  }
  EXPECT_GT(timeouts, 0);
}

TEST(Verify, ManyRulesInParallelKeepTheirOrderAndReportProgress) {
  const RuleSet rules = Load("verifier/data/proved/matmul.rules");
  std::vector<std::string> seen;
  int last_done = 0;
  const std::vector<Verdict> verdicts = VerifyRules(
      rules.rules(), {.timeout_ms = kTimeoutMs, .threads = 2}, [&](const VerifyProgress& p) {
        EXPECT_EQ(p.done, last_done + 1);
        last_done = p.done;
        EXPECT_EQ(p.total, rules.size());
        seen.emplace_back(p.rule_id);
      });
  ASSERT_EQ(static_cast<int>(verdicts.size()), rules.size());
  EXPECT_EQ(static_cast<int>(seen.size()), rules.size());
  EXPECT_EQ(last_done, rules.size());
  for (const Verdict& v : verdicts) EXPECT_TRUE(std::holds_alternative<Proved>(v));
}

TEST(Verify, RecordVerdictSetsStatusAndProvenance) {
  RuleSet rules = Load("rules/data/handwritten.rules");
  Rule rule = rules.rules()[0];
  RecordVerdict(Proved{"set-1", {"a", "b"}}, rule);
  EXPECT_EQ(rule.status, RuleStatus::kProved);
  EXPECT_EQ(rule.axiom_set, "set-1");
  EXPECT_EQ(rule.axioms_used, (std::vector<std::string>{"a", "b"}));
  RecordVerdict(Timeout{250}, rule);
  EXPECT_EQ(rule.status, RuleStatus::kUnknown);
  EXPECT_TRUE(rule.axiom_set.empty());
  EXPECT_THAT(rule.note, HasSubstr("timeout after 250 ms"));
  RecordVerdict(Refuted{"output y element 0: 1 vs 2"}, rule);
  EXPECT_EQ(rule.status, RuleStatus::kRefuted);
  EXPECT_EQ(rule.note, "output y element 0: 1 vs 2");
  EXPECT_TRUE(CheckRule(rule).ok());
}

}  // namespace
}  // namespace lemma::verifier
