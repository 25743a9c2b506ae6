// The arithmetic domains and the random feeds.

#include "kernels/arith.h"

#include <cmath>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "tests/kernels/test_util.h"

namespace lemma {
namespace {

using kernels_test::BuildGraph;
using ::testing::HasSubstr;

constexpr uint64_t kP = ModP::kP;

std::vector<uint64_t> Samples(int n, uint64_t seed) {
  std::vector<uint64_t> v = {0, 1, 2, kP - 1, kP - 2, kP / 2, kP / 2 + 1};
  SplitMix64 rng(seed);
  while (static_cast<int>(v.size()) < n) v.push_back(rng.Next() % kP);
  return v;
}

uint64_t SlowMul(uint64_t a, uint64_t b) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % kP);
}

TEST(ModPTest, ModulusIsTheMersennePrimeThreeModFour) {
  EXPECT_EQ(kP, 2305843009213693951u);
  EXPECT_EQ(kP % 4, 3u);
  EXPECT_EQ(kP % 8, 7u);
}

TEST(ModPTest, RingOperationsMatchSlowArithmetic) {
  const std::vector<uint64_t> v = Samples(200, 1);
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    const uint64_t a = v[i], b = v[i + 1];
    EXPECT_EQ(ModP::Mul(a, b), SlowMul(a, b)) << a << " * " << b;
    EXPECT_EQ(ModP::Add(a, b), static_cast<uint64_t>((static_cast<unsigned __int128>(a) + b) % kP));
    EXPECT_EQ(ModP::Add(ModP::Sub(a, b), b), a);
    EXPECT_EQ(ModP::Add(a, ModP::Neg(a)), 0u);
  }
}

TEST(ModPTest, InverseAndDivision) {
  for (uint64_t a : Samples(100, 2)) {
    if (a != 0) {
      EXPECT_EQ(ModP::Mul(a, ModP::Inv(a)), 1u) << a;
    }
  }
  EXPECT_EQ(ModP::Inv(0), 0u);
  EXPECT_EQ(ModP::DivInt(ModP::FromInt(6), 3), 2u);
  EXPECT_EQ(ModP::Mul(ModP::DivInt(ModP::One(), 9), 9), 1u);
}

