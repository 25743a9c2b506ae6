// Algebraic identities checked on random inputs: within a tolerance in F64,
// exactly in ModP. Each case is one graph whose outputs come in pairs
// "l_<k>" / "r_<k>": the two sides of an identity.

#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "tests/kernels/test_util.h"

namespace lemma {
namespace {

using kernels_test::AsDoubles;
using kernels_test::BuildGraph;
using kernels_test::ExpectNear;

constexpr DType kF = DType::kF32;

struct Case {
  std::string name;
  std::function<void(GraphBuilder&)> build;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

Value In(GraphBuilder& b, const std::string& name, Dims dims) {
  return b.Input(name, kF, std::move(dims));
}

void Pair(GraphBuilder& b, int k, Value lhs, Value rhs) {
  b.Output("l_" + std::to_string(k), lhs);
  b.Output("r_" + std::to_string(k), rhs);
}

const Conv2dOptions kSame = {.padding = Padding::kSame};

std::vector<Case> Identities() {
  return {
      {"matmul_associative",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 4}), m = In(b, "m", {4, 5}), c = In(b, "c", {5, 2});
         Pair(b, 0, b.MatMul(b.MatMul(a, m), c), b.MatMul(a, b.MatMul(m, c)));
       }},
      {"matmul_associative_batched",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {2, 3, 4}), m = In(b, "m", {4, 5}), c = In(b, "c", {2, 5, 2});
         Pair(b, 0, b.MatMul(b.MatMul(a, m), c), b.MatMul(a, b.MatMul(m, c)));
       }},
      {"matmul_distributes_over_ewadd",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 4}), m = In(b, "m", {4, 5}), c = In(b, "c", {4, 5});
         Pair(b, 0, b.MatMul(a, b.EwAdd(m, c)), b.EwAdd(b.MatMul(a, m), b.MatMul(a, c)));
       }},
      {"matmul_with_identity_matrix",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 4});
         Pair(b, 0, b.MatMul(a, b.ConstIdentityMatrix(4)), a);
       }},
      {"conv_linear_in_input",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {1, 3, 5, 5}), z = In(b, "z", {1, 3, 5, 5});
         Value w = In(b, "w", {4, 3, 3, 3});
         Pair(b, 0, b.Conv2d(b.EwAdd(x, z), w, kSame),
              b.EwAdd(b.Conv2d(x, w, kSame), b.Conv2d(z, w, kSame)));
       }},
      {"conv_linear_in_weight_grouped_strided_dilated",
       [](GraphBuilder& b) {
         const Conv2dOptions o = {
             .stride = {2, 2}, .pads = {1, 1, 0, 0}, .dilation = {2, 1}, .groups = 2};
         Value x = In(b, "x", {2, 4, 6, 6});
         Value w = In(b, "w", {6, 2, 3, 3}), v = In(b, "v", {6, 2, 3, 3});
         Pair(b, 0, b.Conv2d(x, b.EwAdd(w, v), o), b.EwAdd(b.Conv2d(x, w, o), b.Conv2d(x, v, o)));
       }},
      {"conv_commutes_with_scalar_mul",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {1, 3, 5, 5}), w = In(b, "w", {4, 3, 3, 3}), s = In(b, "s", {});
         Pair(b, 0, b.Conv2d(b.ScalarMul(x, s), w, kSame), b.ScalarMul(b.Conv2d(x, w, kSame), s));
       }},
      {"conv_with_enlarged_kernel",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 3, 5, 6});
         Value w = In(b, "w", {4, 3, 1, 1}), v = In(b, "v", {4, 3, 1, 3});
         Pair(b, 0, b.Conv2d(x, b.Enlarge(w, {3, 3}), kSame), b.Conv2d(x, w));
         Pair(b, 1, b.Conv2d(x, b.Enlarge(v, {3, 3}), kSame),
              b.Conv2d(x, v, {.pads = {0, 1, 0, 1}}));
       }},
      {"conv_with_identity_kernel",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 3, 4, 5});
         Pair(b, 0, b.Conv2d(x, b.ConstIdentityConv(3, {3, 3}), kSame), x);
         Pair(b, 1, b.Conv2d(x, b.ConstIdentityConv(3, {1, 3}), kSame), x);
       }},
      {"depthwise_conv_with_const_pool_is_avgpool",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 3, 5, 4});
         Pair(b, 0, b.Conv2d(x, b.ConstPool(3, {3, 3}), {.padding = Padding::kSame, .groups = 3}),
              b.AvgPool2d(
                  x, {.kernel = {3, 3}, .padding = Padding::kSame, .count_include_pad = true}));
       }},
      {"concat_then_split",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {2, 3, 4}), c = In(b, "c", {2, 5, 4});
         std::vector<Value> parts = b.Split(b.Concat({a, c}, 1), 1, {3, 5});
         Pair(b, 0, parts[0], a);
         Pair(b, 1, parts[1], c);
       }},
      {"split_then_concat",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 6, 3});
         Pair(b, 0, b.Concat(b.Split(x, 1, {2, 4}), 1), x);
         Pair(b, 1, b.Concat(b.Split(x, -1, {1, 0, 2}), -1), x);
       }},
      {"transpose_twice",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {2, 3, 4});
         Pair(b, 0, b.Transpose(b.Transpose(x, {1, 2, 0}), {2, 0, 1}), x);
       }},
      {"relu_commutes_with_concat",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {2, 3}), c = In(b, "c", {2, 2});
         Pair(b, 0, b.Relu(b.Concat({a, c}, 1)), b.Concat({b.Relu(a), b.Relu(c)}, 1));
       }},
      {"relu_commutes_with_split",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {4, 3});
         std::vector<Value> after = b.Split(b.Relu(x), 0, {1, 3});
         std::vector<Value> before = b.Split(x, 0, {1, 3});
         Pair(b, 0, after[0], b.Relu(before[0]));
         Pair(b, 1, after[1], b.Relu(before[1]));
       }},
      {"relu_commutes_with_maxpool",
       [](GraphBuilder& b) {
         const Pool2dOptions p = {.kernel = {3, 3}, .stride = {2, 1}, .padding = Padding::kSame};
         Value x = In(b, "x", {1, 2, 5, 4});
         Pair(b, 0, b.Relu(b.MaxPool2d(x, p)), b.MaxPool2d(b.Relu(x), p));
       }},
      {"relu_idempotent",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {3, 4});
         Pair(b, 0, b.Relu(b.Relu(x)), b.Relu(x));
       }},
      {"maxpool_commutes_with_channel_concat",
       [](GraphBuilder& b) {
         const Pool2dOptions p = {.kernel = {2, 2}, .pads = {1, 0, 0, 1}};
         Value a = In(b, "a", {1, 2, 4, 4}), c = In(b, "c", {1, 1, 4, 4});
         Pair(b, 0, b.MaxPool2d(b.Concat({a, c}, 1), p),
              b.Concat({b.MaxPool2d(a, p), b.MaxPool2d(c, p)}, 1));
       }},
      {"avgpool_linear",
       [](GraphBuilder& b) {
         const Pool2dOptions p = {.kernel = {3, 3}, .padding = Padding::kSame};
         Value a = In(b, "a", {1, 2, 4, 4}), c = In(b, "c", {1, 2, 4, 4});
         Pair(b, 0, b.AvgPool2d(b.EwAdd(a, c), p), b.EwAdd(b.AvgPool2d(a, p), b.AvgPool2d(c, p)));
       }},
      {"scalar_mul_commutes_with_matmul",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 4}), m = In(b, "m", {4, 2}), s = In(b, "s", {});
         Value scaled_product = b.ScalarMul(b.MatMul(a, m), s);
         Pair(b, 0, b.MatMul(b.ScalarMul(a, s), m), scaled_product);
         Pair(b, 1, b.MatMul(a, b.ScalarMul(m, s)), scaled_product);
       }},
      {"matmuls_sharing_an_input_merge",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 4}), w = In(b, "w", {4, 2}), v = In(b, "v", {4, 5});
         std::vector<Value> parts = b.Split(b.MatMul(a, b.Concat({w, v}, 1)), 1, {2, 5});
         Pair(b, 0, b.MatMul(a, w), parts[0]);
         Pair(b, 1, b.MatMul(a, v), parts[1]);
       }},
      {"convs_sharing_an_input_merge",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {1, 3, 5, 5});
         Value w = In(b, "w", {2, 3, 3, 3}), v = In(b, "v", {4, 3, 3, 3});
         std::vector<Value> parts = b.Split(b.Conv2d(x, b.Concat({w, v}, 0), kSame), 1, {2, 4});
         Pair(b, 0, b.Conv2d(x, w, kSame), parts[0]);
         Pair(b, 1, b.Conv2d(x, v, kSame), parts[1]);
       }},
      {"ewmul_distributes_over_ewadd",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {2, 3}), m = In(b, "m", {2, 3}), c = In(b, "c", {2, 3});
         Pair(b, 0, b.EwMul(a, b.EwAdd(m, c)), b.EwAdd(b.EwMul(a, m), b.EwMul(a, c)));
       }},
  };
}

