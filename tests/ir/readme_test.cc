// Compiles and runs the library example shown in README.md.

#include "gtest/gtest.h"
#include "ir/builder.h"

namespace {

absl::StatusOr<lemma::Graph> ReadmeExample() {
#include "readme_example.inc"
  return g;
}

TEST(Readme, LibraryExampleBuildsAGraph) {
  absl::StatusOr<lemma::Graph> g = ReadmeExample();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->outputs().size(), 1u);
  EXPECT_EQ(g->type(g->outputs()[0].value).ToString(), "f32[1,64,56,56]");
}

}  // namespace
