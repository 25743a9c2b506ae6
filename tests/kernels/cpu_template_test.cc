// Every template against the reference evaluator over its knob space: random
// configs (and each conv algorithm) of matmul, conv (NCHW and NHWC, odd
// sizes, strides, groups, padding) and pooling, lowered, compiled and run.

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/strings.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/standalone.h"
#include "kernels/cpu/target.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma::cpu {
namespace {

struct TemplateCase {
  std::string name;
  std::function<Graph()> build;  // the group is the last node
};

void PrintTo(const TemplateCase& c, std::ostream* os) { *os << c.name; }

Graph Finish(GraphBuilder& b, bool nhwc = false) {
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  if (nhwc) {
    for (NodeId id = 0; id < g->num_nodes(); ++id) {
      if (g->node(id).outputs[0].rank() == 4 && g->node(id).op != OpKind::kWeight) {
        EXPECT_TRUE(g->SetLayout({id, 0}, Layout::kNHWC).ok());
      }
    }
  }
  return *std::move(g);
}

// A conv whose input is channels-last and output NCHW (input_nhwc), or the
// other way round.
Graph MixedLayoutConv(const std::string& name, const Dims& x, int64_t out,
                      std::array<int64_t, 2> k, const Conv2dOptions& o, bool input_nhwc) {
  GraphBuilder b(name);
  const Value in = b.Input("x", DType::kF32, x);
  const Value y = b.Conv2d(in, out, k, o);
  b.Output("y", y);
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  const ValueId changed = input_nhwc ? *g->FindValue("x") : g->outputs()[0].value;
  EXPECT_TRUE(g->SetLayout(changed, Layout::kNHWC).ok());
  return *std::move(g);
}

std::vector<TemplateCase> Cases() {
  std::vector<TemplateCase> cases;
  auto conv = [&](std::string name, Dims x, int64_t out, std::array<int64_t, 2> k,
                  Conv2dOptions o, bool nhwc) {
    cases.push_back({name, [=] {
                       GraphBuilder b(name);
                       b.Output("y", b.Conv2d(b.Input("x", DType::kF32, x), out, k, o));
                       return Finish(b, nhwc);
                     }});
  };
  const Conv2dOptions same{.padding = Padding::kSame, .activation = Activation::kRelu};
  conv("conv3x3_nchw", {1, 5, 11, 19}, 13, {3, 3}, same, false);
  conv("conv3x3_nhwc", {1, 5, 11, 19}, 13, {3, 3}, same, true);
  conv("conv_strided_nchw", {2, 6, 13, 9}, 10, {3, 3},
       {.stride = {2, 2}, .padding = Padding::kSame, .groups = 2}, false);
  conv("conv_strided_nhwc", {1, 6, 13, 9}, 10, {5, 3},
       {.stride = {2, 1}, .pads = {2, 1, 1, 0}, .groups = 2}, true);
  conv("conv1x1_nchw", {1, 7, 9, 9}, 21, {1, 1}, {}, false);
  // Small images with whole vectors of output channels: computed channels-last
  // by default, then copied to NCHW (odd input channels, padding, strides).
  conv("conv3x3_nchw_small_image", {2, 37, 7, 7}, 48, {3, 3}, same, false);
  conv("conv3x3_strided_nchw_small_image", {1, 19, 13, 11}, 32, {3, 3},
       {.stride = {2, 2}, .padding = Padding::kSame}, false);
  // Strided dense convs on larger images and 1x1 convs on 7x7 images: also
  // channels-last by default (windows in place, with and without padding;
  // row tiles shared out evenly, 17 output columns in 6 + 6 + 5).
  conv("conv3x3_strided_nchw_unpadded", {2, 16, 35, 35}, 48, {3, 3}, {.stride = {2, 2}}, false);
  conv("conv3x3_strided_nchw_padded", {1, 8, 30, 29}, 32, {3, 3},
       {.stride = {2, 2}, .padding = Padding::kSame, .activation = Activation::kRelu}, false);
  conv("conv1x1_nchw_7x7", {1, 20, 7, 7}, 48, {1, 1}, {}, false);
  // Padded rows walked as one axis (stride 1; 3x3 with two padding columns,
  // dilated 3x3, 7x1 with none), odd channel counts.
  conv("conv3x3_nchw_flat_rows", {2, 3, 6, 35}, 17, {3, 3}, same, false);
  conv("conv3x3_dilated_flat_rows", {1, 5, 9, 40}, 9, {3, 3},
       {.padding = Padding::kSame, .dilation = {2, 2}}, false);
  conv("conv7x1_flat_rows", {1, 7, 12, 17}, 5, {7, 1}, {.padding = Padding::kSame}, false);
  // Weights over 1 MB per group: the output rows inside the cache blocks.
  conv("conv3x3_large_weights_nchw", {1, 160, 9, 16}, 200, {3, 3}, same, false);
  conv("conv3x3_large_weights_small_image", {1, 176, 5, 6}, 192, {3, 3},
       {.stride = {2, 2}, .padding = Padding::kSame}, false);
  conv("conv1x1_strided_large_weights", {1, 520, 6, 9}, 528, {1, 1}, {.stride = {2, 2}}, false);
  conv("conv1x1_nchw_small_image", {1, 45, 5, 9}, 64, {1, 1}, {.activation = Activation::kRelu}, false);
  conv("conv1x1_nhwc", {1, 7, 9, 9}, 21, {1, 1}, {}, true);
  conv("conv_depthwise", {1, 8, 10, 12}, 8, {3, 3},
       {.padding = Padding::kSame, .dilation = {2, 2}, .groups = 8}, false);
  // One side channels-last, the other NCHW: a dense conv on a channels-last
  // input computes channels-last and copies to NCHW; a grouped one copies its
  // input into NCHW order (padded or not) first.
  auto mixed = [&](std::string name, Dims x, int64_t out, std::array<int64_t, 2> k,
                   Conv2dOptions o, bool input_nhwc) {
    cases.push_back({name, [=] { return MixedLayoutConv(name, x, out, k, o, input_nhwc); }});
  };
  mixed("conv3x3_nhwc_in_nchw_out", {1, 7, 12, 10}, 32, {3, 3}, same, true);
  mixed("conv1x1_nhwc_in_nchw_out", {1, 9, 6, 7}, 48, {1, 1}, {.activation = Activation::kRelu}, true);
  mixed("conv_grouped_nhwc_in_nchw_out", {1, 6, 9, 11}, 6, {3, 3},
        {.padding = Padding::kSame, .groups = 3}, true);
  mixed("conv_grouped_unpadded_nhwc_in", {1, 8, 7, 9}, 4, {3, 3}, {.groups = 2}, true);
  mixed("conv3x3_nchw_in_nhwc_out", {1, 5, 8, 9}, 16, {3, 3}, same, false);
  mixed("conv_grouped_nchw_in_nhwc_out", {1, 6, 9, 11}, 9, {3, 3},
        {.padding = Padding::kSame, .groups = 3}, false);
  conv("conv_depthwise_nhwc", {1, 8, 10, 12}, 8, {3, 3},
       {.stride = {2, 1}, .padding = Padding::kSame, .groups = 8}, true);
  cases.push_back({"matmul", [] {
                     GraphBuilder b("matmul");
                     const Value x = b.Input("x", DType::kF32, {3, 29, 41});
                     b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {41, 35}), Activation::kTanh));
                     return Finish(b);
                   }});
  cases.push_back({"matmul_activations", [] {
                     GraphBuilder b("matmul_activations");
                     const Value x = b.Input("x", DType::kF32, {2, 1, 17, 9});
                     b.Output("y", b.MatMul(x, b.Input("y", DType::kF32, {3, 9, 40})));
                     return Finish(b);
                   }});
  cases.push_back({"pool", [] {
                     GraphBuilder b("pool");
                     const Value x = b.Input("x", DType::kF32, {1, 3, 19, 21});
                     b.Output("y", b.AvgPool2d(x, {.kernel = {3, 3}, .stride = {2, 2},
                                                   .padding = Padding::kSame}));
                     return Finish(b);
                   }});
  // Strided windows over whole vectors of outputs (loads of lanes 2, 3 and 4
  // elements apart), with a partial vector after them.
  cases.push_back({"maxpool_strided_wide", [] {
                     GraphBuilder b("maxpool_strided_wide");
                     const Value x = b.Input("x", DType::kF32, {2, 3, 7, 75});
                     b.Output("y", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}}));
                     return Finish(b);
                   }});
  cases.push_back({"avgpool_stride3_wide", [] {
                     GraphBuilder b("avgpool_stride3_wide");
                     const Value x = b.Input("x", DType::kF32, {1, 2, 5, 100});
                     b.Output("y", b.AvgPool2d(x, {.kernel = {2, 4}, .stride = {1, 3}}));
                     return Finish(b);
                   }});
  cases.push_back({"maxpool_stride4_exact", [] {
                     GraphBuilder b("maxpool_stride4_exact");
                     const Value x = b.Input("x", DType::kF32, {1, 2, 3, 128});
                     b.Output("y", b.MaxPool2d(x, {.kernel = {1, 4}, .stride = {1, 4}}));
                     return Finish(b);
                   }});
  // Pools over whole planes: partial vectors of the plane (13 x 13), a plane
  // of whole vectors (8 x 8), odd channel counts, a fused consumer.
  cases.push_back({"global_avgpool", [] {
                     GraphBuilder b("global_avgpool");
                     const Value x = b.Input("x", DType::kF32, {2, 37, 13, 13});
                     b.Output("y", b.Relu(b.AvgPool2d(x, {.kernel = {13, 13}})));
                     return Finish(b);
                   }});
  cases.push_back({"global_maxpool", [] {
                     GraphBuilder b("global_maxpool");
                     const Value x = b.Input("x", DType::kF32, {1, 19, 8, 8});
                     b.Output("y", b.MaxPool2d(x, {.kernel = {8, 8}, .stride = {8, 8}}));
                     return Finish(b);
                   }});
  auto unary = [&](std::string name, std::function<Value(GraphBuilder&, Value)> op, Dims dims,
                   bool transposed) {
    cases.push_back({name, [=] {
                       GraphBuilder b(name);
                       Value x = b.Input("x", DType::kF32, dims);
                       if (transposed) x = b.Transpose(x, {2, 0, 1});
                       b.Output("y", op(b, x));
                       return Finish(b);
                     }});
  };
  unary("reduce_sum", [](GraphBuilder& b, Value x) { return b.ReduceSum(x, {0, 2}); }, {5, 7, 19}, false);
  unary("reduce_mean", [](GraphBuilder& b, Value x) { return b.ReduceMean(x, {1}, false); }, {5, 7, 19}, true);
  unary("reduce_max_all", [](GraphBuilder& b, Value x) { return b.ReduceMax(x, {0, 1, 2}); }, {3, 4, 5}, false);
  unary("softmax", [](GraphBuilder& b, Value x) { return b.Softmax(x, -1); }, {3, 5, 37}, false);
  unary("softmax_middle", [](GraphBuilder& b, Value x) { return b.Softmax(x, 1); }, {3, 5, 37}, true);
  unary("layernorm", [](GraphBuilder& b, Value x) {
          return b.LayerNorm(x, b.Weight("s", DType::kF32, {17, 3}), b.Weight("t", DType::kF32, {17, 3}), 1);
        }, {3, 17, 3}, false);
  unary("reshape_copy", [](GraphBuilder& b, Value x) { return b.Reshape(x, {-1, 5}); }, {5, 7, 4}, true);
  return cases;
}

