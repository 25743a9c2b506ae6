// The CPU runtime against the reference evaluator (F32): every op of the
// registry on odd sizes, layouts and views, fused chains, each provider, and
// the small models of the zoo.

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/cpu/onednn.h"
#include "kernels/cpu/runtime.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma::cpu {
namespace {

struct GraphCase {
  std::string name;
  std::function<Graph()> build;
  std::vector<OpKind> covers;  // ops of the registry this case runs
};

void PrintTo(const GraphCase& c, std::ostream* os) { *os << c.name; }

Graph Finish(GraphBuilder& b) {
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

// Compiles and runs `g` on random feeds and compares every output with the
// reference evaluator in F32.
void ExpectMatchesReference(const Graph& g, const RuntimeOptions& options, double tol = 2e-4) {
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 11);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(want.ok()) << want.status();
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  absl::StatusOr<NamedTensors<F32>> got = (*exe)->Run(feeds);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), want->size());
  for (const auto& [name, w] : *want) {
    const Tensor<float>& t = got->at(name);
    ASSERT_EQ(t.type, w.type) << name;
    const std::vector<float> a = ToLogical(t), b = ToLogical(w);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_NEAR(a[i], b[i], tol * (1 + std::fabs(b[i])))
          << g.name() << " output " << name << " element " << i << "\n"
          << (*exe)->PlanText();
    }
  }
}

Conv2dOptions Same(int64_t stride = 1, Activation act = Activation::kNone, int64_t groups = 1) {
  return {.stride = {stride, stride}, .padding = Padding::kSame, .groups = groups,
          .activation = act};
}

// Sets the layout of every rank-4 value of `g` to NHWC.
Graph AllNhwc(Graph g) {
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    for (size_t j = 0; j < g.node(id).outputs.size(); ++j) {
      if (g.node(id).outputs[j].rank() == 4 && g.node(id).op != OpKind::kWeight) {
        EXPECT_TRUE(g.SetLayout({id, static_cast<int32_t>(j)}, Layout::kNHWC).ok());
      }
    }
  }
  return g;
}

