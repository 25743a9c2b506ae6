#ifndef LEMMA_TESTS_KERNELS_TEST_UTIL_H_
#define LEMMA_TESTS_KERNELS_TEST_UTIL_H_

// Helpers shared by the reference evaluator's tests.

#include <cmath>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/arith.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"

namespace lemma {
/// Test names and failure messages show an op by name.
inline void PrintTo(OpKind op, std::ostream* os) { *os << OpName(op); }
}  // namespace lemma

namespace lemma::kernels_test {

/// The graph `b` holds, validated; on error a test failure and an empty graph.
inline Graph BuildGraph(GraphBuilder& b) {
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return g.ok() ? *std::move(g) : Graph();
}

/// A tensor of `type` holding `logical` (logical row-major), each value
/// converted into domain A (which must accept it).
template <typename A>
Tensor<typename A::T> Literal(const TensorType& type, const std::vector<double>& logical) {
  std::vector<typename A::T> values;
  for (double v : logical) values.push_back(A::FromDouble(v).value());
  return FromLogical(type, std::move(values));
}

/// The logical elements of `t` as doubles (ModP: signed representatives).
template <typename A>
std::vector<double> AsDoubles(const Tensor<typename A::T>& t) {
  std::vector<double> out;
  for (const auto& v : ToLogical(t)) out.push_back(A::ToDouble(v));
  return out;
}

/// Expects `got` to equal `want` elementwise within tol * (1 + |want|); NaN
/// equals NaN.
inline void ExpectNear(const std::vector<double>& got, const std::vector<double>& want, double tol,
                       const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) && std::isnan(got[i])) continue;
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << what << " element " << i;
  }
}

}  // namespace lemma::kernels_test

#endif  // LEMMA_TESTS_KERNELS_TEST_UTIL_H_
