// lemma bench --device cuda: the CUDA backend from the command line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "tools/commands.h"
#include "tools/common.h"

#if LEMMA_HAS_CUDA
#include "kernels/cpu/tuning.h"
#include "kernels/cuda/cost_measurer.h"
#include "kernels/cuda/runtime.h"
#endif

namespace lemma::cli {

#if LEMMA_HAS_CUDA

int RunCudaBench(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return Fail("bench", g.status());
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  if (!seed.ok()) return Fail("bench", seed.status());
  absl::StatusOr<int64_t> runs = args.GetInt("--runs", 20);
  if (!runs.ok()) return Fail("bench", runs.status());
  if (*runs < 1 || *runs > 1000000) {
    return Fail("bench", absl::InvalidArgumentError(StrCat("--runs must be in [1, 1000000], not ", *runs)));
  }
  const NamedTensors<F32> feeds = RandomFeeds<F32>(*g, static_cast<uint64_t>(*seed));
  cpu::TuningLog log;
  cuda::RuntimeOptions options;
  if (args.Has("--log")) {
    absl::StatusOr<cpu::TuningLog> loaded = cpu::TuningLog::Load(args.Get("--log"));
    if (!loaded.ok()) return Fail("bench", loaded.status());
    log = *std::move(loaded);
  }
  options.tuning_log = &log;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<cuda::Executable>> exe = cuda::Executable::Compile(*g, feeds, options);
  if (!exe.ok()) return Fail("bench", exe.status());
  const double compile = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // cuDNN's measured algorithms go back to the log, so the next run replays them.
  if (args.Has("--log")) {
    if (absl::Status s = log.Save(); !s.ok()) return Fail("bench", s);
  }
  cuda::Executable& e = **exe;
  for (int warm = 0; warm < 3; ++warm) {
    if (absl::StatusOr<NamedTensors<F32>> r = e.Run(feeds); !r.ok()) return Fail("bench", r.status());
  }
  std::vector<double> times;
  for (int64_t r = 0; r < *runs; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (absl::StatusOr<NamedTensors<F32>> out = e.Run(feeds); !out.ok()) return Fail("bench", out.status());
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  // The per-step profile: CUDA events around each step, in separate runs.
  e.set_profiling(true);
  const size_t n_steps = e.steps().size();
  std::vector<std::vector<double>> step_times(n_steps);
  const int64_t profile_runs = std::min<int64_t>(*runs, 10);
  for (int64_t r = 0; r < profile_runs; ++r) {
    if (absl::StatusOr<NamedTensors<F32>> out = e.Run(feeds); !out.ok()) return Fail("bench", out.status());
    for (size_t i = 0; i < n_steps; ++i) step_times[i].push_back(e.steps()[i].seconds);
  }
  std::sort(times.begin(), times.end());
  auto at = [&](double q) { return times[static_cast<size_t>(q * static_cast<double>(times.size() - 1))]; };
  std::printf("graph %s on %s\n", g->name().c_str(), e.device().Describe().c_str());
  std::printf("latency over %lld runs (inputs uploaded, outputs downloaded): median %.3f ms, min %.3f, p90 %.3f, "
              "max %.3f (compile %.2f s)\n",
              static_cast<long long>(*runs), at(0.5) * 1e3, times.front() * 1e3, at(0.9) * 1e3, times.back() * 1e3,
              compile);
  struct Row {
    size_t index;
    double seconds;
  };
  std::vector<Row> rows;
  double total = 0;
  for (size_t i = 0; i < n_steps; ++i) {
    std::vector<double>& t = step_times[i];
    std::sort(t.begin(), t.end());
    rows.push_back({i, t[(t.size() - 1) / 2]});
    total += rows.back().seconds;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.seconds > b.seconds; });
  std::printf("\nprofile (median of %lld runs per step, CUDA events, slowest first; steps total %.3f ms):\n",
              static_cast<long long>(profile_runs), total * 1e3);
  std::printf("  %4s %-40s %-11s %9s %6s %9s\n", "step", "op", "provider", "ms", "share", "GFLOP/s");
  const size_t shown = args.Has("--all") ? rows.size() : std::min<size_t>(rows.size(), 25);
  for (size_t r = 0; r < shown; ++r) {
    const cuda::StepInfo& s = e.steps()[rows[r].index];
    char gflops[32] = "";
    if (s.flops > 0 && rows[r].seconds > 0) std::snprintf(gflops, sizeof gflops, "%.1f", s.flops / rows[r].seconds / 1e9);
    std::printf("  %4zu %-40.40s %-11s %9.4f %5.1f%% %9s\n", rows[r].index, s.label.c_str(), s.provider.c_str(),
                rows[r].seconds * 1e3, total > 0 ? 100 * rows[r].seconds / total : 0.0, gflops);
  }
  if (shown < rows.size()) std::printf("  ... %zu more steps (--all lists them)\n", rows.size() - shown);
  const cuda::MemoryStats m = e.memory();
  std::printf("\nmemory: arena %.2f MB (%.2f MB without reuse), constants %.2f MB, workspace %.2f MB\n",
              static_cast<double>(m.arena_bytes) / 1e6, static_cast<double>(m.naive_bytes) / 1e6,
              static_cast<double>(m.constant_bytes) / 1e6, static_cast<double>(m.workspace_bytes) / 1e6);
  if (args.Has("--plan")) std::printf("\n%s", e.PlanText().c_str());
  return kExitOk;
}

namespace {

// The GPU's measured costs behind the optimizer's MeasuredCostModel, with the
// analytical model for what the GPU plan cannot run, each key costed once.
class CudaOptimizeCosts : public OwnedCostModel {
 public:
  static absl::StatusOr<std::unique_ptr<OwnedCostModel>> Create(const Args& args) {
    auto costs = std::unique_ptr<CudaOptimizeCosts>(new CudaOptimizeCosts());
    if (args.Has("--tuning-log")) {
      absl::StatusOr<cpu::TuningLog> log = cpu::TuningLog::Load(args.Get("--tuning-log"));
      if (!log.ok()) return log.status();
      costs->log_ = *std::move(log);
    }
    cuda::CostModelOptions options;
    options.cache_path = args.Get("--cost-cache");
    options.tuning_log = &costs->log_;
    absl::StatusOr<std::unique_ptr<cuda::MeasuredCostModel>> gpu = cuda::MeasuredCostModel::Create(options);
    if (!gpu.ok()) return gpu.status();
    costs->gpu_ = *std::move(gpu);
    costs->measurer_ = std::make_unique<cuda::CostMeasurer>(costs->gpu_.get());
    costs->measured_ = std::make_unique<MeasuredCostModel>(costs->measurer_.get(), &costs->fallback_);
    costs->cached_ = std::make_unique<CachedCostModel>(costs->measured_.get());
    return std::unique_ptr<OwnedCostModel>(std::move(costs));
  }

