// The CUDA backend on a device: every case and the small models of the zoo
// against the reference evaluator, memory reuse, cuDNN algorithms recorded in
// the tuning log, and the measured cost model. Every test skips, saying why,
// when no CUDA device is present.

#include <cmath>
#include <string>
#include <vector>

#include "bench/models.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "kernels/cpu/tuning.h"
#include "kernels/cuda/cost_measurer.h"
#include "kernels/cuda/cost_model.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/runtime.h"
#include "kernels/random.h"
#include "kernels/reference.h"
#include "tests/kernels/graph_cases.h"

namespace lemma::cuda {
namespace {

using test_cases::Finish;
using test_cases::GraphCase;
using test_cases::Same;

#define SKIP_WITHOUT_DEVICE()                                                  \
  do {                                                                         \
    if (absl::StatusOr<DeviceInfo> d = QueryDevice(); !d.ok()) {               \
      GTEST_SKIP() << "needs a CUDA device: " << d.status().message();         \
    }                                                                          \
  } while (0)

void ExpectMatchesReference(const Graph& g, const RuntimeOptions& options = {}, double tol = 1e-3) {
  // Twice: the second run reuses the arena the first one left dirty.
  test_cases::ExpectMatchesReference<Executable>(g, options, tol, 2);
}

class CudaDeviceCaseTest : public ::testing::TestWithParam<GraphCase> {};

TEST_P(CudaDeviceCaseTest, MatchesReference) {
  SKIP_WITHOUT_DEVICE();
  ExpectMatchesReference(GetParam().build());
}

TEST_P(CudaDeviceCaseTest, UnfusedMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  ExpectMatchesReference(GetParam().build(), {.fuse = false});
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaDeviceCaseTest, ::testing::ValuesIn(test_cases::GpuCases()),
                         [](const auto& info) { return info.param.name; });

class CudaDeviceModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CudaDeviceModelTest, SmallModelMatchesReference) {
  SKIP_WITHOUT_DEVICE();
  absl::StatusOr<Graph> g = models::BuildModel(GetParam(), {.scale = models::ModelScale::kSmall});
  ASSERT_TRUE(g.ok()) << g.status();
  ExpectMatchesReference(*g, {}, 5e-3);
}

INSTANTIATE_TEST_SUITE_P(Zoo, CudaDeviceModelTest, ::testing::ValuesIn(models::ModelNames()),
                         [](const auto& info) { return info.param; });

TEST(CudaDeviceTest, RecordsConvAlgorithmsAndReplaysThem) {
  SKIP_WITHOUT_DEVICE();
  GraphBuilder b("conv");
  const Value x = b.Input("x", DType::kF32, {1, 16, 32, 32});
  b.Output("y", b.Conv2d(x, 16, {3, 3}, Same(1, Activation::kRelu)));
  const Graph g = Finish(b);
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 2);
  cpu::TuningLog log;
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds, {.tuning_log = &log});
  ASSERT_TRUE(exe.ok()) << exe.status();
  ASSERT_FALSE(log.records().empty());
  EXPECT_EQ(log.records()[0].template_name, "cudnn_conv");
  EXPECT_EQ(log.records()[0].target, TargetKey((*exe)->device()));
  EXPECT_NE((*exe)->steps()[0].detail.find("measured"), std::string::npos);
  const size_t records = log.records().size();
  exe = Executable::Compile(g, feeds, {.tuning_log = &log});
  ASSERT_TRUE(exe.ok()) << exe.status();
  EXPECT_EQ(log.records().size(), records);
  EXPECT_NE((*exe)->steps()[0].detail.find("(log)"), std::string::npos);
}

TEST(CudaDeviceTest, ProfilesStepsWithEvents) {
  SKIP_WITHOUT_DEVICE();
  const Graph g = test_cases::CaseNamed("conv_same_relu_chain").build();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 2);
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds);
  ASSERT_TRUE(exe.ok()) << exe.status();
  (*exe)->set_profiling(true);
  ASSERT_TRUE((*exe)->Run(feeds).ok());
  for (const StepInfo& s : (*exe)->steps()) EXPECT_GT(s.seconds, 0) << s.label;
  const MemoryStats m = (*exe)->memory();
  EXPECT_LE(m.arena_bytes, m.naive_bytes);
}

TEST(CudaDeviceTest, CostModelMeasuresOnceAndCaches) {
  SKIP_WITHOUT_DEVICE();
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> costs = MeasuredCostModel::Create({.runs = 5});
  ASSERT_TRUE(costs.ok()) << costs.status();
  Attributes attrs(OpKind::kMatMul);
  const std::vector<TensorType> inputs = {TensorType::Make(DType::kF32, {64, 128}),
                                          TensorType::Make(DType::kF32, {128, 32})};
  absl::StatusOr<double> a = (*costs)->OpCostSeconds(OpKind::kMatMul, attrs, inputs, {false, true});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_GT(*a, 0);
  absl::StatusOr<double> again = (*costs)->OpCostSeconds(OpKind::kMatMul, attrs, inputs, {false, true});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  EXPECT_EQ((*costs)->stats().measured, 1);
  EXPECT_EQ((*costs)->stats().cached, 1);

  CostMeasurer measurer(costs->get());
  OpCostKey key{OpKind::kMatMul, attrs, inputs, {TensorType::Make(DType::kF32, {64, 32})}};
  absl::StatusOr<double> m = measurer.Measure(key);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, *a);
  EXPECT_NE(measurer.Name().find("cuda"), std::string::npos);
}

}  // namespace
}  // namespace lemma::cuda
