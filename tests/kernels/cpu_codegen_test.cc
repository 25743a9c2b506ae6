// Generated kernels against the interpreter of the loop-nest IR, over random
// schedules (tiles that do not divide the extents, partial vectors, unrolled
// register tiles, parallel loops) and nests with odd sizes.

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ir/strings.h"
#include "kernels/cpu/codegen.h"
#include "kernels/cpu/loop_nest.h"
#include "kernels/cpu/schedule_space.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/template_util.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/random.h"

namespace lemma::cpu {
namespace {

struct NestCase {
  std::string name;
  std::function<LoopNest()> build;
};

void PrintTo(const NestCase& c, std::ostream* os) { *os << c.name; }

// C[i,j] = relu(sum_k A[i,k] B[k,j] + bias[j]).
LoopNest MatMul(int64_t m, int64_t n, int64_t k) {
  LoopNest nest("matmul");
  const int i = nest.AddAxis("i", m), j = nest.AddAxis("j", n), r = nest.AddReduction("k", k);
  const int a = nest.AddBuffer("a", m * k), b = nest.AddBuffer("b", k * n);
  const int bias = nest.AddBuffer("bias", n), c = nest.AddBuffer("c", m * n, true);
  nest.SetReduction(Combiner::kSum,
                    nest.Mul(nest.Load(a, {{i, k}, {r, 1}}), nest.Load(b, {{r, n}, {j, 1}})));
  const int sum = nest.Add(nest.Acc(), nest.Load(bias, {{j, 1}}));
  nest.SetResult(c, {{i, n}, {j, 1}}, nest.Unary(ExprOp::kRelu, sum));
  return nest;
}

// B packed in panels of 8 columns: Bp[j/8][k][j%8].
LoopNest PackedMatMul(int64_t m, int64_t n, int64_t k) {
  LoopNest nest("packed_matmul");
  const int i = nest.AddAxis("i", m), j = nest.AddAxis("j", n), r = nest.AddReduction("k", k);
  const int a = nest.AddBuffer("a", m * k);
  const int b = nest.AddBuffer("bp", (n + 7) / 8 * 8 * k);
  const int c = nest.AddBuffer("c", m * n, true);
  AffineIndex bi;
  bi.Add(j, 8 * k, AxisPart::kQuotient, 8).Add(r, 8).Add(j, 1, AxisPart::kRemainder, 8);
  nest.SetReduction(Combiner::kSum, nest.Mul(nest.Load(a, {{i, k}, {r, 1}}), nest.Load(b, bi)));
  nest.SetResult(c, {{i, n}, {j, 1}}, nest.Acc());
  return nest;
}

// A 3x3 convolution with padding 1 over x[c][h][w], written with guards.
LoopNest Conv(int64_t o_n, int64_t c_n, int64_t h, int64_t w) {
  LoopNest nest("conv");
  const int o = nest.AddAxis("o", o_n), y = nest.AddAxis("y", h), x = nest.AddAxis("x", w);
  const int c = nest.AddReduction("c", c_n), ky = nest.AddReduction("ky", 3),
            kx = nest.AddReduction("kx", 3);
  const int in = nest.AddBuffer("x", c_n * h * w), wt = nest.AddBuffer("w", o_n * c_n * 9);
  const int out = nest.AddBuffer("y", o_n * h * w, true);
  const std::vector<Guard> guards = {{AffineIndex({{y, 1}, {ky, 1}}, -1), h},
                                     {AffineIndex({{x, 1}, {kx, 1}}, -1), w}};
  const int xv = nest.Load(in, AffineIndex({{c, h * w}, {y, w}, {ky, w}, {x, 1}, {kx, 1}}, -w - 1),
                           guards, 0.0f);
  const int wv = nest.Load(wt, {{o, c_n * 9}, {c, 9}, {ky, 3}, {kx, 1}});
  nest.SetReduction(Combiner::kSum, nest.Mul(wv, xv));
  nest.SetResult(out, {{o, h * w}, {y, w}, {x, 1}}, nest.Acc());
  return nest;
}

// 3x3 max pool with stride s (2 by default) and padding 1: strided loads
// (shuffled, or gathers) under lane guards, -inf fill.
LoopNest MaxPool(int64_t c_n, int64_t h, int64_t w, int64_t s = 2) {
  LoopNest nest("maxpool");
  const int64_t oh = (h - 1) / s + 1, ow = (w - 1) / s + 1;
  const int c = nest.AddAxis("c", c_n), y = nest.AddAxis("y", oh), x = nest.AddAxis("x", ow);
  const int ky = nest.AddReduction("ky", 3), kx = nest.AddReduction("kx", 3);
  const int in = nest.AddBuffer("x", c_n * h * w), out = nest.AddBuffer("y", c_n * oh * ow, true);
  const std::vector<Guard> guards = {{AffineIndex({{y, s}, {ky, 1}}, -1), h},
                                     {AffineIndex({{x, s}, {kx, 1}}, -1), w}};
  const float inf = std::numeric_limits<float>::infinity();
  const int v = nest.Load(in, AffineIndex({{c, h * w}, {y, s * w}, {ky, w}, {x, s}, {kx, 1}}, -w - 1),
                          guards, -inf);
  nest.SetReduction(Combiner::kMax, v);
  nest.SetResult(out, {{c, oh * ow}, {y, ow}, {x, 1}}, nest.Acc());
  return nest;
}

// Every unary function on a broadcast sum, stored transposed (a scatter).
LoopNest Elementwise(int64_t m, int64_t n) {
  LoopNest nest("elementwise");
  const int i = nest.AddAxis("i", m), j = nest.AddAxis("j", n);
  const int a = nest.AddBuffer("a", m * n), b = nest.AddBuffer("b", n);
  const int out = nest.AddBuffer("out", m * n, true);
  const int x = nest.Add(nest.Load(a, {{i, n}, {j, 1}}), nest.Load(b, {{j, 1}}));
  int y = nest.Unary(ExprOp::kSigmoid, x);
  y = nest.Add(y, nest.Unary(ExprOp::kTanh, x));
  y = nest.Add(y, nest.Unary(ExprOp::kGelu, x));
  y = nest.Add(y, nest.Unary(ExprOp::kExp, x));
  y = nest.Add(y, nest.Unary(ExprOp::kRsqrt, nest.Add(nest.Mul(x, x), nest.Const(0.5f))));
  y = nest.Binary(ExprOp::kMax, y, nest.Binary(ExprOp::kDiv, x, nest.Const(3)));
  y = nest.Binary(ExprOp::kMin, y, nest.Unary(ExprOp::kNeg, nest.Binary(ExprOp::kSub, x, y)));
  nest.SetResult(out, {{j, m}, {i, 1}}, y);
  return nest;
}

// out[j][i] = 2 a[i][j] + b[j][i]: vectors along i read a with lanes n
// elements apart (a gather) and walk it contiguously along j; b is contiguous.
LoopNest Transpose(int64_t m, int64_t n) {
  LoopNest nest("transpose");
  const int j = nest.AddAxis("j", n), i = nest.AddAxis("i", m);
  const int a = nest.AddBuffer("a", m * n), b = nest.AddBuffer("b", n * m);
  const int out = nest.AddBuffer("out", n * m, true);
  const int x = nest.Mul(nest.Load(a, {{i, n}, {j, 1}}), nest.Const(2));
  nest.SetResult(out, {{j, m}, {i, 1}}, nest.Add(x, nest.Load(b, {{j, m}, {i, 1}})));
  return nest;
}

std::vector<NestCase> Cases() {
  return {
      {"matmul_13x37x19", [] { return MatMul(13, 37, 19); }},
      {"matmul_1x1x1", [] { return MatMul(1, 1, 1); }},
      {"matmul_40x64x33", [] { return MatMul(40, 64, 33); }},
      {"packed_matmul_9x21x7", [] { return PackedMatMul(9, 21, 7); }},
      {"conv_5x3x7x11", [] { return Conv(5, 3, 7, 11); }},
      {"maxpool_3x9x13", [] { return MaxPool(3, 9, 13); }},
      {"maxpool_s3_2x7x61", [] { return MaxPool(2, 7, 61, 3); }},
      {"maxpool_s4_2x5x70", [] { return MaxPool(2, 5, 70, 4); }},
      {"elementwise_7x29", [] { return Elementwise(7, 29); }},
      {"transpose_37x53", [] { return Transpose(37, 53); }},
  };
}

class CodegenTest : public ::testing::TestWithParam<NestCase> {};

// Random schedules per nest; LEMMA_CODEGEN_TRIALS raises it for long runs.
const int kTrials = [] {
  const char* env = std::getenv("LEMMA_CODEGEN_TRIALS");
  return env != nullptr ? std::atoi(env) : 8;
}();

// Random values in [-1, 1) for every buffer of `nest`.
std::vector<std::vector<float>> RandomBuffers(const LoopNest& nest) {
  std::vector<std::vector<float>> inputs;
  for (size_t b = 0; b < nest.buffers().size(); ++b) {
    SplitMix64 rng(b + 1);
    std::vector<float> data(static_cast<size_t>(nest.buffers()[b].elements));
    for (float& v : data) v = static_cast<float>(static_cast<double>(rng.Next() >> 11) * 0x1p-53 * 2 - 1);
    inputs.push_back(std::move(data));
  }
  return inputs;
}

// The output of `kernel` on `inputs` equals the interpreter's.
void ExpectMatches(const LoopNest& nest, const Schedule& schedule, const CompiledKernel& kernel,
                   const std::vector<std::vector<float>>& inputs,
                   const std::vector<std::vector<float>>& want, ThreadPool& pool) {
  std::vector<std::vector<float>> got = inputs;
  std::vector<float*> ptrs;
  for (auto& v : got) ptrs.push_back(v.data());
  kernel.Run(ptrs.data(), pool);
  const int out = nest.out_buffer();
  for (size_t e = 0; e < got[static_cast<size_t>(out)].size(); ++e) {
    const float g = got[static_cast<size_t>(out)][e], w = want[static_cast<size_t>(out)][e];
    ASSERT_NEAR(g, w, 2e-5 * (1 + std::fabs(w)))
        << "element " << e << " with schedule " << schedule.ToString(nest);
  }
}

std::vector<std::vector<float>> Interpret(const LoopNest& nest,
                                          std::vector<std::vector<float>> buffers) {
  std::vector<float*> ptrs;
  for (auto& v : buffers) ptrs.push_back(v.data());
  InterpretNest(nest, ptrs.data());
  return buffers;
}

TEST_P(CodegenTest, RandomSchedulesMatchTheInterpreter) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const LoopNest nest = GetParam().build();
  ASSERT_TRUE(nest.Validate().ok()) << nest.Validate();
  const std::vector<std::vector<float>> inputs = RandomBuffers(nest);
  const std::vector<std::vector<float>> want = Interpret(nest, inputs);
  ThreadPool pool(2);
  SplitMix64 rng(7);
  const int vector_width = HostTarget().vector_width;
  int compiled = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const Schedule schedule = RandomSchedule(nest, vector_width, rng);
    ASSERT_TRUE(schedule.Validate(nest).ok()) << schedule.Validate(nest);
    absl::StatusOr<std::shared_ptr<const CompiledKernel>> kernel = CompileKernel(nest, schedule);
    ASSERT_TRUE(kernel.ok()) << kernel.status() << "\n" << schedule.ToString(nest);
    ++compiled;
    ExpectMatches(nest, schedule, **kernel, inputs, want, pool);
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(compiled, kTrials);
}

INSTANTIATE_TEST_SUITE_P(Nests, CodegenTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

// A directory of its own under the test's temp dir: test runs of two
// checkouts may share /tmp.
std::filesystem::path NewTempDir() {
  std::string tmpl = StrCat(::testing::TempDir(), "/lemma_asm_XXXXXX");
  if (::mkdtemp(tmpl.data()) == nullptr) return {};
  return tmpl;
}

// The assembly CompileKernel writes for `nest` under `schedule` (a shape no
// other test compiles, so that it is compiled here and not found compiled).
std::string CompileToAssembly(const LoopNest& nest, const Schedule& schedule,
                              std::shared_ptr<const CompiledKernel>* kernel) {
  const std::filesystem::path dir = NewTempDir();
  if (dir.empty()) return "";
  SetAssemblyDir(dir.string());
  absl::StatusOr<std::shared_ptr<const CompiledKernel>> compiled = CompileKernel(nest, schedule);
  SetAssemblyDir("");
  std::string text;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::stringstream s;
    s << in.rdbuf();
    text += s.str();
  }
  std::filesystem::remove_all(dir);
  if (compiled.ok()) *kernel = *compiled;
  return text;
}

// The elementwise schedule of a transpose cuts the axis its load walks
// contiguously in blocks of one vector, unrolled outside the vector loop; the
// code reads rows of the block and transposes them in registers (no gather),
// with partial blocks and partial vectors on both axes.
TEST(CodegenTest, TransposesBlocksInRegistersInsteadOfGathering) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const int v = HostTarget().vector_width;
  if (v < 4) GTEST_SKIP() << "no vectors of 4 or more lanes";
  ThreadPool pool(2);
  int shape = 0;
  for (const auto& [m, n] : std::vector<std::pair<int64_t, int64_t>>{
           {37, 55}, {2 * v, 2 * v}, {v + 1, 3 * v - 1}, {5, 41}}) {
    for (int64_t unroll : {1, 2}) {
      const LoopNest nest = Transpose(m, n);
      const Schedule s = ElementwiseSchedule(nest, v, unroll, /*parallel_min=*/1);
      ASSERT_TRUE(s.Validate(nest).ok()) << s.Validate(nest);
      EXPECT_EQ(TransposeAxis(nest, v), 0);
      EXPECT_TRUE(s.IsUnrolled({0, 1})) << s.ToString(nest);
      std::shared_ptr<const CompiledKernel> kernel;
      const std::string assembly = CompileToAssembly(nest, s, &kernel);
      ASSERT_NE(kernel, nullptr) << s.ToString(nest);
      EXPECT_EQ(assembly.find("gather"), std::string::npos) << m << "x" << n << ": "
                                                           << s.ToString(nest);
      const std::vector<std::vector<float>> inputs = RandomBuffers(nest);
      ExpectMatches(nest, s, *kernel, inputs, Interpret(nest, inputs), pool);
      if (HasFatalFailure()) return;
      ++shape;
    }
  }
  EXPECT_EQ(shape, 8);
  // Rows shorter than a vector, or a contiguous load, are left as they were.
  EXPECT_EQ(TransposeAxis(Transpose(37, v - 1), v), -1);
  EXPECT_EQ(TransposeAxis(Elementwise(7, 29), v), -1);
}

