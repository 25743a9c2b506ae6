// Benchmark of `lemma generate`: the whole pipeline at depth 2 and 3 (graphs
// enumerated per second, candidates, what each pruning stage removes, rules,
// wall time, peak memory), and the projected cost of depth 4 from a sample
// of its work units. Not a test: it prints a table.
//
//   generate_bench [--threads T] [--depths 2,3] [--sample K] [--shards S]
//
// --sample K enumerates every K-th depth-4 work unit (default 40) and scales
// up; --shards S reports the depth-4 cost per shard of S (default 16).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "generator/generate.h"
#include "generator/parallel.h"
#include "ir/strings.h"

namespace lemma {
namespace {

struct Flags {
  int threads = 0;
  std::vector<int> depths = {2, 3};
  int sample = 40;
  int shards = 16;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--threads") {
      f.threads = std::atoi(value);
    } else if (name == "--sample") {
      f.sample = std::max(1, std::atoi(value));
    } else if (name == "--shards") {
      f.shards = std::max(1, std::atoi(value));
    } else if (name == "--depths") {
      f.depths.clear();
      for (const char* p = value; *p != '\0';) {
        f.depths.push_back(std::atoi(p));
        while (*p != '\0' && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else {
      std::fprintf(stderr, "generate_bench: unknown flag %s\n", name.c_str());
      std::exit(2);
    }
  }
  return f;
}

std::string Thousands(int64_t n) {
  std::string digits = StrCat(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::optional<GenerateSummary> RunDepth(int depth, int threads) {
  GenerateOptions o;
  o.max_ops = depth;
  o.threads = threads;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<GenerateResult> r = Generate(o);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) {
    std::printf("depth %d: %s\n", depth, std::string(r.status().message()).c_str());
    return std::nullopt;
  }
  const GenerateSummary& s = r->summary;
  const CandidateStats& c = s.candidates;
  std::printf("\ndepth %d (%d threads)\n", depth, s.threads);
  std::printf("  graphs enumerated          %14s   (%s graphs/s over %.2f s of enumeration)\n",
              Thousands(s.enumeration.graphs).c_str(),
              Thousands(static_cast<int64_t>(static_cast<double>(s.enumeration.graphs) / s.enumerate_s)).c_str(),
              s.enumerate_s);
  std::printf("  distinct fingerprints      %14s\n", Thousands(s.fingerprints).c_str());
  std::printf("  candidates                 %14s\n", Thousands(c.candidates).c_str());
  int64_t left = c.candidates - c.unmatched;
  std::printf("  after renaming             %14s\n", Thousands(left -= c.pruned_renaming).c_str());
  std::printf("  after common subgraph      %14s\n", Thousands(left -= c.pruned_common_subgraph).c_str());
  std::printf("  after common supergraph    %14s\n", Thousands(left -= c.pruned_common_supergraph).c_str());
  std::printf("  after transitivity         %14s\n", Thousands(left -= c.pruned_transitive).c_str());
  std::printf("  refuted by the tests       %14s   (unexpressible %lld)\n", Thousands(c.refuted).c_str(),
              static_cast<long long>(c.unexpressible));
  std::printf("  rules                      %14s\n", Thousands(c.rules).c_str());
  std::printf("  wall time                  %12.2f s   (enumeration %.2f s, candidates %.2f s)\n", wall,
              s.enumerate_s, s.candidates_s);
  std::printf("  peak RSS                   %12.1f MiB\n", static_cast<double>(s.peak_rss_bytes) / (1 << 20));
  std::fflush(stdout);
  return s;
}

void ProjectDepth4(const Flags& f, const std::optional<GenerateSummary>& depth3) {
  GenerateOptions o;
  o.max_ops = 4;
  absl::StatusOr<SearchSpace> space = MakeSearchSpace(o);
  if (!space.ok()) return;
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(*space, o.seed, 4);
  if (!e.ok()) return;
  const std::vector<WorkUnit> units = (*e)->Units(2);
  std::vector<const WorkUnit*> sample;
  for (size_t i = 0; i < units.size(); i += static_cast<size_t>(f.sample)) sample.push_back(&units[i]);
  const int threads = f.threads > 0 ? f.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::unique_ptr<EnumerationWorker>> workers;
  for (int t = 0; t < threads; ++t) workers.push_back(std::make_unique<EnumerationWorker>(**e));
  std::vector<EnumerationStats> stats(static_cast<size_t>(threads));
  std::vector<double> cpu(static_cast<size_t>(threads), 0);
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  ParallelFor(static_cast<int64_t>(sample.size()), threads, [&](int64_t i, int t) {
    std::vector<GraphRecord> records;
    const auto s = std::chrono::steady_clock::now();
    const absl::Status st = workers[static_cast<size_t>(t)]->Run(*sample[static_cast<size_t>(i)], records,
                                                                  stats[static_cast<size_t>(t)], stop);
    (void)st;
    cpu[static_cast<size_t>(t)] += std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count();
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EnumerationStats total;
  double busy = 0;
  for (int t = 0; t < threads; ++t) {
    total += stats[static_cast<size_t>(t)];
    busy += cpu[static_cast<size_t>(t)];
  }
  const double scale = static_cast<double>(units.size()) / static_cast<double>(sample.size());
  const double graphs = static_cast<double>(total.graphs) * scale;
  const double core_s = busy * scale;
  const double bytes = graphs * 16;
  std::printf("\ndepth 4, projected from %zu of %zu work units (every %d-th; %.1f s on %d threads)\n",
              sample.size(), units.size(), f.sample, wall, threads);
  std::printf("  graphs                     %14s   (sample: %s, %s graphs/s per core)\n",
              Thousands(static_cast<int64_t>(graphs)).c_str(), Thousands(total.graphs).c_str(),
              Thousands(static_cast<int64_t>(static_cast<double>(total.graphs) / busy)).c_str());
  std::printf("  enumeration                %12.0f core-s (%.1f h on one core)\n", core_s, core_s / 3600);
  std::printf("  fingerprint records        %12.2f GiB (16 bytes a graph)\n", bytes / (1 << 30));
  std::printf("  per shard of %-3d           %12.0f core-s, shard file %.2f GiB, records in memory %.2f GiB\n"
              "                             (or at most --memory-limit, the rest in sorted spill files)\n",
              f.shards, core_s / f.shards, bytes / f.shards / (1 << 30), bytes / f.shards / (1 << 30));
  std::printf("  merge                      streams the %d shard files (k-way merge, memory O(shards))\n",
              f.shards);
  if (depth3 && depth3->enumeration.graphs > 0 && depth3->candidates.candidates > 0) {
    // The candidate stage, at depth 3's candidates per graph and seconds per
    // candidate; about 150 bytes of tables per candidate.
    const double ratio = static_cast<double>(depth3->candidates.candidates) /
                         static_cast<double>(depth3->enumeration.graphs);
    const double candidates = graphs * ratio;
    const double per = depth3->candidates_s * depth3->threads /
                       static_cast<double>(depth3->candidates.candidates);
    std::printf("  candidates (est.)          %14s   (depth 3: %.2f%% of graphs), ~%.0f core-s, ~%.1f GiB\n",
                Thousands(static_cast<int64_t>(candidates)).c_str(), 100 * ratio, candidates * per,
                candidates * 150 / (1 << 30));
  }
}

}  // namespace
}  // namespace lemma

int main(int argc, char** argv) {
  using namespace lemma;
  const Flags f = ParseFlags(argc, argv);
  std::printf("lemma generate benchmark: default universe (24 tensors), 28 op templates, seed 1\n");
  std::optional<GenerateSummary> depth3;
  for (int d : f.depths) {
    std::optional<GenerateSummary> s = RunDepth(d, f.threads);
    if (d == 3) depth3 = s;
  }
  if (f.sample > 0) ProjectDepth4(f, depth3);
  return 0;
}