class TemplateTest : public ::testing::TestWithParam<TemplateCase> {};

TEST_P(TemplateTest, RandomConfigsMatchTheReference) {
  const Graph g = GetParam().build();
  const NodeId node = g.outputs()[0].value.node;
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(g, Group{node, {}});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  std::unique_ptr<Template> t = MakeTemplate((*ctx)->group(), **ctx);
  ASSERT_NE(t, nullptr);
  // Inputs: constants from the context, random tensors otherwise.
  std::vector<Tensor<float>> inputs;
  for (ValueId in : g.node(node).inputs) {
    const ValueAccess a = (*ctx)->Access(in);
    if (a.constant != nullptr) {
      inputs.push_back({g.type(in), std::vector<float>(a.constant, a.constant + a.elements)});
    } else {
      inputs.push_back(RandomTensor<F32>(g.type(in), 7 + static_cast<uint64_t>(in.node)));
    }
  }
  std::vector<const Tensor<float>*> args;
  for (const Tensor<float>& x : inputs) args.push_back(&x);
  absl::StatusOr<std::vector<Tensor<float>>> want = EvaluateNode<F32>(g, node, args);
  ASSERT_TRUE(want.ok()) << want.status();

  // The configs: the default, each algorithm and packing, random ones.
  std::vector<Config> configs = {t->DefaultConfig()};
  for (const Knob& k : t->Space()) {
    if (k.name != "algo" && k.name != "pack" && k.name != "unroll" && k.name != "cl" && k.name != "cf" &&
        k.name != "flat" && k.name != "rows") {
      continue;
    }
    for (int64_t v : k.values) {
      Config c = t->DefaultConfig();
      c[k.name] = v;
      configs.push_back(c);
    }
  }
  SplitMix64 rng(3);
  for (int i = 0; i < 3; ++i) {
    Config c;
    for (const Knob& k : t->Space()) c[k.name] = k.values[rng.Next() % k.values.size()];
    configs.push_back(c);
  }
  std::set<std::string> seen;
  int ran = 0;
  ThreadPool& pool = SharedPool(2);
  for (const Config& config : configs) {
    if (!seen.insert(ConfigToString(config)).second) continue;
    absl::StatusOr<Lowered> lowered = t->Lower(config);
    if (!lowered.ok()) continue;  // a config the template refuses
    absl::StatusOr<CompiledGroup> group = CompiledGroup::Compile(*std::move(lowered), true);
    ASSERT_TRUE(group.ok()) << group.status() << " for " << ConfigToString(config);
    std::vector<AlignedBuffer> temps;
    for (int64_t size : group->lowered().temps) temps.emplace_back(size);
    AlignedBuffer out(g.node(node).outputs[0].num_elements());
    auto resolve = [&](const ArgBinding& arg) -> float* {
      if (arg.kind == ArgBinding::Kind::kTemp) return temps[static_cast<size_t>(arg.index)].data();
      if (arg.value.node == node) return out.data();
      for (size_t i = 0; i < g.node(node).inputs.size(); ++i) {
        if (g.node(node).inputs[i] == arg.value) return inputs[i].data.data();
      }
      return nullptr;
    };
    group->Run(resolve, pool);
    ++ran;
    const std::vector<float>& w = (*want)[0].data;
    for (size_t e = 0; e < w.size(); ++e) {
      ASSERT_NEAR(out.data()[e], w[e], 1e-4 * (1 + std::fabs(w[e])))
          << "element " << e << " with " << t->name() << " {" << ConfigToString(config) << "}\n"
          << group->ScheduleText();
    }
  }
  EXPECT_GE(ran, 3);
}