// Statements that are false: each pair must differ somewhere, in every domain.
std::vector<Case> NonIdentities() {
  return {
      {"relu_is_not_additive",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {4, 4}), c = In(b, "c", {4, 4});
         Pair(b, 0, b.Relu(b.EwAdd(a, c)), b.EwAdd(b.Relu(a), b.Relu(c)));
       }},
      {"matmul_is_not_commutative",
       [](GraphBuilder& b) {
         Value a = In(b, "a", {3, 3}), c = In(b, "c", {3, 3});
         Pair(b, 0, b.MatMul(a, c), b.MatMul(c, a));
       }},
      {"maxpool_is_not_additive",
       [](GraphBuilder& b) {
         const Pool2dOptions p = {.kernel = {2, 2}};
         Value a = In(b, "a", {1, 1, 3, 3}), c = In(b, "c", {1, 1, 3, 3});
         Pair(b, 0, b.MaxPool2d(b.EwAdd(a, c), p), b.EwAdd(b.MaxPool2d(a, p), b.MaxPool2d(c, p)));
       }},
      {"non_linear_functions_differ",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {8});
         Pair(b, 0, b.Sigmoid(x), b.Tanh(x));
         Pair(b, 1, b.Tanh(x), b.Gelu(x));
         Pair(b, 2, b.Gelu(x), b.Sigmoid(x));
         Pair(b, 3, b.Gelu(x), b.Relu(x));
       }},
      {"transpose_is_not_identity",
       [](GraphBuilder& b) {
         Value x = In(b, "x", {3, 3});
         Pair(b, 0, b.Transpose(x, {1, 0}), x);
       }},
  };
}

