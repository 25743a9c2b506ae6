// The CPU runtime against the reference evaluator (F32): every op of the
// registry on odd sizes, layouts and views, fused chains, each provider, and
// the small models of the zoo.

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
#include "optimizer/cost_model.h"
#include "optimizer/layout.h"
#include "tests/kernels/graph_cases.h"

namespace lemma::cpu {
namespace {

using test_cases::Cases;
using test_cases::Finish;
using test_cases::GraphCase;
using test_cases::Permuted;
using test_cases::Same;

void ExpectMatchesReference(const Graph& g, const RuntimeOptions& options, double tol = 2e-4) {
  test_cases::ExpectMatchesReference<Executable>(g, options, tol);
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

// oneDNN runs NCHW convs directly only in channel-blocked layouts: its
// primitive takes them, with the input, the output and a residual operand
// reordered on each run, and computes what the reference evaluator does:
// channel counts that are not a multiple of the block, a stride, a view of a
// concat as the output, and the plain-layout (GEMM) form where oneDNN has
// nothing better (a 1x1 conv on a 2x2 image). A value that only oneDNN
// steps read, in the layout its producer writes, stays in that layout.
TEST(RuntimeTest, OneDnnConvsRunChannelBlocked) {
  if (!OneDnnAvailable()) GTEST_SKIP() << "built without oneDNN";
  GraphBuilder b("blocked");
  const Value x = b.Input("x", DType::kF32, {1, 20, 15, 15});
  const Value c1 = b.Conv2d(x, 36, {3, 3}, Same());
  const Value res = b.Relu(b.EwAdd(b.Conv2d(c1, 36, {3, 3}, Same()), c1));
  const Value down = b.Conv2d(res, 24, {3, 3}, {.stride = {2, 2}, .activation = Activation::kRelu});
  const Value cat = b.Concat({b.Conv2d(down, 12, {1, 1}), b.Conv2d(down, 20, {3, 3}, Same())}, 1);
  const Value tiny = b.Input("t", DType::kF32, {1, 8, 2, 2});
  // 32 channels, whole blocks: values that pass from conv to conv (and to
  // an add) are handed over in the blocked layout, no reorder between.
  const Value z = b.Input("z", DType::kF32, {1, 32, 12, 12});
  const Value z1 = b.Conv2d(z, 32, {3, 3}, Same());
  const Value z2 = b.Relu(b.EwAdd(b.Conv2d(z1, 32, {3, 3}, Same()), z1));
  b.Output("y", cat);
  b.Output("t1", b.Conv2d(tiny, 8, {1, 1}));
  b.Output("z3", b.Conv2d(z2, 16, {1, 1}));
  const Graph g = Finish(b);
  const RuntimeOptions options = {.threads = 2, .providers = ProviderChoice::kOneDnn};
  absl::StatusOr<std::unique_ptr<Executable>> exe =
      Executable::Compile(g, RandomFeeds<F32>(g, 5), options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  int blocked = 0;
  for (const StepInfo& st : (*exe)->steps()) {
    if (st.provider != Provider::kOneDnn) continue;
    // "(aBcd16b, handed over)", "(acdb: 1 reordered, 1 handed over)"
    if (st.schedule.find("reordered") != std::string::npos ||
        st.schedule.find("handed over") != std::string::npos) {
      ++blocked;
    }
  }
  // With AVX2 or AVX-512 oneDNN runs all the 3x3 convs in layouts of its own
  // (channel blocks, or channels-last for its brgemm kernels).
  if (HostTarget().vector_width >= 8) {
    EXPECT_GE(blocked, 4) << (*exe)->PlanText();
    EXPECT_GE((*exe)->memory().blocked_hand_offs, 2) << (*exe)->PlanText();
  }
  ExpectMatchesReference(g, options);
}

// The optimizer's channels-last graphs merge convs that read one input and
// split their output: the parts are slices with gaps, which oneDNN's direct
// kernels take neither as a conv's input nor as an added operand. They are
// read through compact copies, and a conv from an NCHW input to an NHWC
// output runs in oneDNN's layouts: no step falls back to generated code,
// GEMM or the reference kernels. The residual slice is added as oneDNN's
// sum post-op, copied into the output first.
TEST(RuntimeTest, OneDnnReadsSlicesThroughCompactCopies) {
  if (!OneDnnAvailable()) GTEST_SKIP() << "built without oneDNN";
  GraphBuilder b("slices");
  const Value x = b.Input("x", DType::kF32, {1, 24, 14, 14});
  const std::vector<Value> parts = b.Split(b.Conv2d(x, 80, {1, 1}, Same()), 1, {16, 64});
  const Value a = b.Conv2d(parts[0], 16, {3, 3}, Same(1, Activation::kRelu));
  b.Output("y", b.Relu(b.EwAdd(b.Conv2d(a, 64, {1, 1}, Same()), parts[1])));
  Graph g = Finish(b);
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    const Node& n = g.node(id);
    if (n.op == OpKind::kWeight || n.op == OpKind::kInput) continue;
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      if (n.outputs[o].rank() == 4) {
        ASSERT_TRUE(g.SetLayout({id, static_cast<int>(o)}, Layout::kNHWC).ok());
      }
    }
  }
  const RuntimeOptions options = {.threads = 2, .providers = ProviderChoice::kOneDnn};
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, RandomFeeds<F32>(g, 3), options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  int convs = 0;
  for (const StepInfo& st : (*exe)->steps()) {
    if (st.label.rfind("conv2d", 0) != 0) continue;
    ++convs;
    if (HostTarget().vector_width < 8) continue;
    EXPECT_EQ(st.provider, Provider::kOneDnn) << (*exe)->PlanText();
    EXPECT_EQ(st.schedule.find("gemm"), std::string::npos) << (*exe)->PlanText();
    // The slice added to the last conv's output is copied into it, then
    // summed (oneDNN's sum post-op).
    if (st.label.rfind("conv2d+ewadd", 0) == 0) {
      EXPECT_NE(st.schedule.find("+ sum"), std::string::npos) << (*exe)->PlanText();
    }
  }
  EXPECT_EQ(convs, 3) << (*exe)->PlanText();
  ExpectMatchesReference(g, options);
}

// ResNet's block: the block's input, last read by the add after two convs,
// is summed into the last conv's output (oneDNN's sum post-op) with the
// output written over it in place. Where the conv's own input is the
// residual, the output keeps a buffer of its own.
TEST(RuntimeTest, OneDnnSumsResidualsInPlace) {
  if (!OneDnnAvailable()) GTEST_SKIP() << "built without oneDNN";
  GraphBuilder b("residual");
  const Value x = b.Input("x", DType::kF32, {1, 32, 14, 14});
  const Value r = b.Conv2d(x, 32, {3, 3}, Same(1, Activation::kRelu));
  const Value a = b.Conv2d(r, 32, {1, 1}, Same(1, Activation::kRelu));
  const Value y = b.Relu(b.EwAdd(b.Conv2d(a, 32, {3, 3}, Same()), r));
  b.Output("z", b.Relu(b.EwAdd(b.Conv2d(y, 32, {1, 1}, Same()), y)));
  const Graph g = Finish(b);
  const RuntimeOptions options = {.threads = 2, .providers = ProviderChoice::kOneDnn};
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, RandomFeeds<F32>(g, 7), options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  if (HostTarget().vector_width >= 8) {
    EXPECT_EQ((*exe)->memory().sums_in_place, 1) << (*exe)->PlanText();
    EXPECT_NE((*exe)->PlanText().find("1 residuals summed in place"), std::string::npos);
  }
  // Two runs of one plan: the residual's buffer is written over on each.
  test_cases::ExpectMatchesReference<Executable>(g, options, 2e-4, /*runs=*/2);
}

INSTANTIATE_TEST_SUITE_P(Ops, RuntimeOpTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(RuntimeTest, EveryOpOfTheRegistryIsCovered) {
  std::set<OpKind> covered;
  for (const GraphCase& c : Cases()) {
    const std::set<OpKind> ops = test_cases::OpsOf(c.build());
    covered.insert(ops.begin(), ops.end());
  }
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

// Convs of a fire module (two images, so that the slices are strided) write
// their halves of the concat in place; a concat that also reads a graph
// input, or one value twice, still copies, and so does one whose input a
// reshape reads. Every plan computes what the reference evaluator does.
TEST(RuntimeTest, ConcatInputsAreWrittenInPlace) {
  GraphBuilder b("fire");
  const Value x = b.Input("x", DType::kF32, {2, 8, 9, 9});
  const Value s = b.Conv2d(x, 4, {1, 1}, {.activation = Activation::kRelu});
  const Value e1 = b.Conv2d(s, 6, {1, 1}, {.activation = Activation::kRelu});
  const Value e3 = b.Relu(b.EwAdd(b.Conv2d(s, 5, {3, 3}, Same()), b.Conv2d(s, 5, {1, 1})));
  const Value fire = b.Concat({e1, e3}, 1);
  const Value with_input = b.Concat({b.Conv2d(fire, 8, {1, 1}), x}, 1);
  const Value p = b.Conv2d(s, 3, {1, 1});
  const Value twice = b.Concat({p, p}, 1);
  const Value q = b.Conv2d(s, 2, {1, 1});
  const Value reshaped = b.Concat({q, b.Conv2d(s, 2, {1, 1})}, 1);
  b.Output("y", with_input);
  b.Output("e1", e1);
  b.Output("twice", twice);
  b.Output("reshaped", reshaped);
  b.Output("q", b.Reshape(q, {2, 162}));
  const Graph g = Finish(b);
  auto concat_steps = [&](bool in_place) {
    absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(
        g, RandomFeeds<F32>(g, 2),
        {.threads = 2, .providers = ProviderChoice::kGenerated, .concat_in_place = in_place});
    EXPECT_TRUE(exe.ok()) << exe.status();
    int n = 0;
    for (const StepInfo& st : (*exe)->steps()) n += st.label.rfind("concat", 0) == 0 ? 1 : 0;
    EXPECT_EQ((*exe)->memory().concats_in_place, in_place ? 1 : 0);
    return n;
  };
  EXPECT_EQ(concat_steps(false), 4);
  EXPECT_EQ(concat_steps(true), 3);
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
  ExpectMatchesReference(g, {.threads = 1, .providers = ProviderChoice::kGenerated, .fuse = false});
  if (OneDnnAvailable()) ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kOneDnn});
}

// relu(concat(a, b)) runs as concat(relu(a), relu(b)): the relu fuses into
// each conv and the concat is written in place. A second unary op after the
// first moves too; a concat one of whose inputs has another use keeps its
// step and its relu (a graph output, or read by another op).
TEST(RuntimeTest, AnElementwiseOpAfterAConcatRunsOnItsInputs) {
  GraphBuilder b("fire");
  const Value x = b.Input("x", DType::kF32, {2, 8, 9, 9});
  const Value s = b.Conv2d(x, 4, {1, 1}, {.activation = Activation::kRelu});
  const Value fire = b.Relu(b.Concat({b.Conv2d(s, 6, {1, 1}), b.Conv2d(s, 5, {3, 3}, Same())}, 1));
  const Value e = b.Conv2d(fire, 3, {1, 1});
  const Value twice = b.Tanh(b.Sigmoid(b.Concat({b.Conv2d(fire, 2, {1, 1}), e}, 1)));
  const Value shared = b.Conv2d(s, 3, {3, 3}, Same());
  const Value kept = b.Relu(b.Concat({shared, b.Conv2d(s, 3, {1, 1})}, 1));
  const Value used_twice = b.Conv2d(s, 3, {1, 1});
  const Value kept_too = b.Relu(b.Concat({used_twice, b.Conv2d(s, 3, {3, 3}, Same())}, 1));
  b.Output("y", twice);
  b.Output("kept", kept);
  b.Output("shared", shared);
  b.Output("kept_too", kept_too);
  b.Output("other_use", b.Conv2d(used_twice, 2, {1, 1}));
  const Graph g = Finish(b);
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(
      g, RandomFeeds<F32>(g, 2), {.threads = 2, .providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  std::vector<std::string> labels;
  for (const StepInfo& st : (*exe)->steps()) labels.push_back(st.label.substr(0, st.label.find(' ')));
  EXPECT_EQ((*exe)->memory().concats_in_place, 2) << (*exe)->PlanText();
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "conv2d+relu"), 2) << (*exe)->PlanText();
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "conv2d+sigmoid+tanh"), 2) << (*exe)->PlanText();
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "concat+relu"), 2) << (*exe)->PlanText();
  EXPECT_EQ(labels.size(), 12u) << (*exe)->PlanText();
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
  ExpectMatchesReference(g, {.threads = 1, .providers = ProviderChoice::kGenerated, .fuse = false});
}

