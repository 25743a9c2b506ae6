// The builder: sticky errors, names, and one node of every op.

#include "gtest/gtest.h"
#include "ir/builder.h"

namespace lemma {
namespace {

TEST(GraphBuilder, KeepsTheFirstErrorWithItsContext) {
  GraphBuilder b("bad");
  Value x = b.Input("x", DType::kF32, {1, 3, 8, 8});
  Value w = b.Weight("w", DType::kF32, {4, 2, 3, 3});
  Value y = b.Conv2d(x, w);  // 3 input channels, the weight expects 2
  EXPECT_FALSE(y.valid());
  Value z = b.Relu(y);  // skipped
  EXPECT_FALSE(z.valid());
  b.Relu(b.Input("x", DType::kF32, {1}));  // a second error is not recorded
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  const std::string msg(g.status().message());
  EXPECT_EQ(msg.rfind("node 2: conv2d: weight f32[4,2,3,3] expects 2 input channels", 0), 0u)
      << msg;
}

TEST(GraphBuilder, RequiresOutputs) {
  GraphBuilder b("empty");
  b.Input("x", DType::kF32, {1});
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(std::string(g.status().message()), "graph 'empty' has no outputs");
}

TEST(GraphBuilder, AutoNamesWeights) {
  GraphBuilder b("g");
  b.Weight("w0", DType::kF32, {1});
  Value x = b.Input("x", DType::kF32, {2, 3});
  Value y = b.Dense(x, 5);
  b.Output("y", y);
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->FindValue("w1").has_value());
  EXPECT_EQ(g->type(*g->FindValue("w1")).ToString(), "f32[3,5]");
  EXPECT_EQ(g->type(y).ToString(), "f32[2,5]");
}

TEST(GraphBuilder, EveryOpHasABuilderCall) {
  GraphBuilder b("all");
  Value img = b.Input("img", DType::kF32, {1, 4, 6, 6});
  Value mat = b.Input("mat", DType::kF32, {4, 4});
  Value s = b.Input("s", DType::kF32, {});
  Value c = b.Conv2d(img, 4, {3, 3}, {.padding = Padding::kSame});
  std::vector<Value> outs = {
      b.MatMul(mat, mat), c, b.EwAdd(mat, mat), b.EwMul(mat, mat), b.ScalarMul(mat, s),
      b.Relu(mat), b.AvgPool2d(img, {.padding = Padding::kSame}),
      b.MaxPool2d(img, {.stride = {2, 2}}), b.Concat({mat, mat}, 0), b.Split(mat, 0, {1, 3})[1],
      b.Transpose(mat, {1, 0}), b.Enlarge(b.Weight("k", DType::kF32, {4, 4, 1, 1}), {3, 3}),
      b.ConstPool(4, {3, 3}), b.ConstIdentityConv(4, {3, 3}), b.ConstIdentityMatrix(4),
      b.ConstOnes({2, 2}), b.Sigmoid(mat), b.Tanh(mat), b.Gelu(mat),
      b.BatchNorm(img, b.Weight("g", DType::kF32, {4}), b.Weight("bb", DType::kF32, {4}),
                  b.Weight("m", DType::kF32, {4}), b.Weight("v", DType::kF32, {4})),
      b.Softmax(mat), b.Reshape(mat, {2, -1}), b.BroadcastAdd(mat, s), b.BroadcastMul(mat, s),
      b.BroadcastSub(mat, s), b.BroadcastDiv(mat, s),
      b.LayerNorm(mat, b.Weight("lg", DType::kF32, {4}), b.Weight("lb", DType::kF32, {4})),
      b.Pad(mat, {1, 0, 1, 0}), b.Slice(mat, {0}, {1}, {3}), b.ReduceSum(mat, {0}),
      b.ReduceMean(mat, {1}), b.ReduceMax(mat, {0, 1}, false)};
  for (size_t i = 0; i < outs.size(); ++i) b.Output("o" + std::to_string(i), outs[i]);
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  std::vector<bool> used(kNumOpKinds, false);
  for (const Node& n : g->nodes()) used[static_cast<size_t>(n.op)] = true;
  for (const OpInfo& info : AllOps()) EXPECT_TRUE(used[static_cast<size_t>(info.kind)]) << info.name;
}

TEST(SingleOpGraph, WeightsInputsOutputsAndLayouts) {
  Attributes attrs(OpKind::kConv2d);
  ASSERT_TRUE(attrs.SetEnum("padding", "same").ok());
  const std::vector<TensorType> inputs = {TensorType::Make(DType::kF32, {1, 8, 5, 5}),
                                          TensorType::Make(DType::kF32, {4, 8, 3, 3})};
  const std::vector<Layout> layouts = {Layout::kNHWC};
  absl::StatusOr<Graph> g = SingleOpGraph(OpKind::kConv2d, attrs, inputs, {false, true}, layouts);
  ASSERT_TRUE(g.ok()) << g.status();
  const NodeId op = static_cast<NodeId>(inputs.size());
  EXPECT_EQ(g->node(op).op, OpKind::kConv2d);
  EXPECT_EQ(g->node(g->FindValue("x0")->node).op, OpKind::kInput);
  EXPECT_EQ(g->node(g->FindValue("w1")->node).op, OpKind::kWeight);
  const ValueId y = *g->FindOutput("y0");
  EXPECT_EQ(g->type(y).dims, (Dims{1, 4, 5, 5}));
  EXPECT_EQ(g->type(y).layout, Layout::kNHWC);
}

TEST(SingleOpGraph, RejectsAnImpossibleOpAndMismatchedFlags) {
  Attributes attrs(OpKind::kMatMul);
  const std::vector<TensorType> inputs = {TensorType::Make(DType::kF32, {2, 3}),
                                          TensorType::Make(DType::kF32, {4, 5})};
  EXPECT_FALSE(SingleOpGraph(OpKind::kMatMul, attrs, inputs, {false, true}).ok());
  absl::StatusOr<Graph> g = SingleOpGraph(OpKind::kMatMul, attrs, inputs, {false});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("2 inputs but 1 weight flags"), std::string::npos);
}

}  // namespace
}  // namespace lemma
