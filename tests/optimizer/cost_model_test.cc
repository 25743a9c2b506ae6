#include "optimizer/cost_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "optimizer/graph_cost.h"
#include "optimizer/layout.h"

namespace lemma {
namespace {

OpCostKey Conv(Layout in, Layout out, Dims x = {1, 64, 56, 56}, Dims w = {64, 64, 3, 3}) {
  Attributes attrs(OpKind::kConv2d);
  EXPECT_TRUE(attrs.SetEnum("padding", "same").ok());
  const Dims y = {x[0], w[0], x[2], x[3]};
  return OpCostKey{OpKind::kConv2d,
                   attrs,
                   {TensorType{DType::kF32, x, in}, TensorType{DType::kF32, w, Layout::kNHWC}},
                   {TensorType{DType::kF32, y, out}}};
}

OpCostKey Unary(OpKind op, const TensorType& t) { return OpCostKey{op, Attributes(op), {t}, {t}}; }

MachineSpec ChannelsLast() {
  MachineSpec spec;
  spec.conv_layout = Layout::kNHWC;
  return spec;
}

TEST(AnalyticalCostModel, ConvIsComputeBound) {
  AnalyticalCostModel model(ChannelsLast());
  const MachineSpec& m = model.spec();
  const OpCostKey key = Conv(Layout::kNHWC, Layout::kNHWC);
  const double flops = 2.0 * 64 * 56 * 56 * 64 * 9;
  EXPECT_DOUBLE_EQ(AnalyticalCostModel::Flops(key), flops);
  EXPECT_DOUBLE_EQ(model.OpCost(key), m.op_overhead + flops / (m.peak_flops * m.gemm_efficiency));
  // All NCHW: computed NCHW, a little slower, rather than with two reorders.
  OpCostKey nchw = Conv(Layout::kNCHW, Layout::kNCHW);
  nchw.inputs[1].layout = Layout::kNCHW;  // weights stored as computed
  EXPECT_DOUBLE_EQ(model.OpCost(nchw),
                   m.op_overhead + flops / (m.peak_flops * m.gemm_efficiency *
                                            m.other_conv_layout_speed));
  EXPECT_EQ(model.PreferredInputLayout(nchw, 1), Layout::kNCHW);
  // Input and output in different layouts: one of them is reordered.
  EXPECT_DOUBLE_EQ(model.OpCost(Conv(Layout::kNHWC, Layout::kNCHW)),
                   model.OpCost(key) + model.ConversionCost(key.outputs[0]));
  EXPECT_DOUBLE_EQ(model.OpCost(Conv(Layout::kNCHW, Layout::kNHWC)),
                   model.OpCost(key) + model.ConversionCost(key.inputs[0]));
  EXPECT_GT(model.OpCost(Conv(Layout::kNCHW, Layout::kNHWC)), model.OpCost(nchw));
  EXPECT_EQ(model.PreferredInputLayout(key, 0), Layout::kNHWC);
  EXPECT_EQ(model.PreferredInputLayout(key, 1), Layout::kNHWC);
  EXPECT_EQ(model.PreferredInputLayout(Conv(Layout::kNCHW, Layout::kNHWC), 1), Layout::kNHWC);
}

// A reorder reads and writes the tensor at the reorder bandwidth.
TEST(AnalyticalCostModel, ReordersRunBelowTheCacheBandwidth) {
  AnalyticalCostModel model;
  const MachineSpec& m = model.spec();
  const TensorType t{DType::kF32, {1, 64, 56, 56}, Layout::kNCHW};
  const double bytes = 2.0 * 4 * 64 * 56 * 56;
  EXPECT_DOUBLE_EQ(model.ConversionCost(t), m.op_overhead + bytes / m.reorder_bandwidth);
  EXPECT_GT(model.ConversionCost(t), m.op_overhead + model.TransferTime(bytes));
}

// The default machine: dense and depthwise convs compute channels-last, other
// grouped convs NCHW whatever the layouts around them.
TEST(AnalyticalCostModel, GroupedConvsReadNchwByDefault) {
  AnalyticalCostModel model;
  const MachineSpec& m = model.spec();
  auto grouped = [](Dims w, int64_t groups, Layout in, Layout out) {
    OpCostKey key = Conv(in, out, {1, 64, 28, 28}, w);
    EXPECT_TRUE(key.attrs.Set("groups", AttrValue(groups)).ok());
    return key;
  };
  EXPECT_EQ(model.PreferredInputLayout(Conv(Layout::kNHWC, Layout::kNHWC), 0), Layout::kNHWC);
  const OpCostKey depthwise = grouped({64, 1, 3, 3}, 64, Layout::kNHWC, Layout::kNHWC);
  EXPECT_EQ(model.PreferredInputLayout(depthwise, 0), Layout::kNHWC);
  EXPECT_EQ(model.PreferredInputLayout(depthwise, 1), Layout::kNHWC);
  // The NCHW input of a depthwise conv writing NHWC is reordered.
  OpCostKey depthwise_nchw = depthwise;
  depthwise_nchw.inputs[0].layout = Layout::kNCHW;
  EXPECT_DOUBLE_EQ(model.OpCost(depthwise_nchw),
                   model.OpCost(depthwise) + model.ConversionCost(depthwise.inputs[0]));
  // A conv of 8 groups computes NCHW: each NHWC activation costs
  // grouped_conv_reorders reorders.
  const OpCostKey by_eight = grouped({64, 8, 3, 3}, 8, Layout::kNCHW, Layout::kNCHW);
  for (Layout in : {Layout::kNCHW, Layout::kNHWC}) {
    for (Layout out : {Layout::kNCHW, Layout::kNHWC}) {
      const OpCostKey k = grouped({64, 8, 3, 3}, 8, in, out);
      EXPECT_EQ(model.PreferredInputLayout(k, 0), Layout::kNCHW);
      EXPECT_EQ(model.PreferredInputLayout(k, 1), Layout::kNCHW);
      const int reordered = (in == Layout::kNHWC ? 1 : 0) + (out == Layout::kNHWC ? 1 : 0);
      EXPECT_DOUBLE_EQ(model.OpCost(k),
                       model.OpCost(by_eight) + reordered * m.grouped_conv_reorders *
                                                    model.ConversionCost(by_eight.inputs[0]));
    }
  }
}

TEST(AnalyticalCostModel, ElementwiseIsMemoryBound) {
  AnalyticalCostModel model;
  const MachineSpec& m = model.spec();
  // 16 MiB in and out: beyond the cache, at DRAM bandwidth.
  const TensorType big = TensorType::Make(DType::kF32, {1, 64, 256, 256});
  const double bytes = 2.0 * 4 * 64 * 256 * 256;
  EXPECT_DOUBLE_EQ(model.OpCost(Unary(OpKind::kRelu, big)), m.op_overhead + bytes / m.dram_bandwidth);
  // 32 KiB: in the cache.
  const TensorType small = TensorType::Make(DType::kF32, {1, 8, 32, 32});
  EXPECT_DOUBLE_EQ(model.OpCost(Unary(OpKind::kRelu, small)),
                   m.op_overhead + 2.0 * 4 * 8 * 32 * 32 / m.cache_bandwidth);
  // An input in another layout than the output is reordered.
  TensorType nhwc = big;
  nhwc.layout = Layout::kNHWC;
  EXPECT_DOUBLE_EQ(model.OpCost(OpCostKey{OpKind::kRelu, Attributes(OpKind::kRelu), {nhwc}, {big}}),
                   model.OpCost(Unary(OpKind::kRelu, big)) + model.ConversionCost(nhwc));
  // f64 moves twice the bytes.
  TensorType f64 = big;
  f64.dtype = DType::kF64;
  EXPECT_GT(model.OpCost(Unary(OpKind::kRelu, f64)), model.OpCost(Unary(OpKind::kRelu, big)));
}

TEST(AnalyticalCostModel, MatMulWantsTheReductionDimensionContiguous) {
  AnalyticalCostModel model;
  const TensorType a = TensorType::Make(DType::kF32, {64, 256});
  TensorType b_row = TensorType::Make(DType::kF32, {256, 128});
  TensorType b_col = b_row;
  b_col.layout = Layout::kColMajor;
  const TensorType c = TensorType::Make(DType::kF32, {64, 128});
  const Attributes attrs(OpKind::kMatMul);
  const OpCostKey good{OpKind::kMatMul, attrs, {a, b_col}, {c}};
  const OpCostKey bad{OpKind::kMatMul, attrs, {a, b_row}, {c}};
  EXPECT_DOUBLE_EQ(model.OpCost(bad), model.OpCost(good) + model.ConversionCost(b_row));
  EXPECT_EQ(model.PreferredInputLayout(good, 0), Layout::kRowMajor);
  EXPECT_EQ(model.PreferredInputLayout(good, 1), Layout::kColMajor);
}

TEST(AnalyticalCostModel, ViewsAreFree) {
  AnalyticalCostModel model;
  const TensorType x = TensorType::Make(DType::kF32, {1, 8, 4, 4});
  Attributes split(OpKind::kSplit);
  ASSERT_TRUE(split.Set("axis", int64_t{1}).ok());
  ASSERT_TRUE(split.Set("sizes", std::vector<int64_t>{3, 5}).ok());
  const TensorType a = TensorType::Make(DType::kF32, {1, 3, 4, 4});
  const TensorType b = TensorType::Make(DType::kF32, {1, 5, 4, 4});
  auto nhwc = [](TensorType t) {
    t.layout = Layout::kNHWC;
    return t;
  };
  // The pieces are read in place, contiguous (NCHW) or strided (NHWC).
  EXPECT_EQ(model.OpCost(OpCostKey{OpKind::kSplit, split, {x}, {a, b}}), 0.0);
  EXPECT_EQ(model.OpCost(OpCostKey{OpKind::kSplit, split, {nhwc(x)}, {nhwc(a), nhwc(b)}}), 0.0);
  // A piece in another layout than the input is reordered.
  EXPECT_DOUBLE_EQ(model.OpCost(OpCostKey{OpKind::kSplit, split, {x}, {a, nhwc(b)}}),
                   model.ConversionCost(b));
  Attributes reshape(OpKind::kReshape);
  ASSERT_TRUE(reshape.Set("shape", std::vector<int64_t>{8, 16}).ok());
  const TensorType flat = TensorType::Make(DType::kF32, {8, 16});
  EXPECT_EQ(model.OpCost(OpCostKey{OpKind::kReshape, reshape, {x}, {flat}}), 0.0);
  EXPECT_GT(model.OpCost(OpCostKey{OpKind::kReshape, reshape, {nhwc(x)}, {flat}}), 0.0);
}

TEST(CachedCostModel, CostsEachKeyOnce) {
  AnalyticalCostModel model;
  CachedCostModel cache(&model);
  const OpCostKey a = Conv(Layout::kNHWC, Layout::kNHWC);
  const OpCostKey b = Conv(Layout::kNCHW, Layout::kNHWC);
  EXPECT_EQ(cache.OpCost(a), model.OpCost(a));
  EXPECT_EQ(cache.OpCost(a), model.OpCost(a));
  EXPECT_EQ(cache.OpCost(b), model.OpCost(b));
  EXPECT_EQ(cache.hits(), 1);
  EXPECT_EQ(cache.misses(), 2);
  EXPECT_EQ(cache.size(), 2);
  EXPECT_NE(a.Hash(), b.Hash());
}

// A backend that "measures" convs only.
class FakeMeasurer : public CostMeasurer {
 public:
  absl::StatusOr<double> Measure(const OpCostKey& key) override {
    ++calls;
    if (key.op != OpKind::kConv2d) return absl::UnimplementedError("no kernel");
    return 42e-6;
  }
  Layout PreferredInputLayout(const OpCostKey& key, int index) override {
    return DefaultLayout(key.inputs[static_cast<size_t>(index)].rank());
  }
  std::string Name() const override { return "fake"; }
  int calls = 0;
};

TEST(MeasuredCostModel, MeasuresWhatItCanAndFallsBack) {
  FakeMeasurer measurer;
  AnalyticalCostModel analytical;
  MeasuredCostModel measured(&measurer, &analytical);
  CachedCostModel cache(&measured);
  const OpCostKey conv = Conv(Layout::kNCHW, Layout::kNCHW);
  const OpCostKey relu = Unary(OpKind::kRelu, TensorType::Make(DType::kF32, {4, 4}));
  EXPECT_EQ(cache.OpCost(conv), 42e-6);
  EXPECT_EQ(cache.OpCost(conv), 42e-6);
  EXPECT_EQ(cache.OpCost(relu), analytical.OpCost(relu));
  EXPECT_EQ(measurer.calls, 2);  // the cache measured the conv once
  EXPECT_EQ(measured.measured(), 1);
  EXPECT_EQ(measured.fell_back(), 1);
  EXPECT_EQ(cache.PreferredInputLayout(conv, 0), Layout::kNCHW);
  EXPECT_THAT(cache.Name(), ::testing::HasSubstr("measured on fake"));
}

TEST(GraphCost, WeightOnlyWorkIsPrecomputedAndFree) {
  GraphBuilder b("g");
  const Value x = b.Input("x", DType::kF32, {1, 4, 8, 8});
  const Value w1 = b.Weight("w1", DType::kF32, {4, 4, 3, 3});
  const Value w2 = b.Weight("w2", DType::kF32, {4, 4, 3, 3});
  const Value w = b.Concat({w1, w2}, 0);    // weights only: precomputed
  const Value e = b.Enlarge(w, {5, 5});      // still weights only
  const Value y = b.Conv2d(x, e, {.padding = Padding::kSame});
  const Value ones = b.ConstOnes({1, 8, 8, 8});
  b.Output("y", b.EwAdd(y, b.Relu(ones)));  // relu of a constant: precomputed
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  AnalyticalCostModel model(ChannelsLast());
  const GraphCost cost = ComputeGraphCost(*g, model);
  EXPECT_EQ(cost.precomputed_ops, 4);  // concat, enlarge, const_ones, relu
  EXPECT_EQ(cost.charged_ops, 2);      // conv2d, ewadd
  const Flags pre = PrecomputedNodes(*g);
  EXPECT_TRUE(pre[static_cast<size_t>(w.node)]);
  EXPECT_FALSE(pre[static_cast<size_t>(y.node)]);
  EXPECT_EQ(cost.node_costs[static_cast<size_t>(w.node)], 0.0);
  // The conv's weight is precomputed, so it is stored in the layout the conv
  // computes in: NCHW, between NCHW values (a small conv: reorders would
  // cost more than the speed of channels-last saves).
  const std::vector<const TensorType*> types = {&g->type(x), &g->type(e)};
  const OpCostKey key = NodeCostKey(g->node(y.node), types, Flags{0, 1}, model);
  EXPECT_EQ(key.inputs[0].layout, Layout::kNCHW);
  EXPECT_EQ(key.inputs[1].layout, Layout::kNCHW);
  EXPECT_EQ(model.PreferredInputLayout(key, 1), Layout::kNCHW);
  EXPECT_DOUBLE_EQ(cost.node_costs[static_cast<size_t>(y.node)], model.OpCost(key));
  double sum = 0;
  for (double c : cost.node_costs) sum += c;
  EXPECT_DOUBLE_EQ(cost.total, sum);
}

TEST(GraphCost, DeadNodesCostNothing) {
  GraphBuilder b("g");
  const Value x = b.Input("x", DType::kF32, {4, 4});
  b.Relu(x);  // nothing uses it
  b.Output("y", b.Tanh(x));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  AnalyticalCostModel model;
  const GraphCost cost = ComputeGraphCost(*g, model);
  EXPECT_EQ(cost.charged_ops, 1);
  EXPECT_EQ(cost.node_costs[1], 0.0);
}

// Four convs between an NCHW input and output: channels-last saves 5% of
// each, which pays for the two reorders at the edges, but no single value
// pays for the reorders around it on its own. The descent from every value
// NHWC finds the cheaper graph.
TEST(OptimizeLayouts, StartsFromEveryValueChannelsLast) {
  GraphBuilder b("chain");
  Value v = b.Input("x", DType::kF32, {1, 64, 56, 56});
  for (int i = 0; i < 4; ++i) {
    v = b.Conv2d(v, b.Weight("w" + std::to_string(i), DType::kF32, {64, 64, 3, 3}),
                 {.padding = Padding::kSame});
  }
  b.Output("y", v);
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok()) << g.status();
  AnalyticalCostModel model;
  const double before = ComputeGraphCost(*g, model).total;
  Graph one = *g;
  ValueId first{-1, 0};
  for (NodeId id = 0; id < one.num_nodes() && first.node < 0; ++id) {
    if (one.node(id).op == OpKind::kConv2d) first.node = id;
  }
  ASSERT_TRUE(one.SetLayout(first, Layout::kNHWC).ok());
  EXPECT_GT(ComputeGraphCost(one, model).total, before);
  Graph laid_out = *g;
  EXPECT_EQ(OptimizeLayouts(laid_out, model), 7);  // 3 activations, 4 weights
  EXPECT_LT(ComputeGraphCost(laid_out, model).total, before);
  int nhwc = 0;
  for (const Node& n : laid_out.nodes()) {
    if (n.op == OpKind::kConv2d && n.outputs[0].layout == Layout::kNHWC) ++nhwc;
  }
  EXPECT_EQ(nhwc, 3);  // the output keeps its layout
  EXPECT_EQ(laid_out.type(*laid_out.FindOutput("y")).layout, Layout::kNCHW);
}

}  // namespace
}  // namespace lemma