// The pairs of outputs of evaluating `c` in domain A on random feeds.
template <typename A>
std::vector<std::pair<std::vector<typename A::T>, std::vector<typename A::T>>> Pairs(
    const Case& c, uint64_t seed) {
  GraphBuilder b(c.name);
  c.build(b);
  const Graph g = BuildGraph(b);
  absl::StatusOr<NamedTensors<A>> out = Evaluate<A>(g, RandomFeeds<A>(g, seed));
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  std::vector<std::pair<std::vector<typename A::T>, std::vector<typename A::T>>> pairs;
  if (!out.ok()) return pairs;
  for (const auto& [name, lhs] : *out) {
    if (!name.starts_with("l_")) continue;
    auto rhs = out->find("r_" + name.substr(2));
    EXPECT_NE(rhs, out->end()) << name;
    if (rhs == out->end()) continue;
    EXPECT_EQ(lhs.type.dims, rhs->second.type.dims) << name;
    pairs.emplace_back(ToLogical(lhs), ToLogical(rhs->second));
  }
  EXPECT_FALSE(pairs.empty());
  return pairs;
}

template <typename A>
void ExpectHolds(const Case& c, uint64_t seed) {
  for (const auto& [lhs, rhs] : Pairs<A>(c, seed)) {
    const bool trivial = std::all_of(lhs.begin(), lhs.end(), [](auto v) { return v == 0; });
    EXPECT_FALSE(trivial) << A::kName << ": the identity is checked on zeros only";
    if constexpr (A::kExact) {
      EXPECT_EQ(lhs, rhs) << A::kName;
    } else {
      std::vector<double> l(lhs.begin(), lhs.end()), r(rhs.begin(), rhs.end());
      ExpectNear(l, r, 1e-9, std::string(A::kName));
    }
  }
}

template <typename A>
void ExpectFails(const Case& c, uint64_t seed) {
  for (const auto& [lhs, rhs] : Pairs<A>(c, seed)) {
    double largest = 0;
    for (size_t i = 0; i < lhs.size(); ++i) {
      largest = std::max(largest, std::fabs(A::ToDouble(A::Sub(lhs[i], rhs[i]))));
    }
    EXPECT_GT(largest, 1e-6) << A::kName;
  }
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

class IdentityTest : public ::testing::TestWithParam<Case> {};

TEST_P(IdentityTest, HoldsInF64AndExactlyInModP) {
  for (uint64_t seed : {1, 2}) {
    ExpectHolds<F64>(GetParam(), seed);
    ExpectHolds<ModP>(GetParam(), seed);
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, IdentityTest, ::testing::ValuesIn(Identities()), CaseName);

class NonIdentityTest : public ::testing::TestWithParam<Case> {};

TEST_P(NonIdentityTest, FailsInF64AndInModP) {
  ExpectFails<F64>(GetParam(), 1);
  ExpectFails<ModP>(GetParam(), 1);
}

INSTANTIATE_TEST_SUITE_P(Reference, NonIdentityTest, ::testing::ValuesIn(NonIdentities()),
                         CaseName);

}  // namespace
}  // namespace lemma
