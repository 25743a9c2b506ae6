// Random feeds: deterministic per name and seed, and scaled so that deep
// models without normalisation stay finite.

#include <cmath>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma {
namespace {

TEST(RandomFeeds, DependOnlyOnNameAndSeed) {
  GraphBuilder a("a"), b("b");
  a.Output("y", a.Relu(a.Input("x", DType::kF32, {3, 4})));
  Value extra = b.Input("other", DType::kF32, {2});
  b.Output("y", b.Relu(b.Input("x", DType::kF32, {3, 4})));
  b.Output("z", extra);
  const Graph ga = *std::move(a).Build();
  const Graph gb = *std::move(b).Build();
  EXPECT_EQ(RandomFeeds<F64>(ga, 5).at("x").data, RandomFeeds<F64>(gb, 5).at("x").data);
  EXPECT_NE(RandomFeeds<F64>(ga, 5).at("x").data, RandomFeeds<F64>(ga, 6).at("x").data);
}

TEST(RandomFeeds, WeightsAreHeUniform) {
  const TensorType conv = TensorType::Make(DType::kF32, {8, 16, 3, 3});
  EXPECT_DOUBLE_EQ(WeightScale(conv), std::sqrt(6.0 / 144));
  EXPECT_DOUBLE_EQ(WeightScale(TensorType::Make(DType::kF32, {64, 10})), std::sqrt(6.0 / 64));
  const Tensor<double> t = RandomTensor<F64>(conv, 1, WeightScale(conv));
  double max_abs = 0;
  for (double v : t.data) max_abs = std::max(max_abs, std::fabs(v));
  EXPECT_LT(max_abs, WeightScale(conv));
  EXPECT_GT(max_abs, 0.9 * WeightScale(conv));
}

// 60 conv + relu layers with no normalisation: unscaled weights in [-1, 1)
// would grow activations ~7x per layer, past float32's range.
TEST(RandomFeeds, DeepModelWithoutNormalisationStaysFiniteInF32) {
  GraphBuilder b("deep");
  Value x = b.Input("x", DType::kF32, {1, 16, 6, 6});
  for (int i = 0; i < 60; ++i) {
    x = b.Conv2d(x, 16, {3, 3}, {.padding = Padding::kSame, .activation = Activation::kRelu});
  }
  b.Output("y", x);
  const Graph g = *std::move(b).Build();
  absl::StatusOr<NamedTensors<F32>> out = Evaluate<F32>(g, RandomFeeds<F32>(g, 1));
  ASSERT_TRUE(out.ok()) << out.status();
  double sum_abs = 0;
  for (float v : out->at("y").data) {
    ASSERT_TRUE(std::isfinite(v));
    sum_abs += std::fabs(v);
  }
  const double mean_abs = sum_abs / static_cast<double>(out->at("y").data.size());
  EXPECT_GT(mean_abs, 1e-4);
  EXPECT_LT(mean_abs, 1e4);
}

}  // namespace
}  // namespace lemma
