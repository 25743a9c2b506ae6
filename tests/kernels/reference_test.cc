// The reference evaluator on hand-computed cases, op coverage in every domain,
// and its errors.

#include "kernels/reference.h"

#include <cmath>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "tests/kernels/test_util.h"

namespace lemma {
namespace {

using kernels_test::AsDoubles;
using kernels_test::BuildGraph;
using kernels_test::ExpectNear;
using kernels_test::Literal;
using ::testing::HasSubstr;

constexpr DType kF = DType::kF64;

Value In(GraphBuilder& b, const std::string& name, Dims dims) {
  return b.Input(name, kF, std::move(dims));
}

std::vector<double> Iota(int n, double first = 1) {
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

// ---- Hand-computed cases, in F64.

struct Expected {
  Dims dims;
  std::vector<double> values;
};

struct HandCase {
  std::string name;
  std::function<void(GraphBuilder&)> build;
  std::map<std::string, std::vector<double>> feeds;  // logical values by input name
  std::map<std::string, Expected> outputs;           // by output name
};

std::vector<double> TransposedIota() {  // x[2,3,4] = 0..23 under perm [2,0,1]
  std::vector<double> v;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 2; ++j) {
      for (int k = 0; k < 3; ++k) v.push_back(j * 12 + k * 4 + i);
    }
  }
  return v;
}

std::vector<double> IdentityConv2x3x3() {
  std::vector<double> v(36, 0.0);
  v[4] = v[31] = 1;  // [0,0,1,1] and [1,1,1,1]
  return v;
}

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

std::vector<HandCase> HandCases() {
  const double third = 1.0 / 3;
  const std::vector<double> grid = Iota(9);  // 1..9 in a 3x3 plane
  return {
      {"matmul_2x2",
       [](GraphBuilder& b) {
         b.Output("y", b.MatMul(In(b, "a", {2, 2}), In(b, "b", {2, 2})));
       },
       {{"a", {1, 2, 3, 4}}, {"b", {5, 6, 7, 8}}},
       {{"y", {{2, 2}, {19, 22, 43, 50}}}}},
      {"matmul_batch_of_a",
       [](GraphBuilder& b) {
         b.Output("y", b.MatMul(In(b, "a", {2, 1, 2}), In(b, "b", {2, 1})));
       },
       {{"a", {1, 2, 3, 4}}, {"b", {1, 1}}},
       {{"y", {{2, 1, 1}, {3, 7}}}}},
      {"matmul_batch_of_b",
       [](GraphBuilder& b) {
         b.Output("y", b.MatMul(In(b, "a", {1, 2}), In(b, "b", {3, 2, 1})));
       },
       {{"a", {5, 7}}, {"b", {1, 0, 0, 1, 1, 1}}},
       {{"y", {{3, 1, 1}, {5, 7, 12}}}}},
      {"matmul_batch_broadcast_ones",
       [](GraphBuilder& b) {
         b.Output("y", b.MatMul(In(b, "a", {2, 1, 1, 1}), In(b, "b", {3, 1, 1})));
       },
       {{"a", {1, 10}}, {"b", {1, 2, 3}}},
       {{"y", {{2, 3, 1, 1}, {1, 2, 3, 10, 20, 30}}}}},
      {"matmul_relu",
       [](GraphBuilder& b) {
         b.Output("y", b.MatMul(In(b, "a", {1, 2}), In(b, "b", {2, 2}), Activation::kRelu));
       },
       {{"a", {1, -2}}, {"b", {1, 1, 1, -1}}},
       {{"y", {{1, 2}, {0, 3}}}}},
      {"matmul_sigmoid_tanh",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {1, 1}), w = In(b, "b", {1, 2});
         b.Output("s", b.MatMul(a, w, Activation::kSigmoid));
         b.Output("t", b.MatMul(a, w, Activation::kTanh));
       },
       {{"a", {0.5}}, {"b", {1, -2}}},
       {{"s", {{1, 2}, {Sigmoid(0.5), Sigmoid(-1)}}},
        {"t", {{1, 2}, {std::tanh(0.5), std::tanh(-1.0)}}}}},
      {"conv2d_same_3x3_ones",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 1, 3, 3}), In(b, "w", {1, 1, 3, 3}),
                                {.padding = Padding::kSame}));
       },
       {{"x", grid}, {"w", std::vector<double>(9, 1.0)}},
       {{"y", {{1, 1, 3, 3}, {12, 21, 16, 27, 45, 33, 24, 39, 28}}}}},
      {"conv2d_is_cross_correlation",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 1, 3, 3}), In(b, "w", {1, 1, 3, 3}),
                                {.padding = Padding::kSame}));
       },
       {{"x", grid}, {"w", {0, 0, 0, 0, 0, 1, 0, 0, 0}}},
       {{"y", {{1, 1, 3, 3}, {2, 3, 0, 5, 6, 0, 8, 9, 0}}}}},
      {"conv2d_is_cross_correlation_vertically",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 1, 3, 3}), In(b, "w", {1, 1, 3, 3}),
                                {.padding = Padding::kSame}));
       },
       {{"x", grid}, {"w", {0, 1, 0, 0, 0, 0, 0, 0, 0}}},
       {{"y", {{1, 1, 3, 3}, {0, 0, 0, 1, 2, 3, 4, 5, 6}}}}},
      {"conv2d_groups_2",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 2, 2, 2}), In(b, "w", {4, 1, 1, 1}), {.groups = 2}));
       },
       {{"x", Iota(8)}, {"w", {1, 2, 3, 4}}},
       {{"y", {{1, 4, 2, 2}, {1, 2, 3, 4, 2, 4, 6, 8, 15, 18, 21, 24, 20, 24, 28, 32}}}}},
      {"conv2d_stride_2",
       [](GraphBuilder& b) {
         b.Output("y",
                  b.Conv2d(In(b, "x", {1, 1, 4, 4}), In(b, "w", {1, 1, 2, 2}), {.stride = {2, 2}}));
       },
       {{"x", Iota(16)}, {"w", {1, 1, 1, 1}}},
       {{"y", {{1, 1, 2, 2}, {14, 22, 46, 54}}}}},
      {"conv2d_dilation_2",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 1, 3, 3}), In(b, "w", {1, 1, 2, 2}),
                                {.dilation = {2, 2}}));
       },
       {{"x", grid}, {"w", {1, 1, 1, 1}}},
       {{"y", {{1, 1, 1, 1}, {20}}}}},
      {"conv2d_explicit_pads",
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(In(b, "x", {1, 1, 2, 2}), In(b, "w", {1, 1, 1, 1}),
                                {.pads = {1, 0, 0, 1}}));
       },
       {{"x", {1, 2, 3, 4}}, {"w", {1}}},
       {{"y", {{1, 1, 3, 3}, {0, 0, 0, 1, 2, 0, 3, 4, 0}}}}},
      {"conv2d_channels_and_relu",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 2, 1, 1}), w = In(b, "w", {3, 2, 1, 1});
         b.Output("y", b.Conv2d(x, w));
         b.Output("r", b.Conv2d(x, w, {.activation = Activation::kRelu}));
       },
       {{"x", {1, 2, 3, 4}}, {"w", {1, 1, 1, -1, 2, 0}}},
       {{"y", {{2, 3, 1, 1}, {3, -1, 2, 7, -1, 6}}}, {"r", {{2, 3, 1, 1}, {3, 0, 2, 7, 0, 6}}}}},
      {"ewadd_ewmul_scalar_mul_relu",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 2}), z = In(b, "z", {2, 2}), s = In(b, "s", {});
         b.Output("add", b.EwAdd(x, z));
         b.Output("mul", b.EwMul(x, z));
         b.Output("smul", b.ScalarMul(x, s));
         b.Output("relu", b.Relu(z));
       },
       {{"x", {1, 2, 3, 4}}, {"z", {-1, 0, 2, -0.5}}, {"s", {2.5}}},
       {{"add", {{2, 2}, {0, 2, 5, 3.5}}},
        {"mul", {{2, 2}, {-1, 0, 6, -2}}},
        {"smul", {{2, 2}, {2.5, 5, 7.5, 10}}},
        {"relu", {{2, 2}, {0, 0, 2, 0}}}}},
      {"avgpool_same_count_include_pad_0_and_1",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {1, 1, 3, 3});
         b.Output("exclude", b.AvgPool2d(x, {.kernel = {3, 3}, .padding = Padding::kSame}));
         b.Output("include",
                  b.AvgPool2d(
                      x, {.kernel = {3, 3}, .padding = Padding::kSame, .count_include_pad = true}));
       },
       {{"x", grid}},
       {{"exclude", {{1, 1, 3, 3}, {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}}},
        {"include",
         {{1, 1, 3, 3},
          {12. / 9, 21. / 9, 16. / 9, 27. / 9, 5, 33. / 9, 24. / 9, 39. / 9, 28. / 9}}}}},
      {"avgpool_stride_2",
       [](GraphBuilder& b) {
         b.Output("y", b.AvgPool2d(In(b, "x", {1, 1, 4, 4}), {.kernel = {2, 2}, .stride = {2, 2}}));
       },
       {{"x", Iota(16)}},
       {{"y", {{1, 1, 2, 2}, {3.5, 5.5, 11.5, 13.5}}}}},
      {"maxpool_padding_never_wins",
       [](GraphBuilder& b) {
         b.Output("y",
                  b.MaxPool2d(In(b, "x", {1, 1, 2, 2}), {.kernel = {3, 3}, .pads = {1, 1, 1, 1}}));
       },
       {{"x", {-1, -2, -3, -4}}},
       {{"y", {{1, 1, 2, 2}, {-1, -1, -1, -1}}}}},
      {"maxpool_stride_2",
       [](GraphBuilder& b) {
         b.Output("y", b.MaxPool2d(In(b, "x", {1, 1, 4, 4}), {.kernel = {2, 2}, .stride = {2, 2}}));
       },
       {{"x", Iota(16)}},
       {{"y", {{1, 1, 2, 2}, {6, 8, 14, 16}}}}},
      {"concat_axis_0_and_1",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {2, 1}), c = In(b, "c", {2, 2});
         b.Output("y1", b.Concat({a, c}, 1));
         b.Output("y0", b.Concat({c, b.Transpose(a, {1, 0})}, 0));
       },
       {{"a", {1, 2}}, {"c", {3, 4, 5, 6}}},
       {{"y1", {{2, 3}, {1, 3, 4, 2, 5, 6}}}, {"y0", {{3, 2}, {3, 4, 5, 6, 1, 2}}}}},
      {"split_axis_1",
       [](GraphBuilder& b) {
         std::vector<Value> parts = b.Split(In(b, "x", {2, 3}), -1, {1, 2});
         b.Output("y0", parts[0]);
         b.Output("y1", parts[1]);
       },
       {{"x", Iota(6)}},
       {{"y0", {{2, 1}, {1, 4}}}, {"y1", {{2, 2}, {2, 3, 5, 6}}}}},
      {"transpose_rank_3",
       [](GraphBuilder& b) {
         b.Output("y", b.Transpose(In(b, "x", {2, 3, 4}), {2, 0, 1}));
       },
       {{"x", Iota(24, 0)}},
       {{"y", {{4, 2, 3}, TransposedIota()}}}},
      {"enlarge_1x1_and_1x3_to_3x3",
       [](GraphBuilder& b) {
         b.Output("y", b.Enlarge(In(b, "w", {2, 1, 1, 1}), {3, 3}));
         b.Output("z", b.Enlarge(In(b, "v", {1, 1, 1, 3}), {3, 3}));
       },
       {{"w", {5, 7}}, {"v", {1, 2, 3}}},
       {{"y", {{2, 1, 3, 3}, {0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0}}},
        {"z", {{1, 1, 3, 3}, {0, 0, 0, 1, 2, 3, 0, 0, 0}}}}},
      {"const_ops",
       [](GraphBuilder& b) {
         b.Output("pool", b.ConstPool(2, {1, 3}, kF));
         b.Output("iconv", b.ConstIdentityConv(2, {3, 3}, kF));
         b.Output("iconv13", b.ConstIdentityConv(1, {1, 3}, kF));
         b.Output("imm", b.ConstIdentityMatrix(3, kF));
         b.Output("ones", b.ConstOnes({2, 3}, kF));
       },
       {},
       {{"pool", {{2, 1, 1, 3}, std::vector<double>(6, third)}},
        {"iconv", {{2, 2, 3, 3}, IdentityConv2x3x3()}},
        {"iconv13", {{1, 1, 1, 3}, {0, 1, 0}}},
        {"imm", {{3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1}}},
        {"ones", {{2, 3}, std::vector<double>(6, 1.0)}}}},
      {"sigmoid_tanh_gelu",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {3});
         b.Output("sigmoid", b.Sigmoid(x));
         b.Output("tanh", b.Tanh(x));
         b.Output("gelu", b.Gelu(x));
       },
       {{"x", {0, 1, -1}}},
       {{"sigmoid", {{3}, {0.5, Sigmoid(1), Sigmoid(-1)}}},
        {"tanh", {{3}, {0, std::tanh(1.0), -std::tanh(1.0)}}},
        {"gelu", {{3}, {0, 0.8413447460685429, -0.15865525393145707}}}}},
      {"batchnorm",
       [](GraphBuilder& b) {
         b.Output("y", b.BatchNorm(In(b, "x", {1, 2, 1, 2}), In(b, "scale", {2}),
                                   In(b, "bias", {2}), In(b, "mean", {2}), In(b, "var", {2}), 0.0));
       },
       {{"x", {1, 2, 3, 4}},
        {"scale", {2, 1}},
        {"bias", {0, 1}},
        {"mean", {1, 3}},
        {"var", {4, 1}}},
       {{"y", {{1, 2, 1, 2}, {0, 1, 1, 2}}}}},
      {"batchnorm_epsilon",
       [](GraphBuilder& b) {
         b.Output("y", b.BatchNorm(In(b, "x", {1, 1}), In(b, "scale", {1}), In(b, "bias", {1}),
                                   In(b, "mean", {1}), In(b, "var", {1}), 1.0));
       },
       {{"x", {2}}, {"scale", {1}}, {"bias", {0}}, {"mean", {0}}, {"var", {3}}},
       {{"y", {{1, 1}, {1}}}}},
      {"softmax_last_axis_and_axis_0",
       [](GraphBuilder& b) {
         b.Output("y", b.Softmax(In(b, "x", {2, 3})));
         b.Output("z", b.Softmax(In(b, "v", {2, 1}), 0));
       },
       {{"x", {0, std::log(2.0), std::log(3.0), 1000, 1000, 1000}}, {"v", {0, std::log(3.0)}}},
       {{"y", {{2, 3}, {1. / 6, 2. / 6, 3. / 6, third, third, third}}},
        {"z", {{2, 1}, {0.25, 0.75}}}}},
      {"reshape_with_minus_one",
       [](GraphBuilder& b) {
         b.Output("y", b.Reshape(In(b, "x", {2, 3}), {3, -1}));
       },
       {{"x", Iota(6)}},
       {{"y", {{3, 2}, Iota(6)}}}},
      {"broadcast_add_mul",
       [](GraphBuilder& b) {
         b.Output("add", b.BroadcastAdd(In(b, "a", {2, 1}), In(b, "c", {3})));
         b.Output("mul", b.BroadcastMul(In(b, "x", {2, 3}), In(b, "r", {1, 3})));
         b.Output("scalar", b.BroadcastMul(In(b, "s", {}), In(b, "v", {2})));
       },
       {{"a", {1, 2}},
        {"c", {10, 20, 30}},
        {"x", Iota(6)},
        {"r", {1, 0, -1}},
        {"s", {3}},
        {"v", {1, 2}}},
       {{"add", {{2, 3}, {11, 21, 31, 12, 22, 32}}},
        {"mul", {{2, 3}, {1, 0, -3, 4, 0, -6}}},
        {"scalar", {{2}, {3, 6}}}}},
      {"broadcast_sub_div",
       [](GraphBuilder& b) {
         b.Output("sub", b.BroadcastSub(In(b, "a", {2, 1}), In(b, "c", {3})));
         b.Output("div", b.BroadcastDiv(In(b, "x", {2, 2}), In(b, "d", {2})));
       },
       {{"a", {1, 2}}, {"c", {10, 20, 30}}, {"x", {1, 3, 6, -8}}, {"d", {2, 4}}},
       {{"sub", {{2, 3}, {-9, -19, -29, -8, -18, -28}}},
        {"div", {{2, 2}, {0.5, 0.75, 3, -2}}}}},
      {"layernorm_last_axis",
       [](GraphBuilder& b) {
         b.Output("y", b.LayerNorm(In(b, "x", {2, 2}), In(b, "scale", {2}), In(b, "bias", {2}), -1,
                                   0.0));
       },
       {{"x", {1, 3, 0, 4}}, {"scale", {2, 3}}, {"bias", {1, -1}}},
       {{"y", {{2, 2}, {-1, 2, -1, 2}}}}},
      {"pad_constant",
       [](GraphBuilder& b) {
         b.Output("y", b.Pad(In(b, "x", {2, 2}), {1, 0, 0, 2}, 9));
       },
       {{"x", {1, 2, 3, 4}}},
       {{"y", {{3, 4}, {9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9}}}}},
      {"slice_with_step_and_two_axes",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 5});
         b.Output("step", b.Slice(x, {1}, {0}, {5}, {2}));
         b.Output("box", b.Slice(x, {0, -1}, {1, 1}, {2, 4}));
       },
       {{"x", Iota(10, 0)}},
       {{"step", {{2, 3}, {0, 2, 4, 5, 7, 9}}}, {"box", {{1, 3}, {6, 7, 8}}}}},
      {"reduces",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 3});
         b.Output("sum_keep", b.ReduceSum(x, {1}));
         b.Output("sum_drop", b.ReduceSum(x, {1}, false));
         b.Output("sum_all", b.ReduceSum(x, {0, 1}, false));
         b.Output("mean_0", b.ReduceMean(x, {0}));
         b.Output("max_last", b.ReduceMax(x, {-1}, false));
         b.Output("max_neg", b.ReduceMax(b.ScalarMul(x, In(b, "m", {})), {0, 1}));
       },
       {{"x", Iota(6)}, {"m", {-1}}},
       {{"sum_keep", {{2, 1}, {6, 15}}},
        {"sum_drop", {{2}, {6, 15}}},
        {"sum_all", {{}, {21}}},
        {"mean_0", {{1, 3}, {2.5, 3.5, 4.5}}},
        {"max_last", {{2}, {3, 6}}},
        {"max_neg", {{1, 1}, {-1}}}}},
      {"values_reused_after_others_are_freed",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2});
         Value r = b.Relu(x);
         Value s = b.EwAdd(r, x);
         b.Output("r", r);
         b.Output("y", b.EwMul(b.EwMul(s, s), r));
         b.Output("x_again", x);
       },
       {{"x", {-2, 3}}},
       {{"r", {{2}, {0, 3}}}, {"y", {{2}, {0, 108}}}, {"x_again", {{2}, {-2, 3}}}}},
  };
}

