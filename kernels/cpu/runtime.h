#ifndef LEMMA_KERNELS_CPU_RUNTIME_H_
#define LEMMA_KERNELS_CPU_RUNTIME_H_

// The CPU runtime: a float32 graph compiled into an executable plan.
//
//   absl::StatusOr<std::unique_ptr<cpu::Executable>> exe =
//       cpu::Executable::Compile(graph, weights, {.threads = 2});
//   absl::StatusOr<NamedTensors<F32>> out = (*exe)->Run(inputs);
//
// Compiling a graph
//  * folds constants: weights, constant ops and everything computed from them
//    only are evaluated once (by the reference evaluator) and kept;
//  * runs repeated computations once (Graph::MergeDuplicates), and moves a
//    unary elementwise op after a concat onto the concat's inputs;
//  * makes views of transpose, slice, split and (of contiguous data) reshape:
//    consumers read through strides, nothing is copied;
//  * fuses each op with the chain of elementwise ops that consume it alone
//    (conv + relu + add, matmul + sigmoid, ...), one kernel per group;
//  * lowers each group to generated kernels (kernels/cpu/lowering.h) with the
//    schedule from the tuning log, found by tuning, or by rules of thumb, and
//    for conv and matmul also to oneDNN; when both exist it measures them and
//    keeps the faster, recording why;
//  * prepares weights once (packed into the layouts the kernels read, batch
//    norm folded into a scale and shift);
//  * plans memory: values and scratch share one arena by liveness.
// Ops no template lowers run on built-in C++ kernels (the reference kernels).
// Run is not reentrant: one Run of an Executable at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/arith.h"
#include "kernels/cpu/target.h"
#include "kernels/reference.h"

namespace lemma::cpu {

class TuningLog;

/// Which implementation runs a step.
enum class Provider : uint8_t {
  kGenerated,    // LLVM-generated kernels
  kInterpreted,  // the same loop nests, interpreted (built without LLVM)
  kOneDnn,       // oneDNN primitives
  kBuiltin,      // C++ kernels
};
std::string_view ProviderName(Provider provider);

/// One step of a plan, for printing and profiles.
struct StepInfo {
  std::string label;     // "conv2d+relu (conv3)"
  Provider provider = Provider::kBuiltin;
  std::string why;       // why this provider and schedule
  std::string schedule;  // the template and its config, or the oneDNN primitive
  double flops = 0;      // conv and matmul FLOPs
  double seconds = 0;    // time of the last profiled run
  /// For a step a template lowers: the tuning-log key of its workload, the
  /// template and the config it was compiled with, and whether that config
  /// came from the log (kept when oneDNN runs the step instead).
  std::string workload;
  std::string template_name;
  std::map<std::string, int64_t> config;
  bool config_from_log = false;
};

/// How the runtime picks among providers.
enum class ProviderChoice : uint8_t {
  kMeasure,    // time each candidate, keep the faster
  kGenerated,  // generated kernels wherever a template lowers the step
  kOneDnn,     // oneDNN wherever it covers the step
};

struct RuntimeOptions {
  /// Threads kernels use (0: every core).
  int threads = 0;
  /// Schedules to replay; with tune_budget > 0 new ones are added to it.
  TuningLog* tuning_log = nullptr;
  /// Measurements the tuner may spend per workload the log lacks (0: no
  /// tuning; the log or rules of thumb decide).
  int tune_budget = 0;
  /// When set, tuning stops at this time: the workload being tuned keeps the
  /// best schedule measured so far, and later ones the log's or the rules of
  /// thumb (a time limit on `lemma tune`).
  std::optional<std::chrono::steady_clock::time_point> tune_deadline = std::nullopt;
  /// How a step that both generated code and oneDNN cover picks: by
  /// measuring both (kMeasure), or always one of them.
  ProviderChoice providers = ProviderChoice::kMeasure;
  /// With kMeasure, conv and matmul steps of fewer FLOPs stay with generated
  /// kernels without trying oneDNN: its OpenMP team costs more to start than
  /// such a step takes, and stalls when other work shares the cores.
  double onednn_min_flops = 20e6;
  /// Where the tuner and the provider choice time a step's weights. Unset:
  /// evicted from the caches (kCold) when the graph's constants outgrow the
  /// last-level cache, so that every run reads them from memory; warm
  /// otherwise. Cold workloads have their own tuning records (the workload
  /// key ends in " |weights cold").
  std::optional<WeightCache> weight_cache = std::nullopt;
  /// Fuse chains of elementwise consumers into their producer.
  bool fuse = true;
  /// Let the producers of a concat's inputs write straight into its slices
  /// (no copy) where they are steps of their own.
  bool concat_in_place = true;
  /// Called after each step is lowered (step index, number of steps, the
  /// step): progress for long compiles with tuning.
  std::function<void(int, int, const StepInfo&)> on_step = nullptr;
};

/// How much memory a plan holds.
struct MemoryStats {
  int64_t arena_bytes = 0;     // the arena values and scratch share
  int64_t naive_bytes = 0;     // what one buffer per value and scratch would take
  int64_t constant_bytes = 0;  // folded constants and prepared weights
  int buffers = 0;             // buffers placed in the arena
  int concats_in_place = 0;    // concats whose inputs' steps write into them (no copy)
  int blocked_hand_offs = 0;   // values oneDNN steps pass on in oneDNN's layout (no reorders)
  int sums_in_place = 0;       // residuals oneDNN steps add with the output written over them
};

/// One line: the arena, what reuse saved, the constants, and what was
/// written in place or handed over ("memory: arena 8.43 MB in 40 buffers ...").
std::string MemoryText(const MemoryStats& m);

class Executable {
 public:
  ~Executable();

  /// Compiles `graph` (f32 values only) with the given weight values (by
  /// name; every weight must be there, other entries are ignored). Errors
  /// name the node or weight at fault.
  static absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph,
                                                             const NamedTensors<F32>& weights,
                                                             const RuntimeOptions& options = {});

  /// Runs the plan on `inputs` (every graph input by name, any layout; other
  /// entries are ignored) and returns the graph outputs by name, each in its
  /// value's layout.
  absl::StatusOr<NamedTensors<F32>> Run(const NamedTensors<F32>& inputs);

  /// Whether Run records the time of each step in steps()[i].seconds.
  void set_profiling(bool on);
  const std::vector<StepInfo>& steps() const;
  MemoryStats memory() const;
  int threads() const;
  /// Whether steps were tuned and their providers chosen with the weights
  /// evicted from the caches (RuntimeOptions::weight_cache, or its choice).
  WeightCache weight_cache() const;
  /// The plan, one line per step: label, provider, schedule, why; then memory.
  std::string PlanText() const;

 private:
  struct Impl;
  explicit Executable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_RUNTIME_H_
