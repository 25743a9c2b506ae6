// Compiles and runs the CPU example shown in README.md (after the graph
// example it continues from).

#include <cmath>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/cpu/runtime.h"
#include "kernels/random.h"

namespace {

TEST(Readme, CpuExampleRunsTheGraph) {
#include "readme_graph.inc"
  ASSERT_TRUE(g.ok()) << g.status();
#include "readme_cpu.inc"
  ASSERT_TRUE(exe.ok()) << exe.status();
  ASSERT_TRUE(out.ok()) << out.status();
  const absl::StatusOr<lemma::NamedTensors<lemma::F32>> want = lemma::Evaluate<lemma::F32>(*g, feeds);
  ASSERT_TRUE(want.ok());
  const std::vector<float>& got = out->at("y").data;
  const std::vector<float>& expected = want->at("y").data;
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::fabs(expected[i])));
  }
}

}  // namespace
