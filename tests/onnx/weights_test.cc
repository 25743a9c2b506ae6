// Weight data and lemma's tensor file format.

#include <string>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/weights.h"

namespace lemma {
namespace {

WeightValues Sample() {
  WeightValues v;
  v.emplace("a", WeightValue::Of({2, 3}, std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  v.emplace("b.bias", WeightValue::Of({}, std::vector<double>{0.25}));
  v.emplace("c/shape", WeightValue::Of({3}, std::vector<int64_t>{-1, 0, int64_t{1} << 40}));
  v.emplace("empty", WeightValue::Of({0, 4}, std::vector<float>{}));
  return v;
}

TEST(TensorFile, RoundTrips) {
  const std::string bytes = EncodeTensorFile(Sample());
  absl::StatusOr<WeightValues> back = DecodeTensorFile(bytes, "t.tensors");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, Sample());
  EXPECT_EQ(EncodeTensorFile(*back), bytes);
}

TEST(TensorFile, EveryTruncationIsAnErrorNamingTheFile) {
  const std::string bytes = EncodeTensorFile(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<WeightValues> v = DecodeTensorFile(bytes.substr(0, n), "t.tensors");
    ASSERT_FALSE(v.ok()) << n;
    EXPECT_EQ(v.status().message().substr(0, 11), "t.tensors: ") << v.status();
  }
}

TEST(TensorFile, RefusesBadHeadersAndHugeClaims) {
  EXPECT_FALSE(DecodeTensorFile("NOTLEMMA", "t").ok());
  std::string bytes = EncodeTensorFile(Sample());
  bytes[8] = 9;  // version
  EXPECT_NE(DecodeTensorFile(bytes, "t").status().message().find("version 9"), std::string::npos);
  // One f32 tensor [2^19, 2^19] backed by no data: refused without allocating.
  WeightValues one;
  one.emplace("x", WeightValue::Of({1}, std::vector<float>{1}));
  std::string huge = EncodeTensorFile(one);
  const size_t dims_at = 8 + 8 + 4 + 1 + 1 + 4;
  const int64_t big = int64_t{1} << 19;
  huge.replace(dims_at - 4, 4, std::string("\x02\x00\x00\x00", 4));
  huge.replace(dims_at, 8, std::string(reinterpret_cast<const char*>(&big), 8));
  huge.insert(dims_at + 8, std::string(reinterpret_cast<const char*>(&big), 8));
  absl::StatusOr<WeightValues> v = DecodeTensorFile(huge, "t");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("bytes of data"), std::string::npos) << v.status().message();
}

TEST(WeightValues, CheckedAgainstTheGraph) {
  GraphBuilder b("g");
  const Value x = b.Input("x", DType::kF32, {2, 3});
  b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {3, 2})));
  absl::StatusOr<Graph> g = std::move(b).Build();
  ASSERT_TRUE(g.ok());
  WeightValues ok;
  ok.emplace("w", WeightValue::Of({3, 2}, std::vector<float>(6, 1.0f)));
  EXPECT_TRUE(CheckWeightValues(*g, ok).ok());
  EXPECT_TRUE(WeightsWithoutData(*g, ok).empty());
  EXPECT_EQ(WeightsWithoutData(*g, {}), std::vector<std::string>{"w"});
  WeightValues input;
  input.emplace("x", WeightValue::Of({2, 3}, std::vector<float>(6, 1.0f)));
  EXPECT_FALSE(CheckWeightValues(*g, input).ok());
  EXPECT_TRUE(CheckWeightValues(*g, input, /*allow_inputs=*/true).ok());
  WeightValues wrong;
  wrong.emplace("w", WeightValue::Of({3, 2}, std::vector<double>(6, 1.0)));
  EXPECT_NE(CheckWeightValues(*g, wrong).message().find("f64[3,2]"), std::string::npos);
  WeightValues short_data;
  short_data.emplace("w", WeightValue::Of({3, 2}, std::vector<float>(5, 1.0f)));
  EXPECT_NE(CheckWeightValues(*g, short_data).message().find("holds 5 elements"), std::string::npos);
}

}  // namespace
}  // namespace lemma