// The default config of the template of the group at `g`'s output, checked
// to lower.
Config DefaultConfigOfOutput(const Graph& g) {
  const NodeId node = g.outputs()[0].value.node;
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(g, Group{node, {}});
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  if (!ctx.ok()) return {};
  std::unique_ptr<Template> t = MakeTemplate((*ctx)->group(), **ctx);
  EXPECT_NE(t, nullptr);
  if (t == nullptr) return {};
  Config c = t->DefaultConfig();
  absl::StatusOr<Lowered> lowered = t->Lower(c);
  EXPECT_TRUE(lowered.ok()) << lowered.status() << " for " << ConfigToString(c);
  return c;
}

// A matrix-vector product (one row tile) reads each block of its matrix
// once, so its default keeps the whole reduction in one block: a kc split
// would only make each block a parallel job of its own. A product of many
// rows keeps the cache blocks.
TEST(MatMulTemplateTest, OneRowTileKeepsTheWholeReduction) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  for (const int64_t m : {1, 4, 64}) {
    GraphBuilder b("mv");
    const Value x = b.Input("x", DType::kF32, {m, 512});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {512, 512})));
    absl::StatusOr<Graph> g = std::move(b).Build();
    ASSERT_TRUE(g.ok()) << g.status();
    const Config c = DefaultConfigOfOutput(*g);
    SCOPED_TRACE(ConfigToString(c));
    ASSERT_TRUE(c.contains("kc") && c.contains("mr"));
    EXPECT_EQ(c.at("kc") >= 512, m <= c.at("mr"));
  }
}

