#include "ir/text_format.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "tests/common/error_cases.h"

namespace lemma {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::lemma::testing::ErrorCase;
using ::lemma::testing::ExpectErrorCase;
using ::lemma::testing::LoadErrorCases;
using ::lemma::testing::Message;

std::string DataPath(std::string_view relative) {
  return ::lemma::testing::DataPath(StrCat("ir/data/", relative));
}

// ------------------------------------------------------------ random graphs

constexpr double kFloats[] = {1e-5,  1e-3, 0.1,    0.5,   -2.5,  3.141592653589793,
                              1e300, 5e-324, 1e-12, 2.0,   -0.0,  1.0 / 3.0,
                              std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity()};

// Builds random valid graphs from every op of the registry, with named and
// anonymous values, non-default layouts, every attribute kind and several
// outputs. Each op builder makes a valid instance most of the time; the rare
// invalid one is rejected by AddNode and skipped.
class RandomGraph {
 public:
  explicit RandomGraph(uint64_t seed) : rng_(seed), graph_(GraphName(seed)) {}

  Graph Build(int num_nodes, std::set<OpKind>* ops_made) && {
    for (int i = 0; i < 2; ++i) NewSource(true, RandomDType(), RandomDims(Uniform(0, 4)));
    for (int i = 0; i < num_nodes; ++i) AddRandomNode(ops_made);
    AddOutputs();
    return std::move(graph_);
  }

 private:
  static std::string GraphName(uint64_t seed) {
    if (seed % 10 == 3) return StrCat("model \"v", seed, "\"\\ with\ttabs\n");
    return StrCat("random_", seed);
  }

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  DType RandomDType() {
    const int r = Uniform(0, 9);
    return r < 7 ? DType::kF32 : r < 9 ? DType::kF64 : DType::kI64;
  }
  double RandomFloat() { return kFloats[Uniform(0, static_cast<int>(std::size(kFloats)) - 1)]; }
  Dims RandomDims(int rank) {
    Dims d;
    for (int i = 0; i < rank; ++i) d.push_back(Uniform(1, 5));
    return d;
  }

  std::string FreshName() {
    const int k = next_name_++;
    switch (Uniform(0, 4)) {
      case 0:
        return StrCat("v", k);
      case 1:
        return StrCat("layer", k, ".conv");
      case 2:
        return StrCat("blk/", k, "/out");
      case 3:
        return StrCat("x-", k);
      default:
        return StrCat("_t", k);
    }
  }

  // A random non-default layout for `type`, if its rank has one.
  void MaybeSetLayout(TensorType& type) {
    if (!Chance(0.25)) return;
    if (type.rank() == 2) type.layout = Layout::kColMajor;
    if (type.rank() == 4) type.layout = Layout::kNHWC;
  }

  ValueId NewSource(bool input, DType dtype, Dims dims) {
    TensorType type = TensorType::Make(dtype, std::move(dims));
    MaybeSetLayout(type);
    absl::StatusOr<ValueId> v = input ? graph_.AddInput(FreshName(), type)
                                      : graph_.AddWeight(FreshName(), type);
    EXPECT_TRUE(v.ok()) << v.status();
    values_.push_back(*v);
    return *v;
  }
  ValueId NewWeight(DType dtype, Dims dims) { return NewSource(false, dtype, std::move(dims)); }

  const TensorType& T(ValueId v) const { return graph_.type(v); }

  // A value whose rank is in [min_rank, max_rank] (and without zero
  // dimensions if `nonempty`), made as a new input if none exists.
  ValueId Pick(int min_rank = 0, int max_rank = 8, bool nonempty = false) {
    std::vector<ValueId> fits;
    for (ValueId v : values_) {
      const bool empty = T(v).num_elements() == 0;
      if (T(v).rank() >= min_rank && T(v).rank() <= max_rank && !(nonempty && empty)) {
        fits.push_back(v);
      }
    }
    if (fits.empty() || Chance(0.1)) {
      const int rank = Uniform(min_rank, std::min(max_rank, 4));
      Dims dims = RandomDims(rank);
      if (rank == 4) dims = {Uniform(1, 2), 2 * Uniform(1, 3), Uniform(3, 6), Uniform(3, 6)};
      return NewSource(true, RandomDType(), std::move(dims));
    }
    return fits[static_cast<size_t>(Uniform(0, static_cast<int>(fits.size()) - 1))];
  }

