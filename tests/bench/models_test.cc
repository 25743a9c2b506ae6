// The model zoo: TASO's benchmark graphs at their published sizes against the
// figures of their specification (shared/zoo/models.py and its README), and
// their small versions against the full ones.

#include <chrono>
#include <cmath>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma {
namespace {

using models::ModelOptions;
using models::ModelScale;

constexpr ModelOptions kFull = {.scale = ModelScale::kFull};
constexpr ModelOptions kSmall = {.scale = ModelScale::kSmall};

Graph BuildOrDie(std::string_view name, const ModelOptions& options) {
  absl::StatusOr<Graph> g = models::BuildModel(name, options);
  EXPECT_TRUE(g.ok()) << name << ": " << g.status();
  return g.ok() ? *std::move(g) : Graph();
}

std::map<std::string, int> OpHistogram(const Graph& g) {
  std::map<std::string, int> ops;
  for (const Node& n : g.nodes()) ++ops[std::string(OpName(n.op))];
  return ops;
}

// ReLUs as PyTorch counts them: relu ops plus convs and matmuls with a fused ReLU.
int ReluCount(const Graph& g) {
  int count = 0;
  for (const Node& n : g.nodes()) {
    if (n.op == OpKind::kRelu) ++count;
    if ((n.op == OpKind::kConv2d || n.op == OpKind::kMatMul) &&
        n.attrs.GetEnum<Activation>("activation") == Activation::kRelu) {
      ++count;
    }
  }
  return count;
}

// ---- The published figures.

// One model of TASO's benchmark. `readme_gflop` is the zoo README's figure,
// checked to half a unit in its last printed digit (the README rounds). The
// exact `flops` (models.count_flops: conv and matmul, 2 per multiply-add),
// `params` (sum of p.numel()), PyTorch's relu count and the output shapes come
// from running models.py (PyTorch 2.15, Inception-v3's FLOPs at batch 1 times
// 32); the op counts follow from its structure, as noted.
struct Published {
  std::string_view name;
  double readme_gflop;
  double readme_tolerance;
  double flops;
  int64_t params;
  int relus;
  std::map<std::string, int> ops;
  std::vector<std::string> outputs;
};

void PrintTo(const Published& p, std::ostream* os) { *os << p.name; }

const Published kPublished[] = {
    // 16 bottlenecks of 3 convs, 4 projections; ReLU fused but in each third conv.
    {"resnet50", 7.94, 0.005, 7938244608, 23445504, 52,
     {{"input", 1}, {"weight", 52}, {"conv2d", 52}, {"ewadd", 16}, {"relu", 16}},
     {"f32[1,2048,7,7]"}},
    // ResNet-50's body plus the 7x7 stem and its max pool.
    {"resnext50", 8.46, 0.005, 8456863744, 22911680, 53,
     {{"input", 1}, {"weight", 53}, {"conv2d", 53}, {"maxpool2d", 1}, {"ewadd", 16}, {"relu", 16}},
     {"f32[1,2048,7,7]"}},
    // Stem + 18 cells of 2 squeeze convs and 5 separable (2-conv) convs; a
    // normal cell has 3 avg pools, a reduction cell 2 avg and 2 max pools.
    {"nasnet_a", 30.10, 0.005, 30103291904, 39838528, 37,
     {{"input", 1},
      {"weight", 217},
      {"conv2d", 217},
      {"avgpool2d", 51},
      {"maxpool2d", 7},
      {"ewadd", 90},
      {"concat", 18}},
     {"f32[1,5120,7,7]"}},
    // 5 cells of 16 matmuls, 8 + 3 adds, 4 muls, 2 relus, 5 sigmoids, 8 tanhs.
    {"nasrnn", 0.042, 0.0005, 41943040, 20972032, 10,
     {{"input", 5},
      {"weight", 81},
      {"matmul", 80},
      {"ewadd", 55},
      {"ewmul", 20},
      {"relu", 10},
      {"sigmoid", 25},
      {"tanh", 40}},
     {"f32[1,512]"}},
    // 8 layers of 4 projections, 2 batched matmuls, 4 reshapes, 4 transposes.
    {"bert", 70.87, 0.005, 70866960384, 33554432, 1,
     {{"input", 1},
      {"weight", 32},
      {"matmul", 48},
      {"reshape", 32},
      {"transpose", 32},
      {"relu", 1}},
     {"f32[1024,1024]", "f32[1024,1024]", "f32[1024,1024]", "f32[1024,1024]", "f32[1024,1024]",
      "f32[1024,1024]", "f32[1024,1024]", "f32[1024,1024]", "f32[1024,1024]"}},
    // Stem 5 convs + A 3x7 + B 4 + C 4x10 + D 6 + E 2x9 = 94 convs; 11 blocks.
    {"inception_v3", 365.5, 0.05, 365514758144, 21751136, 94,
     {{"input", 1},
      {"weight", 94},
      {"conv2d", 94},
      {"avgpool2d", 10},
      {"maxpool2d", 4},
      {"concat", 11}},
     {"f32[32,2048,8,8]"}},
    // 26 convs, each with a bias (a broadcast add) and a ReLU; 8 fire modules.
    {"squeezenet", 0.70, 0.005, 698303872, 1235496, 26,
     {{"input", 1},
      {"weight", 52},
      {"conv2d", 26},
      {"broadcast_add", 26},
      {"relu", 26},
      {"concat", 8},
      {"maxpool2d", 3},
      {"avgpool2d", 1},
      {"reshape", 1}},
     {"f32[1,1000]"}},
};

class PublishedTest : public testing::TestWithParam<Published> {};

TEST_P(PublishedTest, MatchesTheSpecification) {
  const Published& p = GetParam();
  const Graph g = BuildOrDie(p.name, kFull);
  EXPECT_EQ(g.name(), p.name);
  EXPECT_TRUE(g.Validate().ok()) << g.Validate();
  const double flops = models::ConvMatMulFlops(g);
  EXPECT_NEAR(flops / 1e9, p.readme_gflop, p.readme_tolerance);
  EXPECT_EQ(flops, p.flops);  // integers below 2^53: exact in a double
  EXPECT_EQ(models::ParameterCount(g), p.params);
  EXPECT_EQ(OpHistogram(g), p.ops);
  EXPECT_EQ(ReluCount(g), p.relus);
  std::vector<std::string> outputs;
  for (const GraphOutput& o : g.outputs()) outputs.push_back(g.type(o.value).ToString());
  EXPECT_EQ(outputs, p.outputs);
}

INSTANTIATE_TEST_SUITE_P(Zoo, PublishedTest, testing::ValuesIn(kPublished),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Zoo, ListsTheBenchmarkModels) {
  std::vector<std::string_view> names;
  for (const models::ModelInfo& m : models::AllModels()) {
    names.push_back(m.name);
    EXPECT_FALSE(m.description.empty()) << m.name;
    EXPECT_EQ(m.description.find('\n'), std::string_view::npos) << m.name;
  }
  EXPECT_EQ(names, (std::vector<std::string_view>{"resnext_block", "resnet50", "resnext50",
                                                  "nasnet_a", "nasrnn", "bert", "inception_v3",
                                                  "squeezenet"}));
}

TEST(Zoo, UnknownNameListsTheModels) {
  absl::StatusOr<Graph> g = models::BuildModel("nope");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(g.status().message()).find("resnext_block, resnet50"), std::string::npos)
      << g.status();
}