// A padded grouped NCHW conv with few output channels per group reads its
// input in place by default (the padded copy would cost about as much as the
// conv), with register tiles across the row's pixels; one with many keeps
// the copy.
TEST(ConvTemplateTest, GroupedConvsWithFewChannelsPerGroupReadInPlace) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const int v = HostTarget().vector_width;
  for (const int64_t per_group : {1, 4, 8, 32}) {
    GraphBuilder b("grouped");
    const int64_t channels = 8 * per_group;
    const Value x = b.Input("x", DType::kF32, {1, channels, 56, 56});
    b.Output("y", b.Conv2d(x, channels, {3, 3}, {.padding = Padding::kSame, .groups = 8}));
    absl::StatusOr<Graph> g = std::move(b).Build();
    ASSERT_TRUE(g.ok()) << g.status();
    const Config c = DefaultConfigOfOutput(*g);
    SCOPED_TRACE(StrCat(per_group, " per group: ", ConfigToString(c)));
    ASSERT_TRUE(c.contains("algo"));
    if (per_group <= 8) {
      EXPECT_EQ(c.at("algo"), 0);  // in place, guarded
      EXPECT_FALSE(c.contains("flat") && c.at("flat") != 0);
      if (v == 16) {
        EXPECT_EQ(c.at("nr"), 4);  // 56 pixels in 4 vectors
      }
    } else {
      EXPECT_EQ(c.at("algo"), 2);  // the padded copy
    }
  }
}