  CostModel* model() override { return cached_.get(); }

  absl::Status Finish() override {
    std::fprintf(stderr, "costs: %d ops measured on the GPU, %d from the cache, %lld estimated\n",
                 gpu_->stats().measured, gpu_->stats().cached,
                 static_cast<long long>(measured_->fell_back()));
    if (absl::Status s = gpu_->Save(); !s.ok()) return s;
    return log_.Save();
  }

 private:
  CudaOptimizeCosts() = default;

  cpu::TuningLog log_;
  AnalyticalCostModel fallback_;
  std::unique_ptr<cuda::MeasuredCostModel> gpu_;
  std::unique_ptr<cuda::CostMeasurer> measurer_;
  std::unique_ptr<MeasuredCostModel> measured_;
  std::unique_ptr<CachedCostModel> cached_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<OwnedCostModel>> MakeCudaOptimizeCosts(const Args& args) {
  return CudaOptimizeCosts::Create(args);
}

#else

absl::StatusOr<std::unique_ptr<OwnedCostModel>> MakeCudaOptimizeCosts(const Args&) {
  return absl::UnimplementedError(
      "--cost cuda: this lemma was built without the CUDA backend (configure with -DLEMMA_CUDA=ON "
      "and the CUDA toolkit)");
}

int RunCudaBench(const Args&) {
  return Fail("bench", absl::UnimplementedError("--device cuda: this lemma was built without the CUDA backend "
                                                "(configure with -DLEMMA_CUDA=ON and the CUDA toolkit)"));
}

#endif

}  // namespace lemma::cli