TEST(Zoo, ResNeXtBlockIsTheFirstBottleneck) {
  const Graph g = BuildOrDie("resnext_block", kFull);
  EXPECT_EQ(g.type(g.outputs()[0].value).ToString(), "f32[1,256,56,56]");
  const std::map<std::string, int> ops = {
      {"input", 1}, {"weight", 4}, {"conv2d", 4}, {"ewadd", 1}, {"relu", 1}};
  EXPECT_EQ(OpHistogram(g), ops);
}

// models.py pads SAME windows by k//2 on both sides: stride-1 convs use the
// IR's padding=same (the same thing), strided ones spell the pads out, since
// the IR's same would put the odd element at the end only.
TEST(Zoo, StridedSameWindowsPadSymmetrically) {
  const Graph g = BuildOrDie("resnet50", kFull);
  int strided = 0;
  for (const Node& n : g.nodes()) {
    if (n.op != OpKind::kConv2d) continue;
    const int64_t k = g.type(n.inputs[1]).dim(2);
    if (n.attrs.GetInts("stride")[0] == 1) {
      EXPECT_EQ(n.attrs.GetEnum<Padding>("padding"), Padding::kSame);
    } else {
      ++strided;
      EXPECT_EQ(n.attrs.GetEnum<Padding>("padding"), Padding::kExplicit);
      EXPECT_EQ(n.attrs.GetInts("pads"), (std::vector<int64_t>{k / 2, k / 2, k / 2, k / 2}));
    }
  }
  EXPECT_EQ(strided, 6);  // a 3x3 and a projection in each of the last three stages
}

// ---- Every model at both scales.

struct Case {
  std::string_view name;
  ModelScale scale;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name << (c.scale == ModelScale::kSmall ? "_small" : "");
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const models::ModelInfo& m : models::AllModels()) {
    cases.push_back({m.name, ModelScale::kFull});
    cases.push_back({m.name, ModelScale::kSmall});
  }
  return cases;
}

std::string CaseName(const testing::TestParamInfo<Case>& info) {
  return StrCat(info.param.name, info.param.scale == ModelScale::kSmall ? "_small" : "");
}

class ScaleTest : public testing::TestWithParam<Case> {};