// The default schedules of convs with a channels-last side: a dense conv
// computes channels-last (vectors along the width would gather its input), a
// grouped one computes NCHW on an NCHW copy of its input, into a temp when
// its output is channels-last.
TEST(ConvTemplateTest, ChannelsLastInputsGetReadableDefaults) {
  const Conv2dOptions same{.padding = Padding::kSame};
  for (const bool grouped : {false, true}) {
    Conv2dOptions o = same;
    if (grouped) o.groups = 4;
    const Config c = DefaultConfigOfOutput(MixedLayoutConv("c", {1, 64, 20, 20}, 64, {3, 3}, o, true));
    SCOPED_TRACE(ConfigToString(c));
    EXPECT_EQ(c.contains("cl") && c.at("cl") == 1, !grouped);
    if (grouped) {
      EXPECT_EQ(c.at("algo"), 2);  // the padded copy, in NCHW order
    }
  }
  // Channels-last on both sides: a grouped conv computes NCHW (cf), a dense
  // one channels-last.
  for (const bool grouped : {false, true}) {
    GraphBuilder b("c");
    Conv2dOptions o = same;
    if (grouped) o.groups = 8;
    b.Output("y", b.Conv2d(b.Input("x", DType::kF32, {1, 64, 20, 20}), 64, {3, 3}, o));
    const Config c = DefaultConfigOfOutput(Finish(b, /*nhwc=*/true));
    SCOPED_TRACE(ConfigToString(c));
    EXPECT_EQ(c.contains("cf") && c.at("cf") == 1, grouped);
    EXPECT_EQ(c.at("algo"), 2);  // the padding made explicit
  }
}