void PrintTo(const HandCase& c, std::ostream* os) { *os << c.name; }

class HandComputedTest : public ::testing::TestWithParam<HandCase> {};

TEST_P(HandComputedTest, MatchesHandComputedValues) {
  const HandCase& c = GetParam();
  GraphBuilder b(c.name);
  c.build(b);
  const Graph g = BuildGraph(b);
  NamedTensors<F64> feeds;
  for (const auto& [name, values] : c.feeds) {
    std::optional<ValueId> v = g.FindValue(name);
    ASSERT_TRUE(v.has_value()) << name;
    ASSERT_EQ(g.type(*v).num_elements(), static_cast<int64_t>(values.size())) << name;
    feeds.emplace(name, Literal<F64>(g.type(*v), values));
  }
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, feeds);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), c.outputs.size());
  for (const auto& [name, want] : c.outputs) {
    auto it = out->find(name);
    ASSERT_NE(it, out->end()) << name;
    EXPECT_EQ(it->second.type.dims, want.dims) << name;
    ExpectNear(AsDoubles<F64>(it->second), want.values, 1e-12, name);
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, HandComputedTest, ::testing::ValuesIn(HandCases()),
                         [](const ::testing::TestParamInfo<HandCase>& info) {
                           return info.param.name;
                         });

