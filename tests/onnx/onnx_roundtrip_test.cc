// Zoo models through ONNX export and import: the structural hash and the
// weight data survive, and the imported model computes what the original does.

#include <string>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/hash.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "kernels/weights.h"

namespace lemma {
namespace {

int CountOps(const Graph& g, OpKind op) {
  int n = 0;
  for (const Node& node : g.nodes()) n += node.op == op ? 1 : 0;
  return n;
}

int CountFused(const Graph& g) {
  int n = 0;
  for (const Node& node : g.nodes()) {
    if ((node.op == OpKind::kConv2d || node.op == OpKind::kMatMul) &&
        node.attrs.GetEnum<Activation>("activation") != Activation::kNone) {
      ++n;
    }
  }
  return n;
}

class ZooRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooRoundTrip, KeepsStructuralHashAndWeights) {
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  const WeightValues weights = WithRandomWeights(*g, {}, 1);
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(*g, weights);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<Model> back = ParseOnnxModel(*bytes, GetParam() + ".onnx");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(StructuralHash(back->graph), StructuralHash(*g));
  EXPECT_EQ(back->weights, weights);
  EXPECT_EQ(back->graph.num_nodes(), g->num_nodes());

  // Exported again, the bytes are the same: export and import are inverse here.
  absl::StatusOr<std::string> again = SerializeOnnxModel(back->graph, back->weights);
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<Model> twice = ParseOnnxModel(*again, "again.onnx");
  ASSERT_TRUE(twice.ok()) << twice.status();
  EXPECT_EQ(PrintGraph(twice->graph), PrintGraph(back->graph));
}

// Without activation fusion the one canonicalisation that differs shows: each
// fused activation comes back as a separate node after the conv or matmul.
TEST_P(ZooRoundTrip, WithoutFusionActivationsAreSeparateNodes) {
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(*g, WithRandomWeights(*g, {}, 1));
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  OnnxImportOptions options;
  options.fuse_activations = false;
  absl::StatusOr<Model> back = ParseOnnxModel(*bytes, "m.onnx", options);
  ASSERT_TRUE(back.ok()) << back.status();
  const int fused = CountFused(*g);
  EXPECT_EQ(CountFused(back->graph), 0);
  if (fused == 0) {  // nothing to unfuse: the round trip is exact
    EXPECT_EQ(StructuralHash(back->graph), StructuralHash(*g));
    return;
  }
  EXPECT_EQ(CountOps(back->graph, OpKind::kRelu), CountOps(*g, OpKind::kRelu) + fused);
  EXPECT_NE(StructuralHash(back->graph), StructuralHash(*g));
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooRoundTrip, ::testing::ValuesIn(models::ModelNames()),
                         [](const auto& info) { return info.param; });

TEST(OnnxRoundTrip, ImportedModelComputesWhatTheOriginalDoes) {
  absl::StatusOr<Graph> g = models::ResNeXtBlock();
  ASSERT_TRUE(g.ok()) << g.status();
  const WeightValues weights = WithRandomWeights(*g, {}, 5);
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(*g, weights);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<Model> back = ParseOnnxModel(*bytes, "block.onnx");
  ASSERT_TRUE(back.ok()) << back.status();
  // The original on RandomFeeds (seed 5: the same f32 weights), the import on its data.
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(*g, RandomFeeds<F32>(*g, 5));
  absl::StatusOr<NamedTensors<F32>> feeds = FeedsFromData<F32>(back->graph, back->weights, 5);
  ASSERT_TRUE(feeds.ok()) << feeds.status();
  absl::StatusOr<NamedTensors<F32>> got = Evaluate<F32>(back->graph, *feeds);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(got->at("y").data, want->at("y").data);
}

TEST(OnnxExport, WeightsWithoutData) {
  GraphBuilder b("g");
  b.Output("y", b.Dense(b.Input("x", DType::kF32, {2, 3}), 4));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  absl::StatusOr<std::string> refused = SerializeOnnxModel(*g, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("weight 'w0'"), std::string::npos);
  OnnxExportOptions options;
  options.missing_weights = MissingWeightData::kGraphInput;
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(*g, {}, options);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<Model> back = ParseOnnxModel(*bytes, "g.onnx");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->graph.InputNodes().size(), 2u);  // x and w0
  EXPECT_TRUE(back->weights.empty());
}

TEST(OnnxExport, DataOfTheWrongShapeIsRefused) {
  GraphBuilder b("g");
  b.Output("y", b.Dense(b.Input("x", DType::kF32, {2, 3}), 4));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  WeightValues w;
  w.emplace("w0", WeightValue::Of({4, 3}, std::vector<float>(12, 1.0f)));
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(*g, w);
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("graph declares f32[3,4]"), std::string::npos);
}

}  // namespace
}  // namespace lemma