TEST_P(ScaleTest, BuildsValidatesAndRoundTripsThroughText) {
  const Case& c = GetParam();
  const Graph g = BuildOrDie(c.name, {.scale = c.scale});
  EXPECT_EQ(g.name(), StrCat(c.name, c.scale == ModelScale::kSmall ? "_small" : ""));
  ASSERT_TRUE(g.Validate().ok()) << g.Validate();
  const std::string text = PrintGraph(g);
  absl::StatusOr<Graph> parsed = ParseGraph(text, g.name());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(StructuralHash(*parsed), StructuralHash(g));
  EXPECT_TRUE(*parsed == g);
  EXPECT_EQ(PrintGraph(*parsed), text);
}

INSTANTIATE_TEST_SUITE_P(Zoo, ScaleTest, testing::ValuesIn(AllCases()), CaseName);

class SmallTest : public testing::TestWithParam<std::string_view> {};

// The small graph is the full one with other sizes: node for node the same op,
// the same inputs, outputs and fused activation, the same strides and padding
// mode, conv kernels of the same extent.
TEST_P(SmallTest, KeepsTheStructure) {
  const Graph full = BuildOrDie(GetParam(), kFull);
  const Graph small = BuildOrDie(GetParam(), kSmall);
  ASSERT_EQ(full.num_nodes(), small.num_nodes());
  for (NodeId id = 0; id < full.num_nodes(); ++id) {
    const Node& f = full.node(id);
    const Node& s = small.node(id);
    ASSERT_EQ(f.op, s.op) << full.Describe(id);
    EXPECT_EQ(f.inputs, s.inputs) << full.Describe(id);
    EXPECT_EQ(f.outputs.size(), s.outputs.size()) << full.Describe(id);
    EXPECT_EQ(f.names, s.names) << full.Describe(id);
    for (std::string_view attr : {"activation", "stride", "padding", "axis", "perm"}) {
      if (!f.attrs.Has(attr)) continue;
      if (attr == "activation" || attr == "padding" || attr == "axis") {
        EXPECT_EQ(f.attrs.GetInt(attr), s.attrs.GetInt(attr)) << full.Describe(id) << " " << attr;
      } else {
        EXPECT_EQ(f.attrs.GetInts(attr), s.attrs.GetInts(attr)) << full.Describe(id) << " " << attr;
      }
    }
    if (f.op == OpKind::kConv2d) {
      const TensorType& fw = full.type(f.inputs[1]);
      const TensorType& sw = small.type(s.inputs[1]);
      EXPECT_EQ(fw.dim(2), sw.dim(2)) << full.Describe(id);
      EXPECT_EQ(fw.dim(3), sw.dim(3)) << full.Describe(id);
      // Grouped convs stay grouped, depthwise ones depthwise.
      EXPECT_EQ(f.attrs.GetInt("groups") > 1, s.attrs.GetInt("groups") > 1) << full.Describe(id);
      EXPECT_EQ(fw.dim(1) == 1, sw.dim(1) == 1) << full.Describe(id);
    }
  }
  std::vector<std::string> full_outputs, small_outputs;
  for (const GraphOutput& o : full.outputs()) full_outputs.push_back(o.name);
  for (const GraphOutput& o : small.outputs()) small_outputs.push_back(o.name);
  EXPECT_EQ(full_outputs, small_outputs);
  EXPECT_NE(StructuralHash(full), StructuralHash(small));
}

// One float64 reference run of a small model takes well under a second and
// gives finite outputs that are not all zero (a dead network would be).
TEST_P(SmallTest, EvaluatesToFiniteOutputs) {
  const Graph g = BuildOrDie(GetParam(), kSmall);
  EXPECT_LT(models::ConvMatMulFlops(g), 1e8);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, RandomFeeds<F64>(g, /*seed=*/1));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_LT(seconds, 1.0);
  ASSERT_EQ(out->size(), g.outputs().size());
  for (const auto& [name, t] : *out) {
    bool nonzero = false;
    for (double v : t.data) {
      ASSERT_TRUE(std::isfinite(v)) << name;
      nonzero = nonzero || v != 0;
    }
    EXPECT_TRUE(nonzero) << name;
  }
}

std::vector<std::string_view> AllNames() {
  std::vector<std::string_view> names;
  for (const models::ModelInfo& m : models::AllModels()) names.push_back(m.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Zoo, SmallTest, testing::ValuesIn(AllNames()),
                         [](const auto& info) { return std::string(info.param); });

TEST(Zoo, EveryGraphIsDistinct) {
  std::set<uint64_t> hashes;
  for (const Case& c : AllCases()) {
    hashes.insert(StructuralHash(BuildOrDie(c.name, {.scale = c.scale})));
  }
  EXPECT_EQ(hashes.size(), AllCases().size());
}

}  // namespace
}  // namespace lemma
