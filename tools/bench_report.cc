#include "tools/bench_report.h"

#include <algorithm>
#include <cstdio>

namespace lemma::cli {
namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

}  // namespace

void PrintLatency(const BenchTimes& t, const std::string& qualifier, double compile_seconds) {
  std::vector<double> times = t.runs;
  std::sort(times.begin(), times.end());
  auto at = [&](double q) { return times[static_cast<size_t>(q * static_cast<double>(times.size() - 1))]; };
  std::printf("latency over %zu runs%s: median %.3f ms, min %.3f, p90 %.3f, max %.3f (compile %.2f s)\n",
              times.size(), qualifier.c_str(), at(0.5) * 1e3, times.front() * 1e3, at(0.9) * 1e3,
              times.back() * 1e3, compile_seconds);
}

void PrintProfile(const BenchTimes& t, const std::vector<StepRow>& steps, const std::string& how, bool all) {
  struct Row {
    size_t index;
    double seconds;
  };
  std::vector<Row> rows;
  double total = 0;
  for (size_t i = 0; i < t.steps.size() && i < steps.size(); ++i) {
    if (t.steps[i].empty()) continue;
    rows.push_back({i, Median(t.steps[i])});
    total += rows.back().seconds;
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.seconds > b.seconds; });
  std::printf("\nprofile (median of %lld runs per step, %s, slowest first; steps total %.3f ms):\n",
              static_cast<long long>(t.profiled_runs), how.c_str(), total * 1e3);
  std::printf("  %4s %-40s %-11s %9s %6s %9s\n", "step", "op", "provider", "ms", "share", "GFLOP/s");
  const size_t shown = all ? rows.size() : std::min<size_t>(rows.size(), 25);
  for (size_t r = 0; r < shown; ++r) {
    const StepRow& s = steps[rows[r].index];
    char gflops[32] = "";
    if (s.flops > 0 && rows[r].seconds > 0) {
      std::snprintf(gflops, sizeof gflops, "%.1f", s.flops / rows[r].seconds / 1e9);
    }
    std::printf("  %4zu %-40.40s %-11s %9.4f %5.1f%% %9s\n", rows[r].index, s.label.c_str(), s.provider.c_str(),
                rows[r].seconds * 1e3, total > 0 ? 100 * rows[r].seconds / total : 0.0, gflops);
  }
  if (shown < rows.size()) std::printf("  ... %zu more steps (--all lists them)\n", rows.size() - shown);
}

}  // namespace lemma::cli