// ---- Properties of the normalizing ops.

TEST(NormalizationTest, SoftmaxSumsToOneAlongItsAxis) {
  GraphBuilder b;
  b.Output("y", b.Softmax(In(b, "x", {3, 4, 5}), 1));
  const Graph g = BuildGraph(b);
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, RandomFeeds<F64>(g, 3));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const std::vector<double> y = AsDoubles<F64>(out->at("y"));
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 5; ++k) {
      double sum = 0;
      for (int j = 0; j < 4; ++j) sum += y[static_cast<size_t>((i * 4 + j) * 5 + k)];
      EXPECT_NEAR(sum, 1.0, 1e-12);
    }
  }
}

TEST(NormalizationTest, LayerNormGivesMeanZeroVarianceOne) {
  GraphBuilder b;
  Value x = In(b, "x", {3, 2, 4});
  b.Output("y", b.LayerNorm(x, b.ConstOnes({2, 4}, kF), b.ConstOnes({2, 4}, kF), 1, 0.0));
  const Graph g = BuildGraph(b);
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, RandomFeeds<F64>(g, 4));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  const std::vector<double> y = AsDoubles<F64>(out->at("y"));
  for (int row = 0; row < 3; ++row) {
    double sum = 0, squares = 0;
    for (int j = 0; j < 8; ++j) {
      const double v = y[static_cast<size_t>(row * 8 + j)] - 1;  // bias is 1
      sum += v;
      squares += v * v;
    }
    EXPECT_NEAR(sum / 8, 0.0, 1e-12);
    EXPECT_NEAR(squares / 8, 1.0, 1e-12);
  }
}