// A computation repeated on the same inputs runs once.
TEST(RuntimeTest, RepeatedOpsRunOnce) {
  GraphBuilder b("cell");
  const Value x = b.Input("x", DType::kF32, {1, 8, 10, 10});
  const Pool2dOptions p{.kernel = {3, 3}, .padding = Padding::kSame};
  const Value h = b.Conv2d(x, 8, {1, 1});
  b.Output("y", b.EwAdd(b.AvgPool2d(h, p), b.AvgPool2d(h, p)));
  b.Output("z", b.AvgPool2d(h, p));
  const Graph g = Finish(b);
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(
      g, RandomFeeds<F32>(g, 2), {.threads = 2, .providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  // The conv, one pool (an output itself, so the add is a step of its own),
  // the add.
  EXPECT_EQ((*exe)->steps().size(), 3u) << (*exe)->PlanText();
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
}

TEST(RuntimeTest, AScheduleThatDoesNotCompileGivesWayToANeighbour) {
  // A channels-last 7x7/2 conv of 3 channels (the stem of ResNeXt-50): its
  // default schedule unrolls the window into too large a body.
  GraphBuilder b("stem");
  const Value x = b.Input("x", DType::kF32, {1, 3, 224, 224});
  b.Output("y", b.Conv2d(x, 64, {7, 7}, {.stride = {2, 2}, .pads = {3, 3, 3, 3}}));
  const Graph g = Permuted(Finish(b));
  ExpectMatchesReference(g, {.threads = 2, .providers = ProviderChoice::kGenerated});
  absl::StatusOr<std::unique_ptr<Executable>> exe =
      Executable::Compile(g, RandomFeeds<F32>(g, 1), {.threads = 2, .providers = ProviderChoice::kGenerated});
  ASSERT_TRUE(exe.ok()) << exe.status();
  EXPECT_EQ((*exe)->steps()[0].provider, Provider::kGenerated) << (*exe)->PlanText();
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

// With the layouts a channels-last machine would choose: dense convs between
// NHWC values, grouped and depthwise convs and fused adds on one side or both,
// NCHW inputs and outputs at the graph's edges.
TEST_P(ZooTest, ChannelsLastLayoutsMatchReference) {
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  MachineSpec channels_last;
  channels_last.conv_layout = Layout::kNHWC;
  // Worth the reorders at small scale.
  channels_last.other_conv_layout_speed = 0.1;
  channels_last.op_overhead = 0;
  AnalyticalCostModel model(channels_last);
  Graph laid_out = *g;
  const int changed = OptimizeLayouts(laid_out, model);
  bool has_conv = false;
  for (const Node& n : g->nodes()) has_conv = has_conv || n.op == OpKind::kConv2d;
  if (has_conv) {
    EXPECT_GT(changed, 0);
  }
  ExpectMatchesReference(laid_out, {.threads = 2, .providers = ProviderChoice::kGenerated}, 1e-3);
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