TEST(CodegenTest, RejectsABlockThatIsNotATile) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const LoopNest nest = PackedMatMul(4, 20, 3);
  Schedule s = Schedule::Default(nest);
  s.tiles[1] = {4};
  s.order = {{0, 0}, {1, 0}, {2, 0}, {1, 1}};
  EXPECT_FALSE(CompileKernel(nest, s).ok());
  s.tiles[1] = {8};
  EXPECT_TRUE(CompileKernel(nest, s).ok());
}

// A 3x3 window sum over a channels-last x[h][w][c] with padding 1, vectorized
// along the channels: each vector load's guards (row and column in the
// image) hold or fail for all its lanes. Such a load branches around the
// read rather than masking it: a masked load whose address lies on a page
// with no mapping (the row above a buffer at the start of its mapping) costs
// a microcode assist even with every lane off. With whole vectors of
// channels the kernel has no masked load at all.
TEST(CodegenTest, BranchesAroundALoadWhoseGuardsHoldForEveryLane) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const int v = HostTarget().vector_width;
  if (v < 4) GTEST_SKIP() << "no vectors of 4 or more lanes";
  ThreadPool pool(2);
  const int64_t h = 6, w = 5, channels = 2 * v;
  LoopNest nest("window_sum");
  const int y = nest.AddAxis("y", h), x = nest.AddAxis("x", w), c = nest.AddAxis("c", channels);
  const int ky = nest.AddReduction("ky", 3), kx = nest.AddReduction("kx", 3);
  const int in = nest.AddBuffer("x", h * w * channels), out = nest.AddBuffer("y", h * w * channels, true);
  const std::vector<Guard> guards = {{AffineIndex({{y, 1}, {ky, 1}}, -1), h},
                                     {AffineIndex({{x, 1}, {kx, 1}}, -1), w}};
  const AffineIndex at({{y, w * channels}, {ky, w * channels}, {x, channels}, {kx, channels}, {c, 1}},
                       -(w + 1) * channels);
  nest.SetReduction(Combiner::kSum, nest.Load(in, at, guards, 0.0f));
  nest.SetResult(out, {{y, w * channels}, {x, channels}, {c, 1}}, nest.Acc());
  for (const bool unroll_window : {false, true}) {
    const Schedule s = WindowSchedule(nest, c, ky, kx, v, 2, unroll_window, 1);
    ASSERT_TRUE(s.Validate(nest).ok()) << s.Validate(nest);
    std::shared_ptr<const CompiledKernel> kernel;
    const std::string assembly = CompileToAssembly(nest, s, &kernel);
    ASSERT_NE(kernel, nullptr) << s.ToString(nest);
    EXPECT_EQ(assembly.find("{z}"), std::string::npos) << s.ToString(nest) << "\n" << assembly;
    const std::vector<std::vector<float>> inputs = RandomBuffers(nest);
    ExpectMatches(nest, s, *kernel, inputs, Interpret(nest, inputs), pool);
  }
}

// SetAssemblyDir: each kernel compiled meanwhile leaves its assembly, headed
// by its nest's name and schedule; none after it is reset.
TEST(CodegenTest, WritesTheAssemblyOfKernelsItCompiles) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const std::filesystem::path dir = NewTempDir();
  ASSERT_FALSE(dir.empty());
  auto files = [&] {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
    return out;
  };
  SetAssemblyDir(dir.string());
  const LoopNest nest = Conv(7, 5, 13, 11);  // a shape no other test compiles
  const Schedule s = Schedule::Default(nest);
  ASSERT_TRUE(CompileKernel(nest, s).ok());
  SetAssemblyDir("");
  ASSERT_EQ(files().size(), 1u);
  std::ifstream in(files()[0]);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().rfind(StrCat("# ", nest.name(), "\n# ", s.ToString(nest), "\n"), 0), 0u)
      << text.str().substr(0, 200);
  EXPECT_NE(text.str().find("ret"), std::string::npos);
  ASSERT_TRUE(CompileKernel(Conv(9, 5, 13, 11), Schedule::Default(Conv(9, 5, 13, 11))).ok());
  EXPECT_EQ(files().size(), 1u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lemma::cpu