// ---- Every op has a kernel and evaluates in every domain.

using BuildFn = std::function<void(GraphBuilder&)>;

// One tiny graph per op, output "y" (and "y1" for split).
const std::map<OpKind, BuildFn>& TinyGraphs() {
  constexpr DType f = DType::kF32;
  static const auto* graphs = new std::map<OpKind, BuildFn>{
      {OpKind::kInput,
       [](GraphBuilder& b) {
         b.Output("y", b.Input("x", f, {2, 3}));
       }},
      {OpKind::kWeight,
       [](GraphBuilder& b) {
         b.Output("y", b.Weight("w", f, {2, 3}));
       }},
      {OpKind::kMatMul,
       [](GraphBuilder& b) {
         b.Output("y", b.Dense(b.Input("x", f, {2, 2, 3}), 4, Activation::kRelu));
       }},
      {OpKind::kConv2d,
       [](GraphBuilder& b) {
         b.Output("y", b.Conv2d(b.Input("x", f, {1, 2, 5, 5}), 4, {3, 3},
                                {.stride = {2, 1},
                                 .padding = Padding::kSame,
                                 .groups = 2,
                                 .activation = Activation::kTanh}));
       }},
      {OpKind::kEwAdd,
       [](GraphBuilder& b) {
         b.Output("y", b.EwAdd(b.Input("a", f, {2, 3}), b.Input("c", f, {2, 3})));
       }},
      {OpKind::kEwMul,
       [](GraphBuilder& b) {
         b.Output("y", b.EwMul(b.Input("a", f, {2, 3}), b.Input("c", f, {2, 3})));
       }},
      {OpKind::kScalarMul,
       [](GraphBuilder& b) {
         b.Output("y", b.ScalarMul(b.Input("a", f, {2, 3}), b.Input("s", f, {})));
       }},
      {OpKind::kRelu, [](GraphBuilder& b) { b.Output("y", b.Relu(b.Input("x", f, {5}))); }},
      {OpKind::kAvgPool2d,
       [](GraphBuilder& b) {
         b.Output("y", b.AvgPool2d(b.Input("x", f, {1, 2, 4, 4}),
                                   {.kernel = {3, 3}, .stride = {2, 2}, .pads = {1, 1, 0, 1}}));
       }},
      {OpKind::kMaxPool2d,
       [](GraphBuilder& b) {
         b.Output("y", b.MaxPool2d(b.Input("x", f, {1, 2, 4, 4}),
                                   {.kernel = {3, 3}, .padding = Padding::kSame}));
       }},
      {OpKind::kConcat,
       [](GraphBuilder& b) {
         b.Output("y", b.Concat({b.Input("a", f, {2, 3}), b.Input("c", f, {2, 1})}, 1));
       }},
      {OpKind::kSplit,
       [](GraphBuilder& b) {
         std::vector<Value> parts = b.Split(b.Input("x", f, {4, 3}), 0, {1, 3});
         b.Output("y", parts[0]);
         b.Output("y1", parts[1]);
       }},
      {OpKind::kTranspose,
       [](GraphBuilder& b) {
         b.Output("y", b.Transpose(b.Input("x", f, {2, 3, 4}), {1, 2, 0}));
       }},
      {OpKind::kEnlarge,
       [](GraphBuilder& b) {
         b.Output("y", b.Enlarge(b.Weight("w", f, {2, 2, 1, 3}), {3, 5}));
       }},
      {OpKind::kConstPool,
       [](GraphBuilder& b) {
         b.Output("y", b.ConstPool(2, {3, 3}));
       }},
      {OpKind::kConstIdentityConv,
       [](GraphBuilder& b) {
         b.Output("y", b.ConstIdentityConv(2, {3, 1}));
       }},
      {OpKind::kConstIdentityMatrix,
       [](GraphBuilder& b) { b.Output("y", b.ConstIdentityMatrix(3)); }},
      {OpKind::kConstOnes,
       [](GraphBuilder& b) {
         b.Output("y", b.ConstOnes({2, 2}));
       }},
      {OpKind::kSigmoid, [](GraphBuilder& b) { b.Output("y", b.Sigmoid(b.Input("x", f, {5}))); }},
      {OpKind::kTanh, [](GraphBuilder& b) { b.Output("y", b.Tanh(b.Input("x", f, {5}))); }},
      {OpKind::kGelu, [](GraphBuilder& b) { b.Output("y", b.Gelu(b.Input("x", f, {5}))); }},
      {OpKind::kBatchNorm,
       [](GraphBuilder& b) {
         b.Output("y", b.BatchNorm(b.Input("x", f, {2, 3, 2}), b.Weight("scale", f, {3}),
                                   b.Weight("bias", f, {3}), b.Weight("mean", f, {3}),
                                   b.ReduceSum(b.ConstOnes({3, 2}), {1}, false)));
       }},
      {OpKind::kSoftmax,
       [](GraphBuilder& b) {
         b.Output("y", b.Softmax(b.Input("x", f, {2, 3}), 0));
       }},
      {OpKind::kReshape,
       [](GraphBuilder& b) {
         b.Output("y", b.Reshape(b.Input("x", f, {2, 3, 2}), {-1, 4}));
       }},
      {OpKind::kBroadcastAdd,
       [](GraphBuilder& b) {
         b.Output("y", b.BroadcastAdd(b.Input("a", f, {2, 1, 3}), b.Input("c", f, {4, 1})));
       }},
      {OpKind::kBroadcastMul,
       [](GraphBuilder& b) {
         b.Output("y", b.BroadcastMul(b.Input("a", f, {3}), b.Input("c", f, {2, 3})));
       }},
      {OpKind::kBroadcastSub,
       [](GraphBuilder& b) {
         b.Output("y", b.BroadcastSub(b.Input("a", f, {3}), b.Input("c", f, {2, 3})));
       }},
      {OpKind::kBroadcastDiv,
       [](GraphBuilder& b) {
         b.Output("y", b.BroadcastDiv(b.Input("a", f, {2, 3}),
                                      b.BroadcastAdd(b.ConstOnes({3}), b.ConstOnes({3}))));
       }},
      {OpKind::kLayerNorm,
       [](GraphBuilder& b) {
         b.Output("y", b.LayerNorm(b.Input("x", f, {2, 4}), b.Weight("scale", f, {4}),
                                   b.Weight("bias", f, {4})));
       }},
      {OpKind::kPad,
       [](GraphBuilder& b) {
         b.Output("y", b.Pad(b.Input("x", f, {2, 3}), {0, 1, 2, 0}, -2.0));
       }},
      {OpKind::kSlice,
       [](GraphBuilder& b) {
         b.Output("y", b.Slice(b.Input("x", f, {4, 5}), {1, 0}, {1, 1}, {5, 4}, {3, 2}));
       }},
      {OpKind::kReduceSum,
       [](GraphBuilder& b) {
         b.Output("y", b.ReduceSum(b.Input("x", f, {2, 3, 4}), {0, 2}));
       }},
      {OpKind::kReduceMean,
       [](GraphBuilder& b) {
         b.Output("y", b.ReduceMean(b.Input("x", f, {2, 3, 4}), {1}, false));
       }},
      {OpKind::kReduceMax,
       [](GraphBuilder& b) {
         b.Output("y", b.ReduceMax(b.Input("x", f, {2, 3, 4}), {-1}));
       }},
  };
  return *graphs;
}