// The default schedules of dense NCHW convs whose vectors along the output
// width would read strided or shifted input or leave lanes empty:
// channels-last, with windows over the input in place when strided, even row
// tiles, and 2 vectors of output channels where they fill more lanes than 3.
// The default config of one conv of input `x` (all values NCHW or NHWC).
Config DefaultConvConfig(Dims x, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o, bool nhwc) {
  GraphBuilder b("c");
  b.Output("y", b.Conv2d(b.Input("x", DType::kF32, x), out, k, o));
  return DefaultConfigOfOutput(Finish(b, nhwc));
}

// A knob of `c`, -1 when it has none.
int64_t Knob(const Config& c, const std::string& name) { return c.contains(name) ? c.at(name) : -1; }

TEST(ConvTemplateTest, StridedWideAndSevenBySevenConvsComputeChannelsLast) {
  auto conv = [](Dims x, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o) {
    return DefaultConvConfig(x, out, k, o, /*nhwc=*/false);
  };
  auto knob = Knob;
  auto cl = [&](const Config& c) { return knob(c, "cl") == 1; };
  const int v = HostTarget().vector_width;
  const Config strided = conv({1, 64, 35, 35}, 8 * v, {3, 3}, {.stride = {2, 2}});
  EXPECT_TRUE(cl(strided)) << ConfigToString(strided);
  EXPECT_EQ(knob(strided, "algo"), 0);
  if (v == 16) {
    EXPECT_EQ(knob(strided, "mr"), 6);  // 17 columns: 6 + 6 + 5
    EXPECT_EQ(knob(strided, "nr"), 2);  // 128 channels: 8 vectors; tiles of 3 would compute 9
  }
  const Config padded = conv({1, 64, 28, 28}, 6 * v, {3, 3},
                             {.stride = {2, 2}, .padding = Padding::kSame});
  EXPECT_TRUE(cl(padded)) << ConfigToString(padded);
  EXPECT_EQ(knob(padded, "algo"), 0);  // guards, not a padded copy of 4x the pixels
  // Windows that span columns (3x3, 1x7) on any image compute channels-last,
  // over a padded copy when they pad; columns of one (7x1) stay NCHW.
  const Config wide = conv({1, 32, 40, 40}, 4 * v, {3, 3}, {.padding = Padding::kSame});
  EXPECT_TRUE(cl(wide)) << ConfigToString(wide);
  EXPECT_EQ(knob(wide, "algo"), 2);
  EXPECT_TRUE(cl(conv({1, 32, 17, 17}, 4 * v, {1, 7}, {.padding = Padding::kSame})));
  EXPECT_FALSE(cl(conv({1, 32, 17, 17}, 4 * v, {7, 1}, {.padding = Padding::kSame})));
  // A stem of 3 channels (27 products per output) stays NCHW.
  EXPECT_FALSE(cl(conv({1, 3, 65, 65}, 2 * v, {3, 3}, {.stride = {2, 2}})));
  // 49 pixels fill 77% of the lanes of 16-lane vectors (94% of 4-lane ones).
  const Config seven = conv({1, 64, 7, 7}, 4 * v, {1, 1}, {});
  if (v == 16) {
    EXPECT_TRUE(cl(seven)) << ConfigToString(seven);
    EXPECT_EQ(knob(seven, "mr"), 7);
  }
  // 14x14 images fill 88% of the lanes of vectors along the pixels: NCHW.
  EXPECT_FALSE(cl(conv({1, 64, 14, 14}, 4 * v, {1, 1}, {})));
}

