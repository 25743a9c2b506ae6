#include "verifier/axioms.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "verifier/validate.h"

namespace lemma::verifier {
namespace {

class AxiomTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AxiomTest, HoldsOnConcreteTensors) {
  const Axiom* axiom = FindAxiom(GetParam());
  ASSERT_NE(axiom, nullptr);
  const ValidationReport report = ValidateAxiom(*axiom);
  EXPECT_TRUE(report.status.ok()) << report.status;
  EXPECT_GE(report.exercised * 8, report.samples)
      << axiom->name << ": only " << report.exercised << " of " << report.samples
      << " samples tested more than the guard";
}

std::vector<std::string> AxiomNames() {
  std::vector<std::string> names;
  for (const Axiom& a : Axioms()) names.push_back(a.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(EveryAxiom, AxiomTest, ::testing::ValuesIn(AxiomNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace lemma::verifier