  int64_t RandomAxis(int rank) { return Uniform(-rank, rank - 1); }

  Attributes Attrs(OpKind op, std::initializer_list<std::pair<std::string_view, AttrValue>> kv) {
    Attributes a(op);
    for (const auto& [name, value] : kv) EXPECT_TRUE(a.Set(name, value).ok()) << name;
    return a;
  }

  void Add(OpKind op, Attributes attrs, std::vector<ValueId> inputs, std::set<OpKind>* ops_made) {
    absl::StatusOr<NodeId> id = graph_.AddNode(op, std::move(attrs), std::move(inputs));
    if (!id.ok()) return;
    ops_made->insert(op);
    for (size_t i = 0; i < graph_.node(*id).outputs.size(); ++i) {
      const ValueId v{*id, static_cast<int32_t>(i)};
      if (Chance(0.5)) {
        EXPECT_TRUE(graph_.SetName(v, FreshName()).ok());
      }
      TensorType t = T(v);
      MaybeSetLayout(t);
      EXPECT_TRUE(graph_.SetLayout(v, t.layout).ok());
      values_.push_back(v);
    }
  }

  void AddRandomNode(std::set<OpKind>* made) {
    const auto op = static_cast<OpKind>(Uniform(2, kNumOpKinds - 1));
    switch (op) {
      case OpKind::kMatMul: {
        const ValueId a = Pick(2, 3);
        const Dims& d = T(a).dims;
        const ValueId b = NewWeight(T(a).dtype, {d.back(), Uniform(1, 4)});
        return Add(op, Attrs(op, {{"activation", int64_t{Uniform(0, 3)}}}), {a, b}, made);
      }
      case OpKind::kConv2d:
        return AddConv(made);
      case OpKind::kAvgPool2d:
      case OpKind::kMaxPool2d:
        return AddPool(op, made);
      case OpKind::kEwAdd:
      case OpKind::kEwMul:
        return AddBinarySame(op, made);
      case OpKind::kScalarMul: {
        const ValueId x = Pick();
        return Add(op, Attributes(op), {x, NewWeight(T(x).dtype, {})}, made);
      }
      case OpKind::kConcat:
        return AddConcat(made);
      case OpKind::kSplit:
        return AddSplit(made);
      case OpKind::kTranspose: {
        const ValueId x = Pick();
        std::vector<int64_t> perm(static_cast<size_t>(T(x).rank()));
        for (size_t i = 0; i < perm.size(); ++i) perm[i] = static_cast<int64_t>(i);
        std::shuffle(perm.begin(), perm.end(), rng_);
        return Add(op, Attrs(op, {{"perm", perm}}), {x}, made);
      }
      case OpKind::kEnlarge: {
        const ValueId w = NewWeight(RandomDType(), {Uniform(1, 3), Uniform(1, 3), 1, 1});
        const int64_t k = 1 + 2 * Uniform(0, 1);
        return Add(op, Attrs(op, {{"kernel", std::vector<int64_t>{k, 3}}}), {w}, made);
      }
      default:
        return AddOther(op, made);
    }
  }

