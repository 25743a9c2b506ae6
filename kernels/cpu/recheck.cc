#include "kernels/cpu/recheck.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "ir/strings.h"
#include "kernels/cpu/target.h"

namespace lemma::cpu {
namespace {

// Runs `exe` once with each step timed; keeps each step's fastest time.
absl::Status ProfileInto(Executable& exe, const NamedTensors<F32>& feeds, std::vector<double>& fastest) {
  absl::StatusOr<NamedTensors<F32>> out = exe.Run(feeds);
  if (!out.ok()) return out.status();
  const std::vector<StepInfo>& steps = exe.steps();
  for (size_t i = 0; i < steps.size(); ++i) fastest[i] = std::min(fastest[i], steps[i].seconds);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RecheckResult> RecheckInModel(const Graph& graph, const NamedTensors<F32>& feeds,
                                             TuningLog& log, RuntimeOptions options,
                                             const RecheckOptions& recheck) {
  if (recheck.rounds < 1) return absl::InvalidArgumentError("a recheck needs at least one round");
  options.tune_budget = 0;
  options.providers = ProviderChoice::kGenerated;
  options.on_step = nullptr;
  options.tuning_log = &log;
  absl::StatusOr<std::unique_ptr<Executable>> logged = Executable::Compile(graph, feeds, options);
  if (!logged.ok()) return logged.status();
  TuningLog none;
  options.tuning_log = &none;
  absl::StatusOr<std::unique_ptr<Executable>> defaults = Executable::Compile(graph, feeds, options);
  if (!defaults.ok()) return defaults.status();
  Executable& a = **logged;
  Executable& b = **defaults;
  const size_t n = a.steps().size();
  if (b.steps().size() != n) {
    return absl::InternalError(StrCat("graph ", graph.name(), ": the plans with and without the log have ",
                                      n, " and ", b.steps().size(), " steps"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (a.steps()[i].label != b.steps()[i].label) {
      return absl::InternalError(StrCat("graph ", graph.name(), ": step ", i, " is ", a.steps()[i].label,
                                        " with the log and ", b.steps()[i].label, " without"));
    }
  }
  a.set_profiling(true);
  b.set_profiling(true);
  // One untimed run each: the first run places the feeds and touches the arena.
  for (Executable* e : {&a, &b}) {
    if (absl::StatusOr<NamedTensors<F32>> out = e->Run(feeds); !out.ok()) return out.status();
  }
  std::vector<double> fastest_a(n, std::numeric_limits<double>::infinity()), fastest_b = fastest_a;
  for (int round = 0; round < recheck.rounds; ++round) {
    // The plan that runs first alternates: a run can warm the caches or the
    // clock for the next.
    if (round % 2 == 0) {
      if (absl::Status s = ProfileInto(a, feeds, fastest_a); !s.ok()) return s;
      if (absl::Status s = ProfileInto(b, feeds, fastest_b); !s.ok()) return s;
    } else {
      if (absl::Status s = ProfileInto(b, feeds, fastest_b); !s.ok()) return s;
      if (absl::Status s = ProfileInto(a, feeds, fastest_a); !s.ok()) return s;
    }
    if (recheck.on_round) recheck.on_round(round + 1, recheck.rounds);
  }

  RecheckResult result;
  result.steps = static_cast<int>(n);
  absl::flat_hash_map<std::string, size_t> index;  // workload -> result.workloads
  for (size_t i = 0; i < n; ++i) {
    const StepInfo& sa = a.steps()[i];
    const StepInfo& sb = b.steps()[i];
    result.logged_total += fastest_a[i];
    const bool both_generated = sa.provider == Provider::kGenerated && sb.provider == Provider::kGenerated;
    if (both_generated) ++result.generated;
    if (!both_generated || !sa.config_from_log || sa.workload != sb.workload ||
        sa.template_name != sb.template_name || sa.config == sb.config) {
      result.chosen_total += fastest_a[i];
      continue;
    }
    auto [it, inserted] = index.try_emplace(sa.workload, result.workloads.size());
    if (inserted) {
      RecheckedWorkload w;
      w.workload = sa.workload;
      w.label = sa.label;
      w.template_name = sa.template_name;
      w.flops = sa.flops;
      w.logged = sa.config;
      w.fallback = sb.config;
      result.workloads.push_back(std::move(w));
    }
    // Sums over the workload's steps here; per step below.
    RecheckedWorkload& w = result.workloads[it->second];
    ++w.steps;
    w.logged_seconds += fastest_a[i];
    w.default_seconds += fastest_b[i];
  }
  const std::string target = HostTarget().Key(a.threads());
  for (RecheckedWorkload& w : result.workloads) {
    result.chosen_total += std::min(w.logged_seconds, w.default_seconds);
    w.logged_seconds /= w.steps;
    w.default_seconds /= w.steps;
    for (const auto& [config, seconds] :
         {std::pair{w.logged, w.logged_seconds}, {w.fallback, w.default_seconds}}) {
      TuningRecord r;
      r.target = target;
      r.workload = w.workload;
      r.template_name = w.template_name;
      r.config = config;
      r.seconds = seconds;
      r.gflops = w.flops > 0 && seconds > 0 ? w.flops / seconds / 1e9 : 0;
      r.measured = "model";
      log.Add(std::move(r));
    }
  }
  return result;
}

}  // namespace lemma::cpu