std::vector<OpKind> AllOpKinds() {
  std::vector<OpKind> kinds;
  for (const OpInfo& info : AllOps()) kinds.push_back(info.kind);
  return kinds;
}

template <typename A>
NamedTensors<A> EvaluatesIn(const Graph& g) {
  absl::StatusOr<NamedTensors<A>> out = Evaluate<A>(g, RandomFeeds<A>(g, 11));
  EXPECT_TRUE(out.ok()) << A::kName << ": " << out.status().ToString();
  if (!out.ok()) return {};
  for (const GraphOutput& o : g.outputs()) {
    EXPECT_EQ(out->at(o.name).type, g.type(o.value)) << A::kName << " " << o.name;
  }
  return *std::move(out);
}

class EveryOpTest : public ::testing::TestWithParam<OpKind> {};

TEST_P(EveryOpTest, HasAKernelAndEvaluatesInEveryDomain) {
  const OpKind op = GetParam();
  EXPECT_TRUE(HasReferenceKernel(op));
  auto it = TinyGraphs().find(op);
  ASSERT_NE(it, TinyGraphs().end()) << "no tiny graph for " << OpName(op);
  GraphBuilder b(std::string(OpName(op)));
  it->second(b);
  const Graph g = BuildGraph(b);
  bool uses_op = false;
  for (const Node& n : g.nodes()) uses_op = uses_op || n.op == op;
  EXPECT_TRUE(uses_op);

  const NamedTensors<F64> f64 = EvaluatesIn<F64>(g);
  const NamedTensors<F32> f32 = EvaluatesIn<F32>(g);
  EvaluatesIn<ModP>(g);
  ASSERT_EQ(f64.size(), f32.size());
  for (const auto& [name, t] : f64) {
    std::vector<double> single = AsDoubles<F32>(f32.at(name));
    ExpectNear(single, AsDoubles<F64>(t), 1e-4, name);  // same meaning, rounded to float
  }
}

