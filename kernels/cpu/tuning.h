#ifndef LEMMA_KERNELS_CPU_TUNING_H_
#define LEMMA_KERNELS_CPU_TUNING_H_

// Schedule tuning in the spirit of AutoTVM and Ansor: a template's knobs are
// searched by measuring candidates on this machine (random sampling, then
// evolutionary refinement of the best), and every measurement goes to a
// TuningLog, so that a workload is tuned once and its best schedule replayed.
//
// The log is a text file with one JSON record per line:
//
//   {"kind":"schedule","target":"AMD EPYC/avx512/2t","workload":"matmul|...",
//    "template":"gemm","config":{"kc":256,"mr":8,...},"seconds":0.00093,"gflops":230.9}
//
// ("measured":"model" after them for a time taken inside whole-graph runs).
//
// keyed by target (CpuTarget::Key) and workload (WorkloadKey). The measured
// cost model stores its measurements in the same format with "kind":"cost".

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu/lowering.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/thread_pool.h"

namespace lemma::cpu {

/// One measurement.
struct TuningRecord {
  std::string kind = "schedule";  // "schedule" (a tuned config) or "cost" (a node's cost)
  std::string target;
  std::string workload;
  std::string template_name;  // the template, or for costs the provider
  Config config;
  double seconds = 0;
  double gflops = 0;
  /// How `seconds` was measured: "kernel" (the group called again and again
  /// on its own, by the tuner) or "model" (the step inside runs of a whole
  /// graph, by RecheckInModel). A workload's "model" records outrank its
  /// "kernel" ones: the tuner's repeated calls find the step's inputs in the
  /// caches and its buffers where they happen to lie, a whole run does not.
  std::string measured = "kernel";

  /// The record as one line of JSON (no newline).
  std::string ToJson() const;
  /// Parses a line written by ToJson.
  static absl::StatusOr<TuningRecord> FromJson(std::string_view line);
};

/// The file that holds `target`'s records in a log directory: the key in
/// lower case, each run of other characters than letters and digits a dash,
/// "(R)" and "(TM)" dropped: "AMD EPYC/avx512/2t" -> "amd-epyc-avx512-2t.jsonl".
std::string LogFileName(std::string_view target);

class TuningLog {
 public:
  /// An empty log kept in memory.
  TuningLog() = default;
  /// The log in `path`: its records when the file exists (errors name the
  /// line), empty otherwise. Save() writes back there.
  ///
  /// `path` may also be a directory (one that exists) holding a log per
  /// machine: every `*.jsonl` file in it is read, each holding the records of
  /// the one target it is named after (LogFileName; a record of another
  /// target is an error that names the file and line). Save() then writes
  /// each target's records to its own file, and rewrites only the files whose
  /// records changed. One directory so serves every machine that shares it,
  /// as bench/tuning does for the machines lemma ships schedules for.
  static absl::StatusOr<TuningLog> Load(const std::string& path);

  /// The record of `kind` for (target, workload) to replay, if any: the
  /// fastest of those measured in a model, else the fastest.
  std::optional<TuningRecord> Best(std::string_view kind, std::string_view target,
                                   std::string_view workload) const;
  void Add(TuningRecord record);
  /// Drops every record but Best() of each (kind, target, workload),
  /// keeping the order in which the workloads first appear: a log to ship
  /// (Best() answers as before). Returns the records dropped.
  int64_t KeepBest();
  /// Rewrites the file atomically (no-op for a log kept in memory); for a
  /// directory, each file whose records changed.
  absl::Status Save() const;

  const std::vector<TuningRecord>& records() const { return records_; }
  const std::string& path() const { return path_; }
  bool is_directory() const { return directory_; }

 private:
  std::string path_;
  bool directory_ = false;
  // For a directory: each file's text as Save() would write it, at Load.
  std::map<std::string, std::string> loaded_;
  std::vector<TuningRecord> records_;
};

struct TuneOptions {
  /// Candidates measured (the default config included).
  int budget = 32;
  /// Seed of the search; the same seed explores the same candidates.
  uint64_t seed = 1;
  /// Share of the budget spent on random sampling before evolution.
  double random_fraction = 0.4;
  /// The best candidates that evolution mutates and crosses.
  int population = 6;
  /// After the search, the `finalists` fastest candidates and the default
  /// are measured `confirm_rounds` more times, in interleaved rounds, each
  /// keeping its fastest time: other work on the machine only ever makes a
  /// measurement slower, so a fast config measured during a disturbance
  /// would otherwise lose the search for good.
  int finalists = 3;
  int confirm_rounds = 2;
  /// Whether the workload's weights are evicted from the caches before each
  /// timed call (a model whose weights outgrow the last-level cache).
  WeightCache weights = WeightCache::kWarm;
  /// When set, the search measures no new candidate past this time (the
  /// default config is still measured, and the finalists confirmed): a
  /// time limit on tuning.
  std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt;
  /// Called after each measurement (for progress output).
  std::function<void(const Config&, double seconds, bool best)> on_measure = nullptr;
};

struct TuneResult {
  Config best;
  double seconds = 0;
  int measured = 0;  // candidates timed
  int rejected = 0;    // candidates the template or the compiler refused
  int duplicates = 0;  // candidates that lowered to kernels measured already
  int confirmed = 0;   // measurements of finalists after the search
  bool out_of_time = false;  // the deadline ended the search before the budget
};

/// The tuning-log key of a workload whose kernels are timed with `weights`:
/// WorkloadKey, and " |weights cold" after it for cold weights, so that a
/// workload tuned both ways keeps both schedules.
std::string ScheduleKey(const Group& group, const LoweringContext& context, WeightCache weights);

/// Searches the knobs of `t` by measurement on scratch buffers. The default
/// config is always measured first. Fails only when no candidate works.
absl::StatusOr<TuneResult> Tune(const Template& t, const LoweringContext& context,
                                ThreadPool& pool, const TuneOptions& options);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_TUNING_H_
