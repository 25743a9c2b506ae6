#ifndef LEMMA_TOOLS_BENCH_REPORT_H_
#define LEMMA_TOOLS_BENCH_REPORT_H_

// `lemma bench` on either backend: timed runs of a compiled graph, a
// profile of its steps, and the report of both.

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/reference.h"

namespace lemma::cli {

/// Seconds of each timed run, and of each step in each profiled run.
struct BenchTimes {
  std::vector<double> runs;
  std::vector<std::vector<double>> steps;  // [step][profiled run]
  int64_t profiled_runs = 0;
};

/// Runs `exe` (a backend's Executable: Run(feeds), set_profiling(bool),
/// steps()[i].seconds) `warmups` times untimed, `runs` times timed, each after
/// `pause_seconds` idle (0: back to back; a pause measures the latency of a
/// graph that runs now and then, its threads asleep and caches cold), then up
/// to ten more times with each step timed, after the same pause: timing steps
/// adds overhead that the latency runs should not have. Fails with the first
/// failing run's status.
template <typename Exe>
absl::StatusOr<BenchTimes> TimeRuns(Exe& exe, const NamedTensors<F32>& feeds, int64_t runs, int warmups,
                                    double pause_seconds = 0) {
  BenchTimes t;
  for (int w = 0; w < warmups; ++w) {
    if (absl::StatusOr<NamedTensors<F32>> out = exe.Run(feeds); !out.ok()) return out.status();
  }
  for (int64_t r = 0; r < runs; ++r) {
    if (pause_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause_seconds));
    const auto start = std::chrono::steady_clock::now();
    if (absl::StatusOr<NamedTensors<F32>> out = exe.Run(feeds); !out.ok()) return out.status();
    t.runs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  exe.set_profiling(true);
  t.steps.resize(exe.steps().size());
  t.profiled_runs = std::min<int64_t>(runs, 10);
  for (int64_t r = 0; r < t.profiled_runs; ++r) {
    if (pause_seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(pause_seconds));
    if (absl::StatusOr<NamedTensors<F32>> out = exe.Run(feeds); !out.ok()) return out.status();
    for (size_t i = 0; i < t.steps.size(); ++i) t.steps[i].push_back(exe.steps()[i].seconds);
  }
  exe.set_profiling(false);
  return t;
}

/// What the profile shows of a step.
struct StepRow {
  std::string label;
  std::string provider;
  double flops = 0;
};

/// Prints "latency over N runs<qualifier>: median M ms, min, p90, max
/// (compile S s)".
void PrintLatency(const BenchTimes& t, const std::string& qualifier, double compile_seconds);

/// Prints the steps' median times, slowest first, with their share and
/// GFLOP/s: the 25 slowest, or every step with `all`. `how` says how steps
/// were timed.
void PrintProfile(const BenchTimes& t, const std::vector<StepRow>& steps, const std::string& how, bool all);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_BENCH_REPORT_H_
