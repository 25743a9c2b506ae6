// lemma bench --device cuda: the CUDA backend from the command line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/random.h"
#include "tools/bench_report.h"
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
  absl::StatusOr<BenchTimes> t = TimeRuns(e, feeds, *runs, 3);
  if (!t.ok()) return Fail("bench", t.status());
  std::printf("graph %s on %s\n", g->name().c_str(), e.device().Describe().c_str());
  PrintLatency(*t, " (inputs uploaded, outputs downloaded)", compile);
  std::vector<StepRow> rows;
  for (const cuda::StepInfo& s : e.steps()) rows.push_back({s.label, s.provider, s.flops});
  PrintProfile(*t, rows, "CUDA events", args.Has("--all"));
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
