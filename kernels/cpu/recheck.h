#ifndef LEMMA_KERNELS_CPU_RECHECK_H_
#define LEMMA_KERNELS_CPU_RECHECK_H_

// Tuned schedules checked inside the model they serve.
//
// The tuner times a workload's kernels alone, called again and again: their
// inputs stay in the caches and their buffers lie wherever the tuner put
// them. Inside a whole run the step reads what the steps before it left,
// from wherever the memory plan placed it, and a schedule that won alone
// can lose there (NASNet-A's fused 1x1 conv + add on 128x56x56: 0.23 ms for
// the tuned schedule alone, 0.33 ms in the model, where the default took
// 0.24-0.28 ms). A log also outlives the templates it was tuned on.
//
// RecheckInModel compiles the graph twice, once with the log's schedules
// and once with every template's default, runs both plans in turns with
// each step timed, and for each workload whose logged config differs from
// the default records both configs' times inside the model ("measured":
// "model"), which TuningLog::Best prefers from then on.
//
//   cpu::TuningLog log = *cpu::TuningLog::Load("lemma.tuning.jsonl");
//   absl::StatusOr<cpu::RecheckResult> r =
//       cpu::RecheckInModel(graph, weights_and_feeds, log, {.threads = 2}, {.rounds = 6});
//   log.Save();

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/runtime.h"
#include "kernels/cpu/tuning.h"
#include "kernels/reference.h"

namespace lemma::cpu {

struct RecheckOptions {
  /// Profiled runs of each plan, in turns; each step keeps its fastest time
  /// (other work on the machine only ever slows a step down).
  int rounds = 6;
  /// Called after each round (round counts from 1).
  std::function<void(int round, int rounds)> on_round = nullptr;
};

/// One workload compared: its logged config against the default, each
/// timed as the mean over the workload's steps of their fastest times.
struct RecheckedWorkload {
  std::string workload;  // the tuning-log key
  std::string label;     // its first step's label
  std::string template_name;
  std::map<std::string, int64_t> logged, fallback;
  int steps = 0;
  double flops = 0;  // of one step
  double logged_seconds = 0, default_seconds = 0;  // per step
};

struct RecheckResult {
  std::vector<RecheckedWorkload> workloads;
  int steps = 0;           // steps of the plan
  int generated = 0;       // steps of generated kernels in both plans
  /// The sum over all steps of their fastest times with the log's
  /// schedules, and with the faster of the two for each rechecked workload.
  double logged_total = 0, chosen_total = 0;
};

/// Rechecks the log's schedules for `graph` (see above) and adds two
/// records for each rechecked workload to `log` (in memory; the caller
/// saves it). `feeds` holds the weights and the graph inputs by name.
/// `options` says how to compile (threads, weight cache); its log and tuning
/// budget are replaced, and steps run generated kernels only.
absl::StatusOr<RecheckResult> RecheckInModel(const Graph& graph, const NamedTensors<F32>& feeds,
                                             TuningLog& log, RuntimeOptions options,
                                             const RecheckOptions& recheck = {});

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_RECHECK_H_
