#ifndef LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_
#define LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_

// Helpers shared by the optimizer's tests.

#include <initializer_list>
#include <string>

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

}  // namespace lemma::testing

#endif  // LEMMA_TESTS_OPTIMIZER_TEST_UTIL_H_