// Dense convs that read channels-last inputs run their window taps outside
// the channel loop, on tiles as wide as the channels allow; depthwise ones
// with channels-last input and output run vectors along the channels.
TEST(ConvTemplateTest, ChannelsLastInputsRunTheTapsOutside) {
  auto nhwc_conv = [](Dims x, int64_t out, std::array<int64_t, 2> k, Conv2dOptions o) {
    return DefaultConvConfig(x, out, k, o, /*nhwc=*/true);
  };
  auto knob = Knob;
  const int v = HostTarget().vector_width;
  const Conv2dOptions same{.padding = Padding::kSame};
  const Config wide = nhwc_conv({1, 32, 35, 35}, 4 * v, {3, 3}, same);
  SCOPED_TRACE(ConfigToString(wide));
  EXPECT_EQ(knob(wide, "taps"), 1);
  EXPECT_EQ(knob(wide, "ku"), 4);
  const Config small = nhwc_conv({1, 32, 8, 8}, 24 * v, {3, 3}, same);
  EXPECT_EQ(knob(small, "taps"), 1) << ConfigToString(small);
  if (v == 16) {
    EXPECT_EQ(knob(wide, "nr"), 4);  // 35 columns: 6 tiles of 6 rows
    EXPECT_EQ(knob(wide, "mr"), 6);
    EXPECT_EQ(knob(small, "nr"), 3);  // 8 columns: one tile of 8 rows
    EXPECT_EQ(knob(small, "mr"), 8);
  }
  // 1x1 convs have no taps; NCHW inputs keep them inside.
  EXPECT_EQ(knob(nhwc_conv({1, 32, 35, 35}, 4 * v, {1, 1}, {}), "taps"), -1);
  GraphBuilder b("c");
  b.Output("y", b.Conv2d(b.Input("x", DType::kF32, {1, 64, 20, 20}), 64, {3, 3},
                         {.padding = Padding::kSame, .groups = 64}));
  const Graph dw = Finish(b, /*nhwc=*/true);
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx =
      StandaloneGroup::Make(dw, Group{dw.outputs()[0].value.node, {}});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  std::unique_ptr<Template> t = MakeTemplate((*ctx)->group(), **ctx);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->name(), "conv_dw_nhwc");
  EXPECT_EQ(knob(t->DefaultConfig(), "algo"), 3);  // interior unguarded, border guarded
}

// Convs whose weights outgrow the caches put the output rows inside the
// register-tile loops (rows=2): a panel of weights serves every row, kc cut
// until a panel fits the L2-sized budget, and the output channels cut into
// blocks for the threads. Smaller weights keep the rows outside.
TEST(ConvTemplateTest, LargeWeightsServeEveryRowFromOnePanel) {
  auto knob = Knob;
  const int v = HostTarget().vector_width;
  const Conv2dOptions same{.padding = Padding::kSame};
  for (bool nhwc : {true, false}) {
    SCOPED_TRACE(nhwc ? "nhwc" : "nchw");
    const Config big = DefaultConvConfig({1, 32 * v, 7, 7}, 32 * v, {3, 3}, same, nhwc);
    SCOPED_TRACE(ConfigToString(big));
    EXPECT_EQ(knob(big, "rows"), 2);
    const int64_t side = knob(big, "nr") * v;
    EXPECT_LE(side * knob(big, "kc") * 9 * 4, 80 << 10);
    EXPECT_GT(side * knob(big, "kc") * 2 * 9 * 4, 80 << 10);
    EXPECT_EQ((32 * v + side * knob(big, "nc") - 1) / (side * knob(big, "nc")), 4);
    if (v == 16) {
      EXPECT_EQ(knob(big, "nr"), 2);
      EXPECT_EQ(knob(big, "kc"), 64);
    }
    EXPECT_NE(knob(DefaultConvConfig({1, 8 * v, 7, 7}, 8 * v, {3, 3}, same, nhwc), "rows"), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Templates, TemplateTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace lemma::cpu
