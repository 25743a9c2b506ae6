#ifndef LEMMA_GENERATOR_GENERATE_H_
#define LEMMA_GENERATOR_GENERATE_H_

// `lemma generate` as a library call: enumerate every operator graph of up
// to max_ops ops over the generator op set (generator/enumerate.h), pair the
// graphs whose fingerprints agree, prune and test the candidates
// (generator/candidates.h), and return the rules with a summary of every
// stage.
//
// Scale: the enumeration is split into work units by the prefix of the DFS.
// Threads take units in turn; a shard (`shard_index` of `shard_count`) takes
// every unit whose index is its index modulo the count, writes its sorted
// fingerprints to a shard file, and MergeShards combines the files of all
// shards into the same result a single process computes. A shard can learn
// its index from an MPI launcher or a batch system (ShardFromEnvironment),
// so `mpirun -n K lemma generate ...` needs no MPI library.
//
//   GenerateOptions options{.max_ops = 2, .ops = {"matmul", "ewadd"}};
//   absl::StatusOr<GenerateResult> r = Generate(options);
//   // r->rules: tested rules; r->summary.ToString(): the counts.
//
// The library never prints: progress goes to options.progress.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/stop_reason.h"
#include "generator/candidates.h"
#include "generator/enumerate.h"
#include "rules/rule.h"

namespace lemma {

/// Where a run is, for a progress line.
struct GenerateProgress {
  std::string_view stage;  // "enumerate", "candidates" (replay, prune) or "tests"
  int shard_index = 0;
  int shard_count = 1;
  int64_t done = 0;   // work units (enumerate), candidates or tests done
  int64_t total = 0;  // of how many
  int64_t graphs = 0;
  int64_t candidates = 0;  // known once the enumeration is done
  double elapsed_s = 0;
  double graphs_per_s = 0;
  double eta_s = -1;  // of the stage; -1 when unknown
};

/// What to generate and how (defaults: the full depth-3 run on every core).
struct GenerateOptions {
  /// Ops per graph, 1 to kMaxGraphOps.
  int max_ops = 3;
  /// Seed of the fingerprints' random inputs (the tests use draws derived
  /// from it).
  uint64_t seed = 1;
  /// Generator ops (registry names like "conv2d") or template names (like
  /// "conv2d_relu", "split4d_axis1"); empty: all.
  std::vector<std::string> ops;
  /// Universe tensors (like "a1", "x1"); empty: all of DefaultUniverse().
  std::vector<std::string> inputs;
  /// Threads; 0: one per core.
  int threads = 0;
  /// This process's shard of shard_count.
  int shard_index = 0;
  int shard_count = 1;
  /// Stop enumerating after this many seconds (0: no limit).
  double time_limit_s = 0;
  /// Stop enumerating after this many graphs (0: no budget).
  int64_t max_graphs = 0;
  /// Ops in a work unit's prefix; 0: 1 up to max_ops 3, 2 above.
  int unit_depth = 0;
  /// When the fingerprint records in memory exceed this many bytes, they
  /// are merged into a sorted spill file under spill_dir ($TMPDIR or /tmp
  /// when empty) and freed; 0: never. The result does not change.
  int64_t memory_limit_bytes = 0;
  std::string spill_dir;
  /// Keep the pruned candidates and what implies them.
  bool explain = false;
  std::function<void(const GenerateProgress&)> progress;
};

/// The counts of every stage of a run.
struct GenerateSummary {
  int max_ops = 0;
  uint64_t seed = 0;
  int threads = 0;
  int shard_index = 0;
  int shard_count = 1;
  int64_t universe_tensors = 0;
  int64_t templates = 0;
  int64_t work_units = 0;
  /// graphs: enumerated and fingerprinted (one per graph, identities apart).
  EnumerationStats enumeration;
  /// Distinct fingerprints (identities included); 0 for a shard.
  int64_t fingerprints = 0;
  CandidateStats candidates;
  double enumerate_s = 0;
  double candidates_s = 0;
  double total_s = 0;
  int64_t peak_rss_bytes = 0;
  StopReason stop = StopReason::kExhausted;

  /// A table, one count per line.
  std::string ToString() const;
};

/// The rules of a run, its counts, and what a rule file of it says first.
struct GenerateResult {
  RuleSet rules;
  GenerateSummary summary;
  /// Explain mode: every pruned candidate with the kept rules implying it.
  std::vector<PrunedCandidate> pruned;
  /// The header a rule file of this result starts with.
  std::string header;
};

/// The search space of `options`: DefaultUniverse() and DefaultTemplates()
/// restricted to options.inputs and options.ops.
absl::StatusOr<SearchSpace> MakeSearchSpace(const GenerateOptions& options);

/// Runs the whole generation in this process (all shards when shard_count
/// is 1; otherwise an error: use GenerateShard).
absl::StatusOr<GenerateResult> Generate(const GenerateOptions& options);

/// Enumerates shard options.shard_index of options.shard_count and writes
/// its sorted fingerprints to `path` (atomically).
absl::StatusOr<GenerateSummary> GenerateShard(const GenerateOptions& options,
                                              const std::string& path);

/// Combines the shard files of one run (every shard exactly once) into the
/// result Generate computes for the same options. Only options.threads,
/// options.explain and options.progress are read.
absl::StatusOr<GenerateResult> MergeShards(const std::vector<std::string>& paths,
                                           const GenerateOptions& options);

/// A shard's index and count from a launcher's environment:
/// OMPI_COMM_WORLD_RANK/OMPI_COMM_WORLD_SIZE (Open MPI), PMI_RANK/PMI_SIZE
/// (MPICH, Intel MPI), SLURM_PROCID/SLURM_NTASKS (Slurm). Nullopt when none
/// is set or the count is 1.
std::optional<std::pair<int, int>> ShardFromEnvironment();

/// "OUT.shard-I-of-N": where shard I of N of a run writing OUT puts its file.
std::string ShardPath(const std::string& out, int index, int count);

/// The `origin` of the rules of a run: "lemma generate max_ops=3 seed=1",
/// with the op and input lists when restricted.
std::string OriginOf(const GenerateOptions& options);

/// The process's peak resident set size in bytes (0 when unknown).
int64_t PeakRssBytes();

}  // namespace lemma

#endif  // LEMMA_GENERATOR_GENERATE_H_
