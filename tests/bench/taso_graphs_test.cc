// The TASO-optimized graphs in bench/taso: each parses, has the interface of
// the zoo model it came from (inputs, weights and outputs by name and type),
// and the small ones equal the zoo model on random inputs in float32.

#include <string>
#include <vector>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/text_format.h"
#include "kernels/arith.h"
#include "kernels/compare.h"
#include "tests/common/test_data.h"

namespace lemma {
namespace {

std::string TasoPath(const std::string& name) {
  return lemma::testing::DataPath("../bench/taso/" + name + ".lemma");
}

TEST(TasoGraphsTest, ParseWithTheZooInterface) {
  int found = 0;
  for (const std::string& name : models::ModelNames()) {
    absl::StatusOr<Graph> taso = ReadGraphFile(TasoPath(name));
    if (!taso.ok() && absl::IsNotFound(taso.status())) continue;
    ASSERT_TRUE(taso.ok()) << name << ": " << taso.status();
    ++found;
    absl::StatusOr<Graph> zoo = models::BuildModel(name);
    ASSERT_TRUE(zoo.ok()) << zoo.status();
    ASSERT_EQ(taso->outputs().size(), zoo->outputs().size()) << name;
    for (size_t i = 0; i < zoo->outputs().size(); ++i) {
      EXPECT_EQ(taso->outputs()[i].name, zoo->outputs()[i].name) << name;
      EXPECT_EQ(taso->type(taso->outputs()[i].value), zoo->type(zoo->outputs()[i].value)) << name;
    }
    EXPECT_EQ(taso->InputNodes().size(), zoo->InputNodes().size()) << name;
    EXPECT_EQ(taso->WeightNodes().size(), zoo->WeightNodes().size()) << name;
  }
  EXPECT_GE(found, 1);
}

TEST(TasoGraphsTest, SmallGraphsEqualTheZooModel) {
  for (const std::string name : {"resnext_block", "nasrnn"}) {
    absl::StatusOr<Graph> taso = ReadGraphFile(TasoPath(name));
    ASSERT_TRUE(taso.ok()) << name << ": " << taso.status();
    absl::StatusOr<Graph> zoo = models::BuildModel(name);
    ASSERT_TRUE(zoo.ok()) << zoo.status();
    absl::StatusOr<Comparison> c = CompareOnRandomInputs<F32>(*zoo, *taso, 7, 1, 1e-3);
    ASSERT_TRUE(c.ok()) << name << ": " << c.status();
    EXPECT_TRUE(c->equal) << name << ": " << c->mismatch;
  }
}

}  // namespace
}  // namespace lemma