INSTANTIATE_TEST_SUITE_P(AllOps, EveryOpTest, ::testing::ValuesIn(AllOpKinds()),
                         [](const ::testing::TestParamInfo<OpKind>& info) {
                           return std::string(OpName(info.param));
                         });

TEST(KernelTableTest, HasAnEntryForEveryOp) {
  for (const OpInfo& info : AllOps()) EXPECT_TRUE(HasReferenceKernel(info.kind)) << info.name;
}

// ---- Errors are statuses, never crashes.

Graph SmallGraph() {
  GraphBuilder b("small");
  Value x = b.Input("x", DType::kF32, {2, 3});
  b.Output("y", b.Relu(b.EwAdd(x, b.Weight("w", DType::kF32, {2, 3}))));
  return BuildGraph(b);
}

TEST(ErrorTest, MissingFeedIsNamed) {
  const Graph g = SmallGraph();
  NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  feeds.erase("w");
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, feeds);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().ToString(), HasSubstr("no feed for weight 'w'"));
}

TEST(ErrorTest, FeedOfWrongShapeIsNamed) {
  const Graph g = SmallGraph();
  NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  feeds["x"] = RandomTensor<F64>(TensorType::Make(DType::kF32, {3, 2}), 5);
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, feeds);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().ToString(), HasSubstr("feed 'x' has dims [3,2]"));
}

