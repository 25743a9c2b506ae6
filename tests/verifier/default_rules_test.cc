// The shipped rule set, rules/default.rules: it parses, its proved rules were
// proved from the current axioms, and every proved rule holds again on random
// inputs, in float64 and exactly modulo p.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "kernels/compare.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"
#include "tests/generator/rule_key.h"
#include "verifier/axioms.h"
#include "verifier/prove.h"

namespace lemma::verifier {
namespace {

using ::lemma::testing::DataPath;

const std::string& DefaultRulesPath() {
  static const std::string* path = new std::string(DataPath("../rules/default.rules"));
  return *path;
}

class DefaultRules : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ReadFile(DefaultRulesPath()).ok()) GTEST_SKIP() << "no rules/default.rules";
    absl::StatusOr<RuleSet> rules = ReadRuleFile(DefaultRulesPath());
    ASSERT_TRUE(rules.ok()) << rules.status();
    rules_ = *std::move(rules);
  }
  RuleSet rules_;
};

TEST_F(DefaultRules, ProvedFromTheCurrentAxiomsAndAlmostAll) {
  const std::vector<int> counts = rules_.CountByStatus();
  const int proved = counts[static_cast<size_t>(RuleStatus::kProved)];
  EXPECT_GE(proved * 100, rules_.size() * 99) << proved << " of " << rules_.size() << " proved";
  for (const Rule& rule : rules_.rules()) {
    if (rule.status != RuleStatus::kProved) continue;
    ASSERT_EQ(rule.axiom_set, AxiomSetId())
        << "rule " << rule.id << " was proved from another axiom set: the axioms changed, so "
        << "re-run lemma verify on rules/default.rules (see rules/README.md)";
    EXPECT_FALSE(rule.axioms_used.empty()) << rule.id;
  }
}

TEST_F(DefaultRules, EveryProvedRuleHoldsOnRandomInputs) {
  int tested = 0;
  for (const Rule& rule : rules_.rules()) {
    if (rule.status != RuleStatus::kProved) continue;
    absl::StatusOr<RuleGraphs> f64 = InstantiateRule(rule, DType::kF64);
    ASSERT_TRUE(f64.ok()) << f64.status();
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F64>(f64->source, f64->target, 7, 1);
    ASSERT_TRUE(c.ok()) << rule.id << ": " << c.status();
    EXPECT_TRUE(c->equal) << rule.id << ": " << c->mismatch;
    absl::StatusOr<Comparison> m = CompareOnRandomInputs<ModP>(f64->source, f64->target, 7, 1);
    ASSERT_TRUE(m.ok()) << rule.id << ": " << m.status();
    EXPECT_TRUE(m->equal) << rule.id << ": " << m->mismatch;
    ++tested;
  }
  EXPECT_GT(tested, 0);
}

int CountGemms(const Pattern& p) {
  int n = 0;
  for (const PatternNode& node : p.nodes) n += node.op == OpKind::kConv2d || node.op == OpKind::kMatMul;
  return n;
}

// TASO's classic merges are among the proved rules, for any two output
// widths, and rewrite two convs or matmuls that read one input into one.
TEST_F(DefaultRules, ProveTheMergesOfConvsAndMatmulsThatShareAnInput) {
  absl::StatusOr<RuleSet> identities = ReadRuleFile(DataPath("generator/data/identities.rules"));
  ASSERT_TRUE(identities.ok()) << identities.status();
  for (const char* name : {"matmul_merge_any_widths", "conv_merge_any_widths"}) {
    SCOPED_TRACE(name);
    const Rule* want = identities->Find(name);
    ASSERT_NE(want, nullptr);
    const std::string key = generator_test::RuleKey(*want);
    const Rule* found = nullptr;
    for (const Rule& rule : rules_.rules()) {
      if (generator_test::RuleKey(rule) == key) found = &rule;
    }
    ASSERT_NE(found, nullptr) << "rules/default.rules has no rule stating " << name;
    EXPECT_EQ(found->status, RuleStatus::kProved) << found->id;
    EXPECT_EQ(CountGemms(found->source), 2) << found->id;
    EXPECT_EQ(CountGemms(found->target), 1) << found->id;
  }
}

// A refuted rule carries a counterexample the reference evaluator confirms.
TEST_F(DefaultRules, RefutedRulesAreRefutedAgain) {
  for (const Rule& rule : rules_.rules()) {
    if (rule.status != RuleStatus::kRefuted) continue;
    EXPECT_TRUE(FindCounterexample(rule, {}).has_value()) << rule.id;
  }
}

}  // namespace
}  // namespace lemma::verifier
