#include "ir/dot.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "tests/common/test_data.h"

namespace lemma {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

Graph SmallGraph() {
  absl::StatusOr<Graph> g = ParseGraph(R"(graph "small \"dot\" \\ test" {
  input x: f32[1,4,8,8]
  weight w: f32[4,4,3,3]
  c = conv2d(x, w) {padding=same, activation=relu}
  a, b = split(c) {axis=1, sizes=[1,3]}
  output y = b
  output c = c
})");
  EXPECT_TRUE(g.ok()) << g.status();
  return std::move(g).value_or(Graph());
}

TEST(Dot, HasTheExpectedNodesAndEdges) {
  const std::string dot = WriteDot(SmallGraph());
  EXPECT_THAT(dot, HasSubstr("digraph \"small \\\"dot\\\" \\\\ test\" {\n"));
  EXPECT_THAT(dot, HasSubstr("  n0 [label=\"input x\\nf32[1,4,8,8]\", shape=invhouse"));
  EXPECT_THAT(dot, HasSubstr("  n1 [label=\"weight w\\nf32[4,4,3,3]\", shape=cylinder"));
  EXPECT_THAT(dot, HasSubstr("  n2 [label=\"conv2d\\npadding=same\\nactivation=relu\", shape=box"));
  EXPECT_THAT(dot, HasSubstr("  n3 [label=\"split\\naxis=1\\nsizes=[1,3]\", shape=box"));
  EXPECT_THAT(dot, HasSubstr("  n0 -> n2 [label=\"f32[1,4,8,8]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  n1 -> n2 [label=\"f32[4,4,3,3]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  n2 -> n3 [label=\"f32[1,4,8,8]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  out0 [label=\"output y\", shape=house"));
  EXPECT_THAT(dot, HasSubstr("  n3 -> out0 [label=\"[1] f32[1,3,8,8]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  n2 -> out1 [label=\"f32[1,4,8,8]\"];\n"));
  EXPECT_TRUE(dot.ends_with("}\n"));
}

TEST(Dot, IsDeterministic) {
  const Graph g = SmallGraph();
  const std::string dot = WriteDot(g);
  EXPECT_EQ(WriteDot(g), dot);
  absl::StatusOr<Graph> copy = ParseGraph(PrintGraph(g));
  ASSERT_TRUE(copy.ok()) << copy.status();
  EXPECT_EQ(WriteDot(*copy), dot);
}

TEST(Dot, EscapesLabels) {
  const Graph g("a \"quoted\" \\ name\nwith a newline\x01");
  EXPECT_THAT(WriteDot(g),
              StartsWith("digraph \"a \\\"quoted\\\" \\\\ name\\nwith a newline \" {\n"));
}

// Runs `dot -Tsvg` on `text`; returns its exit status and the SVG.
std::pair<int, std::string> RunDot(const std::string& text) {
  std::string dir = StrCat(::testing::TempDir(), "/lemma_dot_XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return {-1, ""};
  const std::string in = StrCat(dir, "/g.dot"), out = StrCat(dir, "/g.svg");
  if (!WriteFileAtomically(in, text).ok()) return {-1, ""};
  const int rc = std::system(StrCat("dot -Tsvg '", in, "' -o '", out, "' 2>/dev/null").c_str());
  std::string svg = ReadFile(out).value_or("");
  unlink(in.c_str());
  unlink(out.c_str());
  rmdir(dir.c_str());
  return {rc, svg};
}

TEST(Dot, PanelsPutEachGraphInItsOwnCluster) {
  const Graph a = SmallGraph();
  const Graph b("other");
  const std::vector<DotPanel> panels = {{"before", &a}, {"after", &b}};
  const std::string dot = WriteDotPanels("rewrite", panels);
  EXPECT_THAT(dot, StartsWith("digraph \"rewrite\" {\n"));
  EXPECT_THAT(dot, HasSubstr("  subgraph cluster_0 {\n  label=\"before\";"));
  EXPECT_THAT(dot, HasSubstr("  subgraph cluster_1 {\n  label=\"after\";"));
  EXPECT_THAT(dot, HasSubstr("  p0_n0 -> p0_n2 [label=\"f32[1,4,8,8]\"];\n"));
  EXPECT_THAT(dot, HasSubstr("  p0_n3 -> p0_out0 [label=\"[1] f32[1,3,8,8]\"];\n"));
  if (std::system("command -v dot >/dev/null 2>&1") == 0) {
    const auto [rc, svg] = RunDot(dot);
    EXPECT_EQ(rc, 0) << dot;
  }
}

TEST(Dot, GraphvizAcceptsIt) {
  if (std::system("command -v dot >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "Graphviz 'dot' is not on PATH; cannot check that it accepts the output";
  }
  absl::StatusOr<Graph> example = ReadGraphFile(lemma::testing::DataPath("ir/data/resnext_block.lemma"));
  ASSERT_TRUE(example.ok()) << example.status();
  for (const Graph& g : {SmallGraph(), *example, Graph("odd \"name\" \\ \n\t\x7f")}) {
    const auto [rc, svg] = RunDot(WriteDot(g));
    EXPECT_EQ(rc, 0) << WriteDot(g);
    EXPECT_THAT(svg, HasSubstr("<svg"));
  }
}

}  // namespace
}  // namespace lemma