TEST(ErrorTest, FeedWithTooFewElementsIsRefused) {
  const Graph g = SmallGraph();
  NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  feeds["x"].data.pop_back();
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, feeds);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().ToString(), HasSubstr("feed 'x' holds 5 elements"));
}

TEST(ErrorTest, ExtraFeedIsNamed) {
  const Graph g = SmallGraph();
  NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  feeds.emplace("stray", RandomTensor<F64>(TensorType::Make(DType::kF32, {1}), 5));
  absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(g, feeds);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().ToString(), HasSubstr("feed 'stray' names no input or weight"));
}

TEST(ErrorTest, FractionalPadValueInModPIsAnError) {
  GraphBuilder b;
  b.Output("y", b.Pad(b.Input("x", DType::kF32, {2}), {1, 1}, 0.5));
  const Graph g = BuildGraph(b);
  absl::StatusOr<NamedTensors<ModP>> out = Evaluate<ModP>(g, RandomFeeds<ModP>(g, 1));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out.status().ToString(), HasSubstr("pad value"));
  EXPECT_THAT(out.status().ToString(), HasSubstr("not an integer"));
  EXPECT_TRUE(Evaluate<F64>(g, RandomFeeds<F64>(g, 1)).ok());
}

TEST(ErrorTest, ReduceOverAnEmptyAxisIsRefusedByShapeInference) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2, 0});
  b.Output("mean", b.ReduceMean(x, {1}));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_FALSE(g.ok());
  EXPECT_THAT(g.status().ToString(), HasSubstr("reduce_mean: reduces the empty axis 1"));
}