std::vector<GraphCase> Cases() {
  using O = OpKind;
  std::vector<GraphCase> cases;
  auto add = [&](std::string name, std::vector<OpKind> covers, std::function<Graph()> build) {
    cases.push_back({std::move(name), std::move(build), std::move(covers)});
  };
  add("matmul_odd", {O::kMatMul}, [] {
    GraphBuilder b("matmul_odd");
    const Value x = b.Input("x", DType::kF32, {13, 19});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {19, 37}), Activation::kRelu));
    return Finish(b);
  });
  add("matmul_batched_broadcast", {O::kMatMul}, [] {
    GraphBuilder b("matmul_batched");
    const Value x = b.Input("x", DType::kF32, {2, 1, 5, 7});
    const Value y = b.Input("y", DType::kF32, {3, 7, 9});
    b.Output("z", b.MatMul(x, y, Activation::kSigmoid));
    return Finish(b);
  });
  add("matmul_large_tanh", {O::kMatMul}, [] {
    GraphBuilder b("matmul_large");
    const Value x = b.Input("x", DType::kF32, {70, 300});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {300, 83}), Activation::kTanh));
    return Finish(b);
  });
  add("conv_same_relu", {O::kConv2d}, [] {
    GraphBuilder b("conv_same");
    const Value x = b.Input("x", DType::kF32, {2, 5, 9, 11});
    b.Output("y", b.Conv2d(x, 7, {3, 3}, Same(1, Activation::kRelu)));
    return Finish(b);
  });
  add("conv_stride2_groups", {O::kConv2d}, [] {
    GraphBuilder b("conv_strided");
    const Value x = b.Input("x", DType::kF32, {1, 6, 13, 10});
    b.Output("y", b.Conv2d(x, 4, {3, 3}, Same(2, Activation::kTanh, 2)));
    return Finish(b);
  });
  add("conv_1x1_and_1x3_3x1", {O::kConv2d}, [] {
    GraphBuilder b("conv_shapes");
    const Value x = b.Input("x", DType::kF32, {1, 8, 7, 9});
    const Value a = b.Conv2d(x, 20, {1, 1}, Same());
    const Value c = b.Conv2d(a, 6, {1, 3}, Same(1, Activation::kRelu));
    b.Output("y", b.Conv2d(c, 5, {3, 1}, Same(1, Activation::kSigmoid)));
    return Finish(b);
  });
  add("conv_dilated_explicit_pads", {O::kConv2d}, [] {
    GraphBuilder b("conv_dilated");
    const Value x = b.Input("x", DType::kF32, {1, 3, 12, 12});
    b.Output("y", b.Conv2d(x, 5, {3, 3},
                           {.stride = {1, 2}, .pads = {2, 1, 0, 3}, .dilation = {2, 1}}));
    return Finish(b);
  });
  // Small images with whole vectors of output channels (computed
  // channels-last, then copied to NCHW with the fused bias, residual add and
  // relu), odd input channels, a strided conv feeding a 1x1 one.
  add("conv_small_image_chains", {O::kConv2d}, [] {
    GraphBuilder b("conv_small_image");
    const Value x = b.Input("x", DType::kF32, {1, 37, 9, 9});
    const Value a = b.Conv2d(x, 32, {3, 3}, Same(2));
    const Value biased = b.Relu(b.BroadcastAdd(a, b.Weight("bias", DType::kF32, {32, 1, 1})));
    const Value c = b.Conv2d(biased, 48, {1, 1}, Same());
    const Value r = b.Input("r", DType::kF32, {1, 48, 5, 5});
    b.Output("y", b.Relu(b.EwAdd(c, r)));
    return Finish(b);
  });
  // Convs over padded rows walked as one axis, with fused bias and relu
  // copied out of the padded-width temp.
  add("conv_flat_rows_chains", {O::kConv2d}, [] {
    GraphBuilder b("conv_flat_rows");
    const Value x = b.Input("x", DType::kF32, {1, 6, 10, 37});
    const Value a = b.Conv2d(x, 20, {3, 3}, Same());
    const Value biased = b.Relu(b.BroadcastAdd(a, b.Weight("bias", DType::kF32, {20, 1, 1})));
    b.Output("y", b.Conv2d(biased, 11, {7, 1}, Same(1, Activation::kRelu)));
    return Finish(b);
  });
  add("conv_depthwise", {O::kConv2d}, [] {
    GraphBuilder b("conv_depthwise");
    const Value x = b.Input("x", DType::kF32, {1, 6, 9, 9});
    b.Output("y", b.Conv2d(x, 6, {3, 3}, Same(1, Activation::kNone, 6)));
    return Finish(b);
  });
  add("conv_nhwc", {O::kConv2d}, [] {
    GraphBuilder b("conv_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 5, 9, 7});
    const Value a = b.Conv2d(x, 19, {3, 3}, Same(1, Activation::kRelu));
    const Value c = b.Conv2d(a, 6, {1, 1}, Same());
    b.Output("y", b.Conv2d(c, 4, {3, 3}, Same(2, Activation::kNone, 2)));
    return AllNhwc(Finish(b));
  });
  add("fused_chain", {O::kEwAdd, O::kRelu, O::kSigmoid, O::kEwMul}, [] {
    GraphBuilder b("fused_chain");
    const Value x = b.Input("x", DType::kF32, {1, 4, 6, 5});
    const Value c = b.Conv2d(x, 4, {3, 3}, Same());
    const Value s = b.Sigmoid(b.Relu(b.EwAdd(c, x)));
    b.Output("y", b.EwMul(s, x));
    return Finish(b);
  });
  add("unary", {O::kTanh, O::kGelu, O::kSigmoid, O::kRelu}, [] {
    GraphBuilder b("unary");
    const Value x = b.Input("x", DType::kF32, {3, 37});
    b.Output("t", b.Tanh(x));
    b.Output("g", b.Gelu(x));
    b.Output("s", b.Relu(b.Sigmoid(x)));
    return Finish(b);
  });
  add("scalar_and_broadcast",
      {O::kScalarMul, O::kBroadcastAdd, O::kBroadcastMul, O::kBroadcastSub, O::kBroadcastDiv}, [] {
        GraphBuilder b("broadcast");
        const Value x = b.Input("x", DType::kF32, {2, 3, 17});
        const Value s = b.Input("s", DType::kF32, {});
        const Value v = b.Input("v", DType::kF32, {3, 1});
        const Value w = b.Weight("w", DType::kF32, {17});
        b.Output("y", b.BroadcastMul(b.BroadcastAdd(b.ScalarMul(x, s), v), w));
        b.Output("z", b.BroadcastAdd(v, x));
        // Divisors kept away from zero.
        const Value d = b.BroadcastAdd(b.Relu(b.Input("d", DType::kF32, {17})), b.ConstOnes({17}));
        b.Output("q", b.BroadcastDiv(b.BroadcastSub(v, x), d));
        b.Output("r", b.BroadcastDiv(d, b.BroadcastAdd(b.Relu(x), b.ConstOnes({2, 3, 17}))));
        return Finish(b);
      });
  add("conv_sub_div_chain", {O::kBroadcastSub, O::kBroadcastDiv}, [] {
    GraphBuilder b("conv_sub_div");
    const Value x = b.Input("x", DType::kF32, {1, 4, 6, 5});
    const Value c = b.Conv2d(x, 4, {3, 3}, Same());
    const Value m = b.Weight("m", DType::kF32, {4, 1, 1});
    const Value s = b.BroadcastAdd(b.Relu(b.Weight("s", DType::kF32, {4, 1, 1})), b.ConstOnes({4, 1, 1}));
    b.Output("y", b.BroadcastDiv(b.BroadcastSub(c, m), s));
    return Finish(b);
  });
  add("pools", {O::kAvgPool2d, O::kMaxPool2d}, [] {
    GraphBuilder b("pools");
    const Value x = b.Input("x", DType::kF32, {1, 3, 11, 10});
    b.Output("a", b.AvgPool2d(x, {.kernel = {3, 3}, .padding = Padding::kSame}));
    b.Output("c", b.AvgPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame,
                                  .count_include_pad = true}));
    b.Output("m", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    b.Output("g", b.AvgPool2d(x, {.kernel = {11, 10}}));
    return Finish(b);
  });
  add("pools_nhwc", {O::kMaxPool2d}, [] {
    GraphBuilder b("pools_nhwc");
    const Value x = b.Input("x", DType::kF32, {1, 20, 7, 8});
    b.Output("m", b.MaxPool2d(x, {.kernel = {3, 3}, .stride = {2, 2}, .padding = Padding::kSame}));
    return AllNhwc(Finish(b));
  });
  add("concat_split_transpose", {O::kConcat, O::kSplit, O::kTranspose}, [] {
    GraphBuilder b("data_movement");
    const Value x = b.Input("x", DType::kF32, {2, 3, 5});
    const Value y = b.Input("y", DType::kF32, {2, 4, 5});
    const Value c = b.Concat({x, y}, 1);
    const std::vector<Value> parts = b.Split(c, 2, {2, 3});
    b.Output("a", b.Relu(b.Transpose(parts[0], {2, 0, 1})));
    b.Output("b", parts[1]);
    b.Output("c", b.Concat({b.Transpose(x, {0, 2, 1}), b.Transpose(y, {0, 2, 1})}, 2));
    return Finish(b);
  });
  add("constants", {O::kEnlarge, O::kConstPool, O::kConstIdentityConv, O::kConstIdentityMatrix,
                    O::kConstOnes},
      [] {
        GraphBuilder b("constants");
        const Value x = b.Input("x", DType::kF32, {1, 3, 6, 6});
        const Value w = b.Enlarge(b.Weight("w", DType::kF32, {3, 3, 1, 1}), {3, 3});
        const Value p = b.Conv2d(x, b.ConstPool(3, {3, 3}), Same(1, Activation::kNone, 3));
        const Value i = b.Conv2d(x, b.ConstIdentityConv(3, {3, 3}), Same());
        const Value e = b.Conv2d(x, w, Same());
        b.Output("y", b.EwAdd(b.EwAdd(p, i), b.EwAdd(e, b.ConstOnes({1, 3, 6, 6}))));
        const Value m = b.Input("m", DType::kF32, {4, 4});
        b.Output("z", b.MatMul(m, b.ConstIdentityMatrix(4)));
        b.Output("u", b.Enlarge(b.Relu(b.Input("k", DType::kF32, {2, 3, 1, 3})), {3, 5}));
        return Finish(b);
      });
  add("batchnorm", {O::kBatchNorm}, [] {
    GraphBuilder b("batchnorm");
    const Value x = b.Input("x", DType::kF32, {2, 5, 4, 3});
    const Value c = b.Conv2d(x, 5, {3, 3}, Same());
    auto param = [&](const char* name) { return b.Weight(name, DType::kF32, {5}); };
    const Value var = b.Relu(b.Input("var", DType::kF32, {5}));
    b.Output("y", b.BatchNorm(c, param("scale"), param("bias"), param("mean"), b.Relu(param("v"))));
    b.Output("z", b.BatchNorm(x, param("s2"), param("b2"), b.Input("mean2", DType::kF32, {5}), var));
    return Finish(b);
  });
  add("softmax_layernorm_reduce",
      {O::kSoftmax, O::kLayerNorm, O::kReduceSum, O::kReduceMean, O::kReduceMax}, [] {
        GraphBuilder b("normalize");
        const Value x = b.Input("x", DType::kF32, {3, 4, 9});
        b.Output("s", b.Softmax(x, 1));
        b.Output("l", b.LayerNorm(x, b.Weight("g", DType::kF32, {9}), b.Weight("h", DType::kF32, {9})));
        b.Output("r", b.ReduceSum(x, {0, 2}));
        b.Output("m", b.ReduceMean(x, {1}, false));
        b.Output("x", b.ReduceMax(b.Transpose(x, {2, 1, 0}), {2}));
        return Finish(b);
      });
  add("reshape_pad_slice", {O::kReshape, O::kPad, O::kSlice}, [] {
    GraphBuilder b("reshape_pad_slice");
    const Value x = b.Input("x", DType::kF32, {4, 6, 5});
    b.Output("r", b.Reshape(x, {6, -1}));
    b.Output("t", b.Reshape(b.Transpose(x, {1, 0, 2}), {24, 5}));
    b.Output("p", b.Pad(x, {1, 0, 2, 0, 3, 1}, 0.5));
    b.Output("s", b.Slice(x, {0, 2}, {1, 1}, {4, 5}, {2, 3}));
    b.Output("q", b.Relu(b.Slice(b.Pad(x, {0, 1, 1, 0, 0, 0}), {1}, {1}, {6})));
    return Finish(b);
  });
  return cases;
}