TEST(ModPTest, ConstantsMustBeIntegers) {
  EXPECT_EQ(ModP::FromInt(-1), kP - 1);
  EXPECT_EQ(ModP::FromInt(static_cast<int64_t>(kP) + 5), 5u);
  EXPECT_EQ(ModP::FromDouble(-3.0).value(), kP - 3);
  EXPECT_EQ(ModP::FromDouble(7.0).value(), 7u);
  for (double bad : {0.5, -1e-9, HUGE_VAL, std::nan(""), 1e300}) {
    absl::StatusOr<uint64_t> v = ModP::FromDouble(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(v.status().ToString(), HasSubstr("not an integer"));
  }
  EXPECT_EQ(ModP::Epsilon(1e-5), 0u);
}

TEST(ModPTest, ReluAndMaxActOnSignedRepresentatives) {
  EXPECT_EQ(ModP::Signed(kP - 1), -1);
  EXPECT_EQ(ModP::Signed(kP / 2), static_cast<int64_t>(kP / 2));
  EXPECT_EQ(ModP::Signed(kP / 2 + 1), -static_cast<int64_t>(kP / 2));
  EXPECT_EQ(ModP::Relu(5), 5u);
  EXPECT_EQ(ModP::Relu(kP - 5), 0u);
  EXPECT_EQ(ModP::Relu(0), 0u);
  EXPECT_EQ(ModP::Max(kP - 1, 0), 0u);
  EXPECT_EQ(ModP::Max(kP - 1, kP - 2), kP - 1);
  EXPECT_EQ(ModP::Max(3, kP / 2), kP / 2);
  for (uint64_t a : Samples(50, 3)) {
    EXPECT_EQ(ModP::Relu(ModP::Relu(a)), ModP::Relu(a));
    EXPECT_EQ(ModP::Max(a, ModP::Zero()), ModP::Relu(a));
  }
}

TEST(ModPTest, StandInsAreNonLinearDistinctAndNeverDivideByZero) {
  using Fn = uint64_t (*)(uint64_t);
  const std::vector<Fn> fns = {&ModP::Relu, &ModP::Sigmoid, &ModP::Tanh,
                               &ModP::Gelu, &ModP::Exp,     &ModP::Rsqrt};
  const std::vector<uint64_t> v = Samples(50, 4);
  for (uint64_t a : v) {
    EXPECT_NE(ModP::Exp(a), 0u);
    EXPECT_NE(ModP::Rsqrt(a), 0u);
    EXPECT_NE(ModP::Sigmoid(a), 0u);
  }
  for (Fn f : fns) {
    bool additive = true;
    for (size_t i = 7; i + 1 < v.size(); ++i) {
      additive = additive && f(ModP::Add(v[i], v[i + 1])) == ModP::Add(f(v[i]), f(v[i + 1]));
    }
    EXPECT_FALSE(additive);
  }
  std::set<uint64_t> images;
  for (Fn f : fns) images.insert(f(12345));
  EXPECT_EQ(images.size(), fns.size());
  EXPECT_EQ(ModP::Exp(3), 10u);
  EXPECT_EQ(ModP::Rsqrt(2), ModP::Inv(5));
  EXPECT_EQ(ModP::Sigmoid(0), ModP::DivInt(1, 2));
  EXPECT_EQ(ModP::Tanh(2), 14u);
  EXPECT_EQ(ModP::Gelu(2), 18u);
}

TEST(FloatTest, RealFunctions) {
  EXPECT_EQ(F64::Sigmoid(0), 0.5);
  EXPECT_DOUBLE_EQ(F64::Gelu(1), 0.8413447460685429);
  EXPECT_EQ(F64::Rsqrt(4), 0.5);
  EXPECT_EQ(F64::Relu(-2), 0);
  EXPECT_EQ(F64::Max(-1, 2), 2);
  EXPECT_EQ(F64::DivInt(1, 4), 0.25);
  EXPECT_EQ(F64::Epsilon(1e-5), 1e-5);
  EXPECT_EQ(F64::FromDouble(0.5).value(), 0.5);
  EXPECT_NEAR(F32::Gelu(1.0f), 0.8413447f, 1e-6f);
  const float third = F32::DivInt(1.0f, 3);
  EXPECT_EQ(third, 1.0f / 3.0f);  // computed in float, not double
  EXPECT_NE(static_cast<double>(third), 1.0 / 3.0);
}

TEST(RandomTest, SplitMixMatchesTheReference) {
  SplitMix64 rng(0);
  EXPECT_EQ(rng.Next(), 0xe220a8397b1dcdafULL);
}

TEST(RandomTest, TensorsAreDeterministicAndInRange) {
  const TensorType t = TensorType::Make(DType::kF32, {4, 50});
  const Tensor<double> a = RandomTensor<F64>(t, 9);
  EXPECT_EQ(a.data, RandomTensor<F64>(t, 9).data);
  EXPECT_NE(a.data, RandomTensor<F64>(t, 10).data);
  for (double v : a.data) {
    EXPECT_GE(v, -1.0);
    EXPECT_LT(v, 1.0);
  }
  for (float v : RandomTensor<F32>(t, 9).data) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
  }
  bool large = false;
  for (uint64_t v : RandomTensor<ModP>(t, 9).data) {
    EXPECT_LT(v, kP);
    large = large || v > (uint64_t{1} << 60);
  }
  EXPECT_TRUE(large);
}

TEST(RandomTest, FeedsDependOnTheValueNameNotOnOtherNodes) {
  GraphBuilder small;
  small.Output("y", small.Relu(small.Input("x", DType::kF32, {3, 4})));
  GraphBuilder big;
  Value w = big.Weight("w", DType::kF32, {3, 4});
  Value x = big.Input("x", DType::kF32, {3, 4});
  big.Output("y", big.EwAdd(x, w));
  const Graph small_graph = BuildGraph(small);
  const NamedTensors<F64> a = RandomFeeds<F64>(small_graph, 7);
  const NamedTensors<F64> b = RandomFeeds<F64>(BuildGraph(big), 7);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(a.at("x").data, b.at("x").data);
  EXPECT_NE(b.at("x").data, b.at("w").data);
  EXPECT_NE(a.at("x").data, RandomFeeds<F64>(small_graph, 8).at("x").data);
  EXPECT_NE(ValueSeed(7, "x"), ValueSeed(7, "w"));
}

}  // namespace
}  // namespace lemma
