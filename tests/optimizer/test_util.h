#ifndef LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_
#define LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_

// Helpers shared by the optimizer's tests.

#include <initializer_list>
#include <string>
#include <string_view>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "rules/rule_text.h"
#include "tests/common/error_cases.h"

namespace lemma::testing {

/// The rules of the files under the tests' data folder, in one set; all
/// tested: tests/rules/data/handwritten.rules and this folder's extra.rules.
inline RuleSet TestRules(std::initializer_list<const char*> files = {
                             "rules/data/handwritten.rules", "optimizer/data/extra.rules"}) {
  RuleSet all;
  for (const char* file : files) {
    absl::StatusOr<RuleSet> rules = ReadRuleFile(DataPath(file));
    EXPECT_TRUE(rules.ok()) << rules.status();
    if (!rules.ok()) continue;
    for (const Rule& r : rules->rules()) {
      const absl::Status s = all.Add(r);
      EXPECT_TRUE(s.ok()) << s;
    }
  }
  return all;
}

/// The zoo's model `name` at its small scale (bench/models.h): the same
/// graph node for node with sizes the reference evaluator runs quickly. The
/// optimizer's differential tests run on these.
inline absl::StatusOr<Graph> SmallModel(std::string_view name) {
  return models::BuildModel(name, {.scale = models::ModelScale::kSmall});
}

}  // namespace lemma::testing

#endif  // LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_