class RuntimeOpTest : public ::testing::TestWithParam<GraphCase> {};

TEST_P(RuntimeOpTest, GeneratedMatchesReference) {
  ExpectMatchesReference(GetParam().build(), {.threads = 2, .providers = ProviderChoice::kGenerated});
}

TEST_P(RuntimeOpTest, UnfusedSingleThreadMatchesReference) {
  ExpectMatchesReference(GetParam().build(),
                         {.threads = 1, .providers = ProviderChoice::kGenerated, .fuse = false});
}

TEST_P(RuntimeOpTest, OneDnnMatchesReference) {
  if (!OneDnnAvailable()) GTEST_SKIP() << "built without oneDNN";
  ExpectMatchesReference(GetParam().build(), {.threads = 2, .providers = ProviderChoice::kOneDnn});
}

INSTANTIATE_TEST_SUITE_P(Ops, RuntimeOpTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(RuntimeTest, EveryOpOfTheRegistryIsCovered) {
  std::set<OpKind> covered;
  for (const GraphCase& c : Cases()) covered.insert(c.covers.begin(), c.covers.end());
  for (const OpInfo& info : AllOps()) {
    if (info.Has(kTraitSource)) continue;
    EXPECT_TRUE(covered.count(info.kind)) << "no runtime test runs " << info.name;
  }
}

TEST(RuntimeTest, FusesChainsAndReusesMemory) {
  GraphBuilder b("chain");
  Value x = b.Input("x", DType::kF32, {1, 8, 16, 16});
  for (int i = 0; i < 6; ++i) x = b.Relu(b.EwAdd(b.Conv2d(x, 8, {3, 3}, Same()), x));
  b.Output("y", x);
  const Graph g = Finish(b);
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 3);
  absl::StatusOr<std::unique_ptr<Executable>> exe =
      Executable::Compile(g, feeds, {.threads = 2, .providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  // One step per conv (with its add and relu fused).
  EXPECT_EQ((*exe)->steps().size(), 6u) << (*exe)->PlanText();
  EXPECT_NE((*exe)->steps()[0].label.find("conv2d+ewadd+relu"), std::string::npos);
  const MemoryStats m = (*exe)->memory();
  EXPECT_LT(m.arena_bytes, m.naive_bytes);
  // At most three activations and one zero-padded copy of a conv input alive at once.
  EXPECT_LE(m.arena_bytes, 3 * 8 * 16 * 16 * 4 + 8 * 18 * 18 * 4);
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
}

TEST(RuntimeTest, AScheduleThatDoesNotCompileGivesWayToANeighbour) {
  // A channels-last 7x7/2 conv of 3 channels (the stem of ResNeXt-50): its
  // default schedule unrolls the window into too large a body.
  GraphBuilder b("stem");
  const Value x = b.Input("x", DType::kF32, {1, 3, 224, 224});
  b.Output("y", b.Conv2d(x, 64, {7, 7}, {.stride = {2, 2}, .pads = {3, 3, 3, 3}}));
  const Graph g = AllNhwc(Finish(b));
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
  absl::StatusOr<std::unique_ptr<Executable>> exe =
      Executable::Compile(g, RandomFeeds<F32>(g, 1), {.threads = 2, .providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  EXPECT_EQ((*exe)->steps()[0].provider, Provider::kGenerated) << (*exe)->PlanText();
}

TEST(RuntimeTest, OutputsThatAreInputsWeightsConstantsOrEmpty) {
  GraphBuilder b("edges");
  const Value x = b.Input("x", DType::kF32, {3, 4});
  const Value w = b.Weight("w", DType::kF32, {4, 2});
  const Value e = b.Input("e", DType::kF32, {0, 4});
  b.Output("x", x);
  b.Output("x_again", x);
  b.Output("w", w);
  b.Output("folded", b.Relu(b.Transpose(w, {1, 0})));
  b.Output("empty", b.Relu(b.MatMul(e, w)));
  b.Output("zero_k", b.MatMul(b.Input("z", DType::kF32, {2, 0}), b.Input("v", DType::kF32, {0, 3})));
  const Graph g = Finish(b);
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
}

TEST(RuntimeTest, ReportsMissingWeightsAndBadFeeds) {
  GraphBuilder b("bad");
  const Value x = b.Input("x", DType::kF32, {2, 3});
  b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {3, 4})));
  const Graph g = Finish(b);
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, {});
  ASSERT_FALSE(exe.ok());
  EXPECT_NE(exe.status().message().find("weight 'w'"), std::string::npos) << exe.status();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 1);
  exe = Executable::Compile(g, feeds, {.providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  EXPECT_FALSE((*exe)->Run({}).ok());
  NamedTensors<F32> wrong = feeds;
  wrong.at("x").type.dims = {3, 2};
  EXPECT_FALSE((*exe)->Run(wrong).ok());
}

class ZooTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooTest, SmallModelMatchesReference) {
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectMatchesReference(*g, {.threads = 2, .providers = ProviderChoice::kGenerated}, 1e-3);
}

// With providers chosen by measurement (oneDNN where it is faster).
TEST(ZooTest, MeasuredProvidersMatchReference) {
  for (const char* name : {"resnext_block", "nasrnn"}) {
    absl::StatusOr<Graph> g = models::BuildModel(name, {.scale = models::ModelScale::kSmall});
    ASSERT_TRUE(g.ok()) << g.status();
    ExpectMatchesReference(
        *g, {.threads = 2, .providers = ProviderChoice::kMeasure, .onednn_min_flops = 0}, 1e-3);
  }
}

INSTANTIATE_TEST_SUITE_P(Zoo, ZooTest, ::testing::ValuesIn(models::ModelNames()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace lemma::cpu
