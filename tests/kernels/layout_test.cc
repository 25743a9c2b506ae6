// Layouts: tensors stored NHWC or column-major mean the same logical values,
// and a graph whose values are NHWC / column-major computes what the
// NCHW / row-major one does.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "kernels/tensor.h"
#include "tests/kernels/test_util.h"

namespace lemma {
namespace {

using kernels_test::BuildGraph;

std::vector<int> Iota(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(TensorTest, RowMajorStrides) {
  EXPECT_EQ(RowMajorStrides(Dims{2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_TRUE(RowMajorStrides(Dims{}).empty());
}

TEST(TensorTest, NhwcStoresChannelsInnermost) {
  const TensorType t{DType::kF32, {1, 2, 3, 4}, Layout::kNHWC};  // N C H W
  EXPECT_EQ(PhysicalStrides(t), (std::vector<int64_t>{24, 1, 8, 2}));
  const std::vector<int64_t> index = {0, 1, 2, 3};  // c=1, h=2, w=3
  EXPECT_EQ(PhysicalOffset(t, index), ((0 * 3 + 2) * 4 + 3) * 2 + 1);
}

TEST(TensorTest, ColMajorStoresColumnsContiguously) {
  const TensorType t{DType::kF32, {2, 3}, Layout::kColMajor};
  const Tensor<int> m = FromLogical(t, std::vector<int>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(m.data, (std::vector<int>{1, 4, 2, 5, 3, 6}));
  const std::vector<int64_t> index = {1, 2};
  EXPECT_EQ(At(m, index), 6);
  EXPECT_EQ(ToLogical(m), (std::vector<int>{1, 2, 3, 4, 5, 6}));
}

TEST(TensorTest, ToLogicalInvertsFromLogicalInEveryLayout) {
  const std::vector<int> logical = Iota(2 * 3 * 4 * 5);
  for (Layout layout : {Layout::kNCHW, Layout::kNHWC}) {
    const Tensor<int> t = FromLogical(TensorType{DType::kF32, {2, 3, 4, 5}, layout}, logical);
    EXPECT_EQ(ToLogical(t), logical) << LayoutName(layout);
    const Tensor<int> back = WithLayout(WithLayout(t, Layout::kNHWC), Layout::kNCHW);
    EXPECT_EQ(back.data, logical);
  }
  const Tensor<int> nhwc =
      FromLogical(TensorType{DType::kF32, {2, 3, 4, 5}, Layout::kNHWC}, logical);
  EXPECT_NE(nhwc.data, logical);
}

TEST(TensorTest, ChecksumIsTheLogicalSumInAnyLayout) {
  const TensorType t = TensorType::Make(DType::kF64, {2, 2});
  const Tensor<double> a = FromLogical(t, std::vector<double>{1, 2, 3, 4.5});
  EXPECT_EQ(Checksum(a), 10.5);
  EXPECT_EQ(Checksum(WithLayout(a, Layout::kColMajor)), 10.5);
  EXPECT_EQ(Checksum(FromLogical(t, std::vector<float>{1, 2, 3, 4})), 10.0);
}

// A conv / pool / matmul graph; `relayout` moves its values to NHWC and
// column-major.
Graph ConvPoolMatMul(bool relayout) {
  GraphBuilder b("layouts");
  Value x = b.Input("x", DType::kF32, {2, 3, 6, 5});
  Value c =
      b.Conv2d(x, b.Weight("w", DType::kF32, {4, 3, 3, 3}),
               {.stride = {1, 2}, .padding = Padding::kSame, .activation = Activation::kRelu});
  Value m = b.MaxPool2d(c, {.kernel = {3, 3}, .padding = Padding::kSame});
  Value p = b.AvgPool2d(m, {.kernel = {2, 2}, .stride = {2, 1}, .pads = {1, 0, 0, 0}});
  b.Output("pooled", p);
  b.Output("transposed", b.Transpose(p, {0, 2, 3, 1}));
  Value a = b.Input("a", DType::kF32, {3, 4});
  Value mm = b.MatMul(a, b.Weight("v", DType::kF32, {4, 5}));
  b.Output("product", mm);
  b.Output("doubled", b.EwAdd(mm, mm));
  Graph g = BuildGraph(b);
  if (!relayout) return g;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    for (size_t j = 0; j < g.node(id).outputs.size(); ++j) {
      const ValueId v{id, static_cast<int32_t>(j)};
      const int rank = g.type(v).rank();
      const Layout layout = rank == 4 ? Layout::kNHWC : Layout::kColMajor;
      if (rank == 4 || rank == 2) {
        EXPECT_TRUE(g.SetLayout(v, layout).ok());
      }
    }
  }
  return g;
}

template <typename A>
void ExpectLayoutsAgree() {
  const Graph plain = ConvPoolMatMul(false);
  const Graph moved = ConvPoolMatMul(true);
  const NamedTensors<A> plain_feeds = RandomFeeds<A>(plain, 5);
  const NamedTensors<A> moved_feeds = RandomFeeds<A>(moved, 5);
  EXPECT_EQ(moved_feeds.at("x").type.layout, Layout::kNHWC);
  EXPECT_NE(moved_feeds.at("x").data, plain_feeds.at("x").data);
  EXPECT_EQ(ToLogical(moved_feeds.at("x")), plain_feeds.at("x").data);

  absl::StatusOr<NamedTensors<A>> want = Evaluate<A>(plain, plain_feeds);
  absl::StatusOr<NamedTensors<A>> got = Evaluate<A>(moved, moved_feeds);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const auto& [name, t] : *want) {
    const Tensor<typename A::T>& g = got->at(name);
    EXPECT_EQ(g.type.layout, t.type.rank() == 4 ? Layout::kNHWC : Layout::kColMajor) << name;
    EXPECT_EQ(ToLogical(g), ToLogical(t)) << A::kName << " " << name;
  }
}

TEST(LayoutTest, NhwcAndColMajorGraphComputesTheSameInF64) { ExpectLayoutsAgree<F64>(); }
TEST(LayoutTest, NhwcAndColMajorGraphComputesTheSameInModP) { ExpectLayoutsAgree<ModP>(); }

TEST(LayoutTest, FeedsInAnotherLayoutThanTheGraphsAreConverted) {
  const Graph g = ConvPoolMatMul(false);
  const NamedTensors<F64> feeds = RandomFeeds<F64>(g, 8);
  NamedTensors<F64> moved;
  for (const auto& [name, t] : feeds) {
    moved.emplace(name, WithLayout(t, t.type.rank() == 4 ? Layout::kNHWC : Layout::kColMajor));
  }
  absl::StatusOr<NamedTensors<F64>> want = Evaluate<F64>(g, feeds);
  absl::StatusOr<NamedTensors<F64>> got = Evaluate<F64>(g, moved);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const auto& [name, t] : *want) {
    EXPECT_EQ(got->at(name).type, t.type) << name;  // in the graph's layout
    EXPECT_EQ(got->at(name).data, t.data) << name;
  }
}

}  // namespace
}  // namespace lemma