  void AddConv(std::set<OpKind>* made) {
    const OpKind op = OpKind::kConv2d;
    const ValueId x = Pick(4, 4, true);
    const int64_t c = T(x).dim(1);
    int64_t groups = Uniform(1, static_cast<int>(c));
    while (c % groups != 0) --groups;
    const int64_t kh = Uniform(0, 1) * 2 + 1, kw = Uniform(0, 1) * 2 + 1;
    const ValueId w = NewWeight(T(x).dtype, {groups * Uniform(1, 2), c / groups, kh, kw});
    Attributes a = Attrs(op, {{"stride", std::vector<int64_t>{Uniform(1, 2), Uniform(1, 2)}},
                              {"groups", groups},
                              {"activation", int64_t{Uniform(0, 3)}}});
    if (Chance(0.5)) {
      EXPECT_TRUE(a.Set("padding", int64_t{1}).ok());
    } else {
      const int64_t p = Uniform(0, 1);
      EXPECT_TRUE(a.Set("pads", std::vector<int64_t>{p, p, p, Uniform(0, 1)}).ok());
    }
    if (Chance(0.3)) {
      EXPECT_TRUE(a.Set("dilation", std::vector<int64_t>{1, 2}).ok());
    }
    Add(op, std::move(a), {x, w}, made);
  }

  void AddPool(OpKind op, std::set<OpKind>* made) {
    const ValueId x = Pick(4, 4);
    const int64_t k = Uniform(1, 3);
    Attributes a = Attrs(op, {{"kernel", std::vector<int64_t>{k, Uniform(1, 3)}},
                              {"stride", std::vector<int64_t>{Uniform(1, 2), 1}}});
    if (Chance(0.5)) {
      EXPECT_TRUE(a.Set("padding", int64_t{1}).ok());
    }
    if (op == OpKind::kAvgPool2d && Chance(0.5)) {
      EXPECT_TRUE(a.Set("count_include_pad", int64_t{1}).ok());
    }
    Add(op, std::move(a), {x}, made);
  }

  void AddBinarySame(OpKind op, std::set<OpKind>* made) {
    const ValueId a = Pick();
    ValueId b = a;
    for (ValueId v : values_) {
      if (T(v).dims == T(a).dims && T(v).dtype == T(a).dtype && Chance(0.5)) b = v;
    }
    Add(op, Attributes(op), {a, b}, made);
  }

  void AddConcat(std::set<OpKind>* made) {
    const OpKind op = OpKind::kConcat;
    const ValueId a = Pick(1);
    const int64_t axis = RandomAxis(T(a).rank());
    std::vector<ValueId> inputs = {a};
    for (int i = Uniform(0, 2); i > 0; --i) {
      Dims d = T(a).dims;
      d[static_cast<size_t>(axis < 0 ? axis + T(a).rank() : axis)] = Uniform(1, 3);
      inputs.push_back(Chance(0.5) ? a : NewWeight(T(a).dtype, d));
    }
    Add(op, Attrs(op, {{"axis", axis}}), inputs, made);
  }

  void AddSplit(std::set<OpKind>* made) {
    const OpKind op = OpKind::kSplit;
    const ValueId x = Pick(1);
    const int64_t axis = RandomAxis(T(x).rank());
    int64_t left = T(x).dim(static_cast<int>(axis < 0 ? axis + T(x).rank() : axis));
    std::vector<int64_t> sizes;
    for (int pieces = Uniform(1, 3); pieces > 1; --pieces) {
      const int64_t s = Uniform(0, static_cast<int>(left));
      sizes.push_back(s);
      left -= s;
    }
    sizes.push_back(left);
    Add(op, Attrs(op, {{"axis", axis}, {"sizes", sizes}}), {x}, made);
  }