TEST(ErrorTest, EvaluateNodeChecksItsInputs) {
  const Graph g = SmallGraph();
  const NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  const NodeId add = g.num_nodes() - 2;
  ASSERT_EQ(g.node(add).op, OpKind::kEwAdd);
  const Tensor<double>* one[] = {&feeds.at("x")};
  absl::StatusOr<std::vector<Tensor<double>>> out = EvaluateNode<F64>(g, add, one);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(out.status().ToString(), HasSubstr("takes 2 input(s), got 1"));

  const Tensor<double>* missing[] = {&feeds.at("x"), nullptr};
  EXPECT_THAT(EvaluateNode<F64>(g, add, missing).status().ToString(),
              HasSubstr("input 1 is missing"));

  const Tensor<double> wrong = RandomTensor<F64>(TensorType::Make(DType::kF32, {3, 2}), 1);
  const Tensor<double>* mismatched[] = {&feeds.at("x"), &wrong};
  EXPECT_THAT(EvaluateNode<F64>(g, add, mismatched).status().ToString(),
              HasSubstr("input 1 has dims [3,2]"));

  const std::span<const Tensor<double>* const> none;
  EXPECT_THAT(EvaluateNode<F64>(g, 0, none).status().ToString(), HasSubstr("fed, not computed"));
  EXPECT_FALSE(EvaluateNode<F64>(g, 99, none).ok());
}

TEST(EvaluateNodeTest, ComputesOneNode) {
  const Graph g = SmallGraph();
  const NamedTensors<F64> feeds = RandomFeeds<F64>(g, 1);
  const Tensor<double>* args[] = {&feeds.at("x"), &feeds.at("w")};
  absl::StatusOr<std::vector<Tensor<double>>> out = EvaluateNode<F64>(g, g.num_nodes() - 2, args);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ((*out)[0].data[i], feeds.at("x").data[i] + feeds.at("w").data[i]);
  }
}

TEST(EvaluateTest, DeadNodesDoNotRun) {
  GraphBuilder b;
  Value x = b.Input("x", DType::kF32, {2});
  b.Pad(x, {1, 1}, 0.5);  // would fail in ModP, but nothing uses it
  b.Output("y", b.Relu(x));
  const Graph g = BuildGraph(b);
  EXPECT_TRUE(Evaluate<ModP>(g, RandomFeeds<ModP>(g, 1)).ok());
}

}  // namespace
}  // namespace lemma
