// Optimizes every model of the zoo and prints a table: op count, cost before
// and after under the analytical cost model, rules applied, graphs explored,
// wall time and peak memory. Each model runs in a child process, so that its
// peak RSS is its own.
//
//   optimize_bench [--budget N] [--alpha A] [--time-limit S] [--rules FILES]
//                  [--allow-tested] [--threads N] [--model NAME]
//
// time(s) is the search's wall time; cpu(s) the child's user and system CPU
// time (all threads), which the load of a shared machine disturbs less.
//
// Rules: rules/default.rules when it exists (proved rules only); otherwise
// the hand-written test rules (tests/rules/data/handwritten.rules and
// tests/optimizer/data/extra.rules), which are random-tested, so tested
// rules are allowed. Paths are relative to the current directory (the
// repository root).

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/models.h"
#include "ir/strings.h"
#include "optimizer/optimize.h"
#include "optimizer/redundant_rules.h"
#include "rules/rule_text.h"

namespace lemma {
namespace {

constexpr const char* kDefaultRules = "rules/default.rules";
constexpr const char* kTestRules =
    "tests/rules/data/handwritten.rules,tests/optimizer/data/extra.rules";

struct Config {
  int64_t budget = 1000;
  double alpha = 1.05;
  double time_limit = 60;
  std::string rules;
  std::string model;
  bool allow_tested = false;
  int threads = 0;
};

// What a child reports to the parent through a pipe.
struct Report {
  int ok = 0;
  int ops = 0;
  int ops_after = 0;
  double cost_before = 0;
  double cost_after = 0;
  int rules_applied = 0;
  int64_t explored = 0;
  int64_t generated = 0;
  int64_t duplicates = 0;
  int stop = 0;
  double seconds = 0;
  char error[256] = {};
};

int CountOps(const Graph& g) {
  int ops = 0;
  for (const Node& n : g.nodes()) ops += GetOpInfo(n.op).Has(kTraitSource) ? 0 : 1;
  return ops;
}

Report RunOne(std::string_view model, const RuleSet& rules, const Config& config) {
  Report r;
  absl::StatusOr<Graph> g = models::BuildModel(model);
  if (!g.ok()) {
    std::snprintf(r.error, sizeof r.error, "%s", std::string(g.status().message()).c_str());
    return r;
  }
  OptimizeOptions options;
  options.alpha = config.alpha;
  options.budget = config.budget;
  options.time_limit = std::chrono::duration<double>(config.time_limit);
  options.threads = config.threads;
  if (config.allow_tested) options.min_status = RuleStatus::kTested;
  absl::StatusOr<OptimizeResult> result = Optimize(*g, rules, options);
  if (!result.ok()) {
    std::snprintf(r.error, sizeof r.error, "%s", std::string(result.status().message()).c_str());
    return r;
  }
  r.ok = 1;
  r.ops = CountOps(*g);
  r.ops_after = CountOps(result->graph);
  r.cost_before = result->cost_before;
  r.cost_after = result->cost_after;
  for (const AppliedStep& s : result->steps) r.rules_applied += s.kind == AppliedStep::Kind::kRule;
  r.explored = result->stats.explored;
  r.generated = result->stats.generated;
  r.duplicates = result->stats.duplicates_skipped;
  r.stop = static_cast<int>(result->stats.stop);
  r.seconds = result->stats.seconds;
  return r;
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--budget" && has_value) {
      config.budget = std::atoll(argv[++i]);
    } else if (arg == "--alpha" && has_value) {
      config.alpha = std::atof(argv[++i]);
    } else if (arg == "--time-limit" && has_value) {
      config.time_limit = std::atof(argv[++i]);
    } else if (arg == "--rules" && has_value) {
      config.rules = argv[++i];
    } else if (arg == "--model" && has_value) {
      config.model = argv[++i];
    } else if (arg == "--threads" && has_value) {
      config.threads = std::atoi(argv[++i]);
    } else if (arg == "--allow-tested") {
      config.allow_tested = true;
    } else {
      std::fprintf(stderr,
                   "usage: optimize_bench [--budget N] [--alpha A] [--time-limit S] "
                   "[--rules FILES] [--allow-tested] [--threads N] [--model NAME]\n");
      return 2;
    }
  }
  if (config.rules.empty()) {
    if (access(kDefaultRules, R_OK) == 0) {
      config.rules = kDefaultRules;
    } else {
      config.rules = kTestRules;
      config.allow_tested = true;
    }
  }
  absl::StatusOr<RuleSet> rules = ReadRuleFiles(config.rules);
  if (!rules.ok()) {
    std::fprintf(stderr, "optimize_bench: %s\n", std::string(rules.status().message()).c_str());
    return 1;
  }
  std::printf("optimize_bench: budget %lld, alpha %.3g, time limit %.0f s, threads %d, %d rules from %s%s\n",
              static_cast<long long>(config.budget), config.alpha, config.time_limit,
              config.threads, rules->size(), config.rules.c_str(),
              config.allow_tested ? " (tested allowed)" : "");
  Flags usable(static_cast<size_t>(rules->size()), 0);
  int num_usable = 0;
  for (size_t i = 0; i < usable.size(); ++i) {
    usable[i] = RuleStatusAllowed(rules->rules()[i].status, config.allow_tested ? RuleStatus::kTested
                                                                                 : RuleStatus::kProved);
    num_usable += usable[i];
  }
  int repeats = 0;
  for (uint8_t r : RedundantRules(*rules, usable)) repeats += r;
  std::printf("%d rules usable, %d of them left out as repeats or special cases of others\n",
              num_usable, repeats);
  std::printf("cost model: %s\n\n", AnalyticalCostModel().Name().c_str());
  std::printf("%-14s %6s %6s %11s %11s %7s %6s %9s %9s %9s %-10s %8s %8s %9s\n", "model", "ops",
              "after", "before(ms)", "after(ms)", "speedup", "rules", "explored", "generated",
              "dups", "stop", "time(s)", "cpu(s)", "peak(MiB)");
  std::fflush(stdout);
  int failures = 0;
  for (const models::ModelInfo& m : models::AllModels()) {
    if (!config.model.empty() && m.name != config.model) continue;
    int fds[2];
    if (pipe(fds) != 0) return 1;
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      const Report r = RunOne(m.name, *rules, config);
      const ssize_t written = write(fds[1], &r, sizeof r);
      _exit(written == static_cast<ssize_t>(sizeof r) ? 0 : 1);
    }
    close(fds[1]);
    Report r;
    const ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status = 0;
    struct rusage usage = {};
    wait4(pid, &status, 0, &usage);
    const std::string name(m.name);
    if (got != static_cast<ssize_t>(sizeof r) || !r.ok) {
      std::printf("%-14s failed: %s\n", name.c_str(),
                  got == static_cast<ssize_t>(sizeof r) ? r.error : "the child died");
      ++failures;
      continue;
    }
    const std::string_view stop = StopReasonName(static_cast<StopReason>(r.stop));
    const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    std::printf("%-14s %6d %6d %11.3f %11.3f %6.3fx %6d %9lld %9lld %9lld %-10.*s %8.2f %8.2f %9.1f\n",
                name.c_str(), r.ops, r.ops_after, r.cost_before * 1e3, r.cost_after * 1e3,
                r.cost_after > 0 ? r.cost_before / r.cost_after : 1.0, r.rules_applied,
                static_cast<long long>(r.explored), static_cast<long long>(r.generated),
                static_cast<long long>(r.duplicates), static_cast<int>(stop.size()), stop.data(),
                r.seconds, cpu, static_cast<double>(usage.ru_maxrss) / 1024.0);
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace lemma

int main(int argc, char** argv) { return lemma::Main(argc, argv); }