  void AddOther(OpKind op, std::set<OpKind>* made) {
    switch (op) {
      case OpKind::kConstPool:
      case OpKind::kConstIdentityConv: {
        const int64_t k = 1 + 2 * Uniform(0, 1);
        return Add(op,
                   Attrs(op, {{"channels", int64_t{Uniform(1, 4)}},
                              {"kernel", std::vector<int64_t>{k, k}},
                              {"dtype", int64_t{Uniform(0, 2)}}}),
                   {}, made);
      }
      case OpKind::kConstIdentityMatrix:
        return Add(op, Attrs(op, {{"size", int64_t{Uniform(1, 4)}}}), {}, made);
      case OpKind::kConstOnes:
        return Add(op,
                   Attrs(op, {{"shape", RandomDims(Uniform(0, 3))}, {"dtype", int64_t{Uniform(0, 2)}}}),
                   {}, made);
      case OpKind::kBatchNorm: {
        const ValueId x = Pick(2);
        std::vector<ValueId> in = {x};
        for (int i = 0; i < 4; ++i) in.push_back(NewWeight(T(x).dtype, {T(x).dim(1)}));
        return Add(op, Attrs(op, {{"epsilon", std::abs(RandomFloat())}}), in, made);
      }
      case OpKind::kSoftmax: {
        const ValueId x = Pick(1);
        return Add(op, Attrs(op, {{"axis", RandomAxis(T(x).rank())}}), {x}, made);
      }
      case OpKind::kReshape:
        return AddReshape(made);
      case OpKind::kBroadcastAdd:
      case OpKind::kBroadcastMul:
      case OpKind::kBroadcastSub:
      case OpKind::kBroadcastDiv: {
        const ValueId a = Pick();
        Dims d(T(a).dims.begin() + Uniform(0, T(a).rank()), T(a).dims.end());
        for (int64_t& x : d) x = Chance(0.3) ? 1 : x;
        return Add(op, Attributes(op), {a, NewWeight(T(a).dtype, d)}, made);
      }
      case OpKind::kLayerNorm: {
        const ValueId x = Pick(1);
        const int64_t axis = RandomAxis(T(x).rank());
        const Dims d(T(x).dims.begin() + (axis < 0 ? axis + T(x).rank() : axis), T(x).dims.end());
        return Add(op, Attrs(op, {{"axis", axis}, {"epsilon", std::abs(RandomFloat())}}),
                   {x, NewWeight(T(x).dtype, d), NewWeight(T(x).dtype, d)}, made);
      }
      case OpKind::kPad: {
        const ValueId x = Pick();
        std::vector<int64_t> pads;
        for (int i = 0; i < 2 * T(x).rank(); ++i) pads.push_back(Uniform(0, 2));
        return Add(op, Attrs(op, {{"pads", pads}, {"value", RandomFloat()}}), {x}, made);
      }
      case OpKind::kSlice:
        return AddSlice(made);
      case OpKind::kReduceSum:
      case OpKind::kReduceMean:
      case OpKind::kReduceMax:
        return AddReduce(op, made);
      default: {  // unary ops
        const ValueId x = Pick();
        return Add(op, Attributes(op), {x}, made);
      }
    }
  }

  void AddReshape(std::set<OpKind>* made) {
    const OpKind op = OpKind::kReshape;
    const ValueId x = Pick();
    const int64_t n = T(x).num_elements();
    std::vector<int64_t> shape;
    switch (Uniform(0, 3)) {
      case 0:
        shape = {-1};
        break;
      case 1:
        shape = {1, n};
        break;
      case 2:
        shape = {n, -1};
        break;
      default:
        shape = T(x).dims;
        std::reverse(shape.begin(), shape.end());
    }
    Add(op, Attrs(op, {{"shape", shape}}), {x}, made);
  }

  void AddSlice(std::set<OpKind>* made) {
    const OpKind op = OpKind::kSlice;
    const ValueId x = Pick(1);
    std::vector<int64_t> axes, starts, ends, steps;
    for (int axis = 0; axis < T(x).rank(); ++axis) {
      if (!Chance(0.6)) continue;
      const int dim = static_cast<int>(T(x).dim(axis));
      const int start = Uniform(0, dim);
      axes.push_back(Chance(0.5) ? axis : axis - T(x).rank());
      starts.push_back(start);
      ends.push_back(Uniform(start, dim));
      steps.push_back(Uniform(1, 3));
    }
    if (Chance(0.5)) steps.clear();
    Add(op, Attrs(op, {{"axes", axes}, {"starts", starts}, {"ends", ends}, {"steps", steps}}),
        {x}, made);
  }

