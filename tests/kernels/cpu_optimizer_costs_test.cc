// The optimizer's measured cost model on the CPU backend (optimizer_costs.h):
// small ops measured, cached in memory and on disk, the analytical model for
// what the backend cannot measure, and a whole optimizer run on it. No
// timing is asserted beyond being positive.

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/cpu/optimizer_costs.h"
#include "optimizer/optimize.h"

namespace lemma::cpu {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("lemma_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

OpCostKey Key(OpKind op, Attributes attrs, std::vector<TensorType> inputs) {
  OpCostKey key{op, std::move(attrs), std::move(inputs), {}};
  absl::StatusOr<std::vector<TensorType>> out = InferOutputTypes(op, key.inputs, key.attrs);
  EXPECT_TRUE(out.ok()) << out.status();
  if (out.ok()) key.outputs = *out;
  return key;
}

OpCostKey ConvKey(Layout layout) {
  Attributes attrs(OpKind::kConv2d);
  EXPECT_TRUE(attrs.SetEnum("padding", "same").ok());
  TensorType x = TensorType::Make(DType::kF32, {1, 8, 13, 11});
  x.layout = layout;
  OpCostKey key = Key(OpKind::kConv2d, attrs, {x, TensorType::Make(DType::kF32, {16, 8, 3, 3})});
  for (TensorType& t : key.outputs) t.layout = layout;
  return key;
}

OpCostKey MatMulKey() {
  return Key(OpKind::kMatMul, Attributes(OpKind::kMatMul),
             {TensorType::Make(DType::kF32, {7, 33}), TensorType::Make(DType::kF32, {33, 19})});
}

TEST(OptimizerCostsTest, MeasuresCachesReloadsAndFallsBack) {
  const std::string path = TempPath("optimizer_costs.jsonl");
  std::remove(path.c_str());
  absl::StatusOr<std::unique_ptr<OptimizerCosts>> costs =
      OptimizerCosts::Create({.threads = 2, .cache_path = path});
  ASSERT_TRUE(costs.ok()) << costs.status();
  CostModel* model = (*costs)->model();
  EXPECT_NE(model->Name().find("measured on cpu "), std::string::npos) << model->Name();

  const OpCostKey nchw = ConvKey(Layout::kNCHW);
  const OpCostKey nhwc = ConvKey(Layout::kNHWC);
  const OpCostKey mm = MatMulKey();
  const OpCostKey relu = Key(OpKind::kRelu, Attributes(OpKind::kRelu),
                             {TensorType::Make(DType::kF32, {3, 5, 7})});
  for (const OpCostKey* k : {&nchw, &nhwc, &mm, &relu}) {
    EXPECT_GT(model->OpCost(*k), 0) << k->ToString();
  }
  EXPECT_EQ((*costs)->measured(), 4);
  EXPECT_EQ((*costs)->cached(), 0);
  // The same keys again: answered from the backend's cache, not re-measured.
  const double conv_seconds = model->OpCost(nchw);
  EXPECT_EQ((*costs)->measured(), 4);
  EXPECT_EQ((*costs)->cached(), 1);

  // A column-major row vector (strides (1, 1)) through oneDNN's matmul.
  TensorType row = TensorType::Make(DType::kF32, {1, 128});
  row.layout = Layout::kColMajor;
  TensorType w = TensorType::Make(DType::kF32, {128, 64});
  w.layout = Layout::kColMajor;
  OpCostKey vec = Key(OpKind::kMatMul, Attributes(OpKind::kMatMul), {row, w});
  vec.outputs[0].layout = Layout::kColMajor;
  EXPECT_GT(model->OpCost(vec), 0);
  EXPECT_LT(model->OpCost(vec), 1.0);
  EXPECT_EQ((*costs)->fell_back(), 0);

  // f64 has no kernel on the backend: the optimizer's analytical model answers.
  const OpCostKey f64 = Key(OpKind::kRelu, Attributes(OpKind::kRelu),
                            {TensorType::Make(DType::kF64, {64, 64})});
  AnalyticalCostModel analytical;
  EXPECT_DOUBLE_EQ(model->OpCost(f64), analytical.OpCost(f64));
  EXPECT_EQ((*costs)->fell_back(), 1);
  // Sources are free without asking the backend.
  const OpCostKey input{OpKind::kInput, Attributes(OpKind::kInput), {}, {mm.inputs[0]}};
  EXPECT_EQ(model->OpCost(input), 0);
  // Layout preferences are the analytical model's.
  EXPECT_EQ(model->PreferredInputLayout(nchw, 1), analytical.PreferredInputLayout(nchw, 1));
  EXPECT_EQ(model->PreferredInputLayout(mm, 1), analytical.PreferredInputLayout(mm, 1));

  ASSERT_TRUE((*costs)->Save().ok());
  ASSERT_TRUE(std::filesystem::exists(path));
  absl::StatusOr<std::unique_ptr<OptimizerCosts>> again =
      OptimizerCosts::Create({.threads = 2, .cache_path = path});
  ASSERT_TRUE(again.ok()) << again.status();
  for (const OpCostKey* k : {&nchw, &nhwc, &mm, &relu}) {
    EXPECT_GT((*again)->model()->OpCost(*k), 0);
  }
  EXPECT_EQ((*again)->measured(), 0);
  EXPECT_EQ((*again)->cached(), 4);
  EXPECT_DOUBLE_EQ((*again)->model()->OpCost(nchw), conv_seconds);
  std::remove(path.c_str());
}

TEST(OptimizerCostsTest, AnUnreadableCacheIsAnError) {
  const std::string path = TempPath("bad_costs.jsonl");
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not json\n", f);
    std::fclose(f);
  }
  EXPECT_FALSE(OptimizerCosts::Create({.threads = 2, .cache_path = path}).ok());
  std::remove(path.c_str());
}

TEST(OptimizerCostsTest, TheOptimizerRunsOnMeasuredCosts) {
  GraphBuilder b("two_convs");
  const Value x = b.Input("x", DType::kF32, {1, 4, 9, 9});
  const Value w1 = b.Weight("w1", DType::kF32, {8, 4, 3, 3});
  const Value w2 = b.Weight("w2", DType::kF32, {8, 4, 3, 3});
  const Conv2dOptions same{.padding = Padding::kSame};
  b.Output("y", b.EwAdd(b.Conv2d(x, w1, same), b.Conv2d(x, w2, same)));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<std::unique_ptr<OptimizerCosts>> costs = OptimizerCosts::Create({.threads = 2});
  ASSERT_TRUE(costs.ok());
  OptimizeOptions options;
  options.cost_model = (*costs)->model();
  options.threads = 1;
  absl::StatusOr<OptimizeResult> r = Optimize(*g, RuleSet(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->cost_before, 0);
  EXPECT_LE(r->cost_after, r->cost_before);
  EXPECT_NE(r->cost_model.find("measured on cpu"), std::string::npos);
  EXPECT_GT((*costs)->measured(), 0);
}

}  // namespace
}  // namespace lemma::cpu