  void AddReduce(OpKind op, std::set<OpKind>* made) {
    const ValueId x = Pick(1);
    std::vector<int64_t> axes;
    for (int axis = 0; axis < T(x).rank(); ++axis) {
      if (Chance(0.5)) axes.push_back(axis);
    }
    if (axes.empty()) axes.push_back(-1);
    Add(op, Attrs(op, {{"axes", axes}, {"keepdims", int64_t{Uniform(0, 1)}}}), {x}, made);
  }

  void AddOutputs() {
    const int n = Uniform(0, 4);
    for (int i = 0; i < n; ++i) {
      const ValueId v = values_[static_cast<size_t>(Uniform(0, static_cast<int>(values_.size()) - 1))];
      const std::string& name = graph_.node(v.node).names[static_cast<size_t>(v.index)];
      const std::string out = (!name.empty() && !graph_.FindOutput(name)) ? name : StrCat("out", i);
      EXPECT_TRUE(graph_.AddOutput(out, v).ok());
    }
  }

  std::mt19937_64 rng_;
  Graph graph_;
  std::vector<ValueId> values_;
  int next_name_ = 0;
};

// Checks print(parse(print(g))) == print(g), parse(print(g)) == g and equal hashes.
void ExpectRoundTrip(const Graph& g) {
  const std::string text = PrintGraph(g);
  absl::StatusOr<Graph> parsed = ParseGraph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_EQ(PrintGraph(*parsed), text);
  EXPECT_TRUE(*parsed == g) << text;
  EXPECT_EQ(StructuralHash(*parsed), StructuralHash(g)) << text;
  EXPECT_TRUE(parsed->Validate().ok()) << parsed->Validate();
}

TEST(TextFormatRoundTrip, RandomGraphs) {
  std::set<OpKind> ops_made;
  for (uint64_t seed = 0; seed < 300; ++seed) {
    SCOPED_TRACE(StrCat("seed ", seed));
    const Graph g = RandomGraph(seed).Build(static_cast<int>(seed % 40), &ops_made);
    ASSERT_TRUE(g.Validate().ok()) << g.Validate();
    ExpectRoundTrip(g);
  }
  for (const OpInfo& info : AllOps()) {
    if (!info.Has(kTraitSource)) {
      EXPECT_TRUE(ops_made.contains(info.kind)) << info.name;
    }
  }
}

TEST(TextFormatRoundTrip, NonTopologicalNodeOrderPrintsTopologically) {
  Graph g("g");
  const ValueId x = *g.AddInput("x", TensorType::Make(DType::kF32, {2, 3}));
  const NodeId a = *g.AddNode(OpKind::kRelu, Attributes(OpKind::kRelu), {x});
  const NodeId d = *g.AddNode(OpKind::kTanh, Attributes(OpKind::kTanh), {ValueId{a, 0}});
  const NodeId b = *g.AddNode(OpKind::kSigmoid, Attributes(OpKind::kSigmoid), {x});
  const NodeId c = *g.AddNode(OpKind::kGelu, Attributes(OpKind::kGelu), {ValueId{b, 0}});
  ASSERT_TRUE(g.AddOutput("y", ValueId{d, 0}).ok());
  ASSERT_TRUE(g.ReplaceAllUsesWith(ValueId{a, 0}, ValueId{c, 0}).ok());  // d now uses node 4
  ASSERT_TRUE(g.AddOutput("z", ValueId{a, 0}).ok());
  const std::string text = PrintGraph(g);
  absl::StatusOr<Graph> parsed = ParseGraph(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << text;
  EXPECT_EQ(StructuralHash(*parsed), StructuralHash(g));
  EXPECT_EQ(PrintGraph(*parsed), text);
  EXPECT_THAT(text, HasSubstr("%2 = gelu(%1) : f32[2,3]\n  %3 = tanh(%2) : f32[2,3]\n"));
}

TEST(TextFormatRoundTrip, SpecialFloats) {
  for (const double value : {std::nan(""), -std::nan(""), -0.0, 1e-5, 0.1, 5e-324, 1.7976931348623157e308}) {
    Graph g("g");
    const ValueId x = *g.AddInput("x", TensorType::Make(DType::kF32, {2}));
    Attributes a(OpKind::kPad);
    ASSERT_TRUE(a.Set("pads", std::vector<int64_t>{1, 1}).ok());
    ASSERT_TRUE(a.Set("value", value).ok());
    const NodeId n = *g.AddNode(OpKind::kPad, a, {x});
    ASSERT_TRUE(g.AddOutput("y", ValueId{n, 0}).ok());
    const std::string text = PrintGraph(g);
    absl::StatusOr<Graph> parsed = ParseGraph(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status() << text;
    EXPECT_EQ(PrintGraph(*parsed), text);
    EXPECT_EQ(StructuralHash(*parsed), StructuralHash(g)) << text;
    const double back = parsed->node(1).attrs.GetFloat("value");
    EXPECT_EQ(std::signbit(back), std::signbit(value)) << text;
    if (!std::isnan(value)) {
      EXPECT_TRUE(*parsed == g) << text;
    }
    if (std::isnan(value)) {
      EXPECT_TRUE(std::isnan(back));
    }
  }
}

// ------------------------------------------------------------ golden

TEST(TextFormatGolden, HandWrittenFilePrintsAsGolden) {
  absl::StatusOr<Graph> g = ReadGraphFile(DataPath("resnext_block.lemma"));
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<std::string> golden = ReadFile(DataPath("resnext_block.golden.lemma"));
  ASSERT_TRUE(golden.ok()) << golden.status();
  EXPECT_EQ(PrintGraph(*g), *golden);
  absl::StatusOr<Graph> again = ParseGraph(*golden);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(*again == *g);
}

TEST(TextFormatGolden, HandWrittenFileHasWhatItSays) {
  absl::StatusOr<Graph> g = ReadGraphFile(DataPath("resnext_block.lemma"));
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->name(), "resnext_block");
  EXPECT_EQ(g->InputNodes().size(), 1u);
  EXPECT_EQ(g->WeightNodes().size(), 2u);
  ASSERT_TRUE(g->FindValue("conv1").has_value());
  const Node& conv = g->node(g->FindValue("conv1")->node);
  EXPECT_EQ(conv.attrs.GetEnum<Activation>("activation"), Activation::kRelu);
  const Node& grouped = g->node(4);  // %10 in the file: after x, w1, w2 and conv1
  EXPECT_EQ(grouped.attrs.GetInt("groups"), 32);
  EXPECT_EQ(grouped.attrs.GetEnum<Padding>("padding"), Padding::kSame);
  EXPECT_TRUE(grouped.names[0].empty());
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->type(*g->FindOutput("z")).dims, (Dims{1, 64, 56, 56}));
  EXPECT_EQ(g->type(*g->FindValue("t")).layout, Layout::kNHWC);
}

// ------------------------------------------------------------ parse errors

TEST(TextFormatErrors, EveryDataFileFailsWhereItSays) {
  const std::vector<ErrorCase> cases = LoadErrorCases(DataPath("parse_errors"), ".lemma");
  EXPECT_GE(cases.size(), 20u);
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.file);
    absl::StatusOr<Graph> g = ParseGraph(c.text, c.file);
    ASSERT_FALSE(g.ok()) << PrintGraph(*g);
    ExpectErrorCase(c, g.status());
  }
}

TEST(TextFormatErrors, EmptyText) {
  absl::StatusOr<Graph> g = ParseGraph("", "empty.lemma");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(Message(g.status()), "empty.lemma:1:1: expected 'graph NAME {', found end of file");
}

TEST(TextFormatErrors, NulBytesAndControlCharacters) {
  constexpr char kText[] = "graph g {\n  input x\0: f32[1]\n}\n";
  const std::string text(kText, sizeof kText - 1);
  absl::StatusOr<Graph> g = ParseGraph(text);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(Message(g.status()), "<text>:2:10: unexpected character byte 0x00");
}

TEST(TextFormatErrors, LongTokensAreShortenedInMessages) {
  const std::string name(5000, 'a');
  absl::StatusOr<Graph> g = ParseGraph(StrCat("graph g {\n  ", name, " ", name, "\n}"));
  ASSERT_FALSE(g.ok());
  EXPECT_LT(Message(g.status()).size(), 200u) << g.status();
}

TEST(TextFormatErrors, ReadGraphFileNamesThePath) {
  absl::StatusOr<Graph> g = ReadGraphFile("/nonexistent/dir/x.lemma");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(g.status()), HasSubstr("'/nonexistent/dir/x.lemma'"));
  EXPECT_THAT(Message(g.status()), HasSubstr("No such file"));
  const std::string bad = DataPath("parse_errors/unknown_op.lemma");
  g = ReadGraphFile(bad);
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(Message(g.status()), StartsWith(StrCat(bad, ":")));
}

// ------------------------------------------------------------ parsing details

absl::StatusOr<Graph> Parse(std::string_view body) {
  return ParseGraph(StrCat("graph g {\n", body, "}\n"));
}

TEST(TextFormatParse, AttributesInAnyOrderWithDefaultsFilled) {
  absl::StatusOr<Graph> g = Parse(
      "input x: f32[1,4,8,8]\n weight w: f32[4,2,3,3]\n"
      "y = conv2d(x, w) {activation=relu, groups=2, stride=[1,1], padding=same}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  const Attributes& a = g->node(2).attrs;
  EXPECT_EQ(a.GetInt("groups"), 2);
  EXPECT_EQ(a.GetInts("dilation"), (std::vector<int64_t>{1, 1}));
  EXPECT_THAT(PrintGraph(*g),
              HasSubstr("y = conv2d(x, w) {padding=same, groups=2, activation=relu} : "
                        "f32[1,4,8,8]\n"));
}

TEST(TextFormatParse, IntegersAreAcceptedForFloatsAndSpecialWords) {
  absl::StatusOr<Graph> g = Parse(
      "input x: f64[2]\n a = pad(x) {pads=[1,0], value=3}\n b = pad(x) {pads=[0,1], value=-inf}\n"
      "c = pad(x) {pads=[0,1], value=nan}\n d = pad(x) {pads=[0,0], value=1e-5}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->node(1).attrs.GetFloat("value"), 3.0);
  EXPECT_EQ(g->node(2).attrs.GetFloat("value"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(g->node(3).attrs.GetFloat("value")));
  EXPECT_EQ(g->node(4).attrs.GetFloat("value"), 1e-5);
  EXPECT_THAT(PrintGraph(*g), HasSubstr("a = pad(x) {pads=[1,0], value=3.0} : f64[3]"));
}

TEST(TextFormatParse, TypeAnnotationIsOptionalAndSetsLayouts) {
  absl::StatusOr<Graph> g = Parse(
      "input x: f32[2,3]@col_major\n y = relu(x)\n z = tanh(x) : f32[2,3]@col_major\n"
      "output y = y\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->type(*g->FindValue("x")).layout, Layout::kColMajor);
  EXPECT_EQ(g->type(*g->FindValue("y")).layout, Layout::kRowMajor);
  EXPECT_EQ(g->type(*g->FindValue("z")).layout, Layout::kColMajor);
  EXPECT_THAT(PrintGraph(*g), HasSubstr("  z = tanh(x) : f32[2,3]@col_major\n"));
}

TEST(TextFormatParse, KeywordsCanNameValues) {
  absl::StatusOr<Graph> g = Parse(
      "input input: f32[2]\n weight weight: f32[2]\n output = ewadd(input, weight)\n"
      "graph, %7 = split(output) {axis=0, sizes=[1,1]}\n output output = graph\n");
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectRoundTrip(*g);
  EXPECT_THAT(PrintGraph(*g), HasSubstr("  graph, %0 = split(output) {axis=0, sizes=[1,1]}"));
}

TEST(TextFormatParse, WhitespaceAndCommentsAreFree) {
  absl::StatusOr<Graph> g = ParseGraph(
      "# header\n\n  graph   g{input x:f32[ 2 , 3 ]# trailing\n%5=relu(x):f32[2,3] output y=%5}");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(PrintGraph(*g),
            "graph g {\n  input x: f32[2,3]\n  %0 = relu(x) : f32[2,3]\n  output y = %0\n}\n");
}

TEST(TextFormatParse, ZeroOutputsAndEmptyGraph) {
  absl::StatusOr<Graph> g = ParseGraph("graph empty {\n}\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->num_nodes(), 0);
  EXPECT_EQ(PrintGraph(*g), "graph empty {\n}\n");
  g = Parse("input x: i64[]\n");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(g->outputs().empty());
}

TEST(TextFormatParse, QuotedGraphNames) {
  Graph g("my model \"v2\"\\\x01");
  EXPECT_EQ(PrintGraph(g), "graph \"my model \\\"v2\\\"\\\\\\x01\" {\n}\n");
  ExpectRoundTrip(g);
  Graph empty("");
  ExpectRoundTrip(empty);
}

// ------------------------------------------------------------ file I/O

class FileIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = StrCat(::testing::TempDir(), "/lemma_file_io_XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const std::string& name : Entries()) unlink(StrCat(dir_, "/", name).c_str());
    rmdir(StrCat(dir_, "/sub").c_str());
    rmdir(dir_.c_str());
  }
  std::vector<std::string> Entries() const {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir_.c_str())) {
      while (dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name != "." && name != "..") out.push_back(name);
      }
      closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string dir_;
};

TEST_F(FileIoTest, WritesAndReplaces) {
  const std::string path = StrCat(dir_, "/a.txt");
  ASSERT_TRUE(WriteFileAtomically(path, "first").ok());
  EXPECT_EQ(ReadFile(path).value_or("?"), "first");
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(WriteFileAtomically(path, std::string("second\0binary", 13)).ok());
  EXPECT_EQ(ReadFile(path).value_or("?"), std::string("second\0binary", 13));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(WriteFileAtomically(path, "").ok());
  EXPECT_EQ(ReadFile(path).value_or("?"), "");
  EXPECT_EQ(Entries(), std::vector<std::string>{"a.txt"});
}

TEST_F(FileIoTest, FailsCleanlyInAMissingDirectory) {
  const std::string path = StrCat(dir_, "/missing/a.txt");
  const absl::Status s = WriteFileAtomically(path, "x");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Message(s), HasSubstr(StrCat("'", path, "'")));
  EXPECT_TRUE(Entries().empty());
}

TEST_F(FileIoTest, FailsCleanlyWhenRenameFails) {
  const std::string sub = StrCat(dir_, "/sub");
  ASSERT_EQ(mkdir(sub.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(StrCat(sub, "/child").c_str(), 0755), 0);  // a non-empty directory
  const absl::Status s = WriteFileAtomically(sub, "x");
  rmdir(StrCat(sub, "/child").c_str());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Message(s), HasSubstr(StrCat("'", sub, "'")));
  EXPECT_EQ(Entries(), std::vector<std::string>{"sub"});
}

TEST_F(FileIoTest, ReadFileErrorsNameThePath) {
  absl::StatusOr<std::string> text = ReadFile(StrCat(dir_, "/none"));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(text.status()), HasSubstr(StrCat("cannot open '", dir_, "/none'")));
  text = ReadFile(dir_);
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(Message(text.status()), HasSubstr("Is a directory"));
}

TEST_F(FileIoTest, GraphFilesRoundTrip) {
  std::set<OpKind> ops;
  const Graph g = RandomGraph(7).Build(20, &ops);
  const std::string path = StrCat(dir_, "/g.lemma");
  ASSERT_TRUE(WriteGraphFile(path, g).ok());
  absl::StatusOr<Graph> back = ReadGraphFile(path);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == g);
}

}  // namespace
}  // namespace lemma
