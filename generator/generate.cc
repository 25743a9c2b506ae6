#include "generator/generate.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "generator/parallel.h"
#include "generator/shard_file.h"
#include "generator/space.h"
#include "generator/universe.h"
#include "ir/strings.h"

namespace lemma {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

absl::StatusOr<SearchSpace> MakeSearchSpace(const GenerateOptions& options) {
  absl::StatusOr<Universe> universe = SelectTensors(DefaultUniverse(), options.inputs);
  if (!universe.ok()) return universe.status();
  absl::StatusOr<std::vector<OpTemplate>> templates =
      SelectTemplates(DefaultTemplates(*universe), options.ops);
  if (!templates.ok()) return templates.status();
  return SearchSpace::Create(std::move(*universe), std::move(*templates));
}

namespace {

int ThreadCount(int requested) {
  if (requested > 0) return requested;
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

absl::Status CheckOptions(const GenerateOptions& o) {
  if (o.max_ops < 1 || o.max_ops > kMaxGraphOps) {
    return absl::InvalidArgumentError(StrCat("max_ops must be 1 to ", kMaxGraphOps, ", not ", o.max_ops));
  }
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count) {
    return absl::InvalidArgumentError(
        StrCat("shard ", o.shard_index, "/", o.shard_count, " is not a shard (0 <= i < n)"));
  }
  if (o.time_limit_s < 0) return absl::InvalidArgumentError("the time limit must not be negative");
  if (o.max_graphs < 0) return absl::InvalidArgumentError("the graph budget must not be negative");
  return absl::OkStatus();
}

// A sorted run of records: a unit's vector, or a shard file.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The next record, or false at the end.
  virtual bool Next(GraphRecord& out) = 0;
};

class VectorSource : public RecordSource {
 public:
  explicit VectorSource(std::vector<GraphRecord>& v) : v_(v) {}
  bool Next(GraphRecord& out) override {
    if (pos_ == v_.size()) {
      std::vector<GraphRecord>().swap(v_);  // free it as soon as it is read
      return false;
    }
    out = v_[pos_++];
    return true;
  }

 private:
  std::vector<GraphRecord>& v_;
  size_t pos_ = 0;
};

class FileSource : public RecordSource {
 public:
  explicit FileSource(ShardReader& reader) : reader_(reader) {}
  bool Next(GraphRecord& out) override { return reader_.Next(out); }

 private:
  ShardReader& reader_;
};

// Merges sorted runs into one sorted stream, calling sink(record).
template <typename Sink>
void MergeRuns(std::vector<std::unique_ptr<RecordSource>>& runs, Sink sink) {
  using Entry = std::pair<GraphRecord, size_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  for (size_t i = 0; i < runs.size(); ++i) {
    GraphRecord r;
    if (runs[i]->Next(r)) heap.emplace(r, i);
  }
  while (!heap.empty()) {
    const auto [r, i] = heap.top();
    heap.pop();
    sink(r);
    GraphRecord next;
    if (runs[i]->Next(next)) heap.emplace(next, i);
  }
}

// The enumeration of one shard: sorted runs of records and the counts.
// Sorted runs written to disk when the records in memory exceed
// options.memory_limit_bytes; removed when the run is done.
class Spills {
 public:
  Spills() = default;
  Spills(const Spills&) = delete;
  Spills& operator=(const Spills&) = delete;
  ~Spills() {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }
  const std::vector<std::string>& paths() const { return paths_; }

  // Merges `runs` into a new spill file in `dir` and frees them.
  absl::Status Write(const std::string& dir, std::vector<std::vector<GraphRecord>*> runs) {
    ShardHeader h;
    h.options = "spill";
    for (const std::vector<GraphRecord>* r : runs) h.records += static_cast<int64_t>(r->size());
    const std::string path = StrCat(dir, "/lemma-generate-spill-", getpid(), "-", paths_.size());
    absl::StatusOr<ShardWriter> w = ShardWriter::Open(path, h);
    if (!w.ok()) return w.status();
    std::vector<std::unique_ptr<RecordSource>> sources;
    for (std::vector<GraphRecord>* r : runs) sources.push_back(std::make_unique<VectorSource>(*r));
    absl::Status status = absl::OkStatus();
    MergeRuns(sources, [&](const GraphRecord& r) {
      if (status.ok()) status = w->Write(r);
    });
    if (!status.ok()) return status;
    if (absl::Status st = w->Commit(); !st.ok()) return st;
    paths_.push_back(path);
    return absl::OkStatus();
  }

 private:
  std::vector<std::string> paths_;
};

struct Enumerated {
  std::vector<std::vector<GraphRecord>> runs;
  std::unique_ptr<Spills> spills = std::make_unique<Spills>();
  GenerateSummary summary;
};

// The runs of `en` as record sources: spill files, then runs in memory.
absl::StatusOr<std::vector<std::unique_ptr<RecordSource>>> Sources(
    Enumerated& en, std::vector<std::unique_ptr<ShardReader>>& readers) {
  std::vector<std::unique_ptr<RecordSource>> sources;
  for (const std::string& path : en.spills->paths()) {
    absl::StatusOr<std::unique_ptr<ShardReader>> r = ShardReader::Open(path);
    if (!r.ok()) return r.status();
    readers.push_back(std::move(*r));
    sources.push_back(std::make_unique<FileSource>(*readers.back()));
  }
  for (std::vector<GraphRecord>& run : en.runs) sources.push_back(std::make_unique<VectorSource>(run));
  return sources;
}

absl::StatusOr<Enumerated> Enumerate(const Enumerator& e, const GenerateOptions& options,
                                     Clock::time_point start) {
  Enumerated out;
  GenerateSummary& s = out.summary;
  s.max_ops = options.max_ops;
  s.seed = options.seed;
  s.threads = ThreadCount(options.threads);
  s.shard_index = options.shard_index;
  s.shard_count = options.shard_count;
  s.universe_tensors = static_cast<int64_t>(e.space().universe().tensors.size());
  s.templates = static_cast<int64_t>(e.space().templates().size());
  const int unit_depth = options.unit_depth > 0 ? options.unit_depth : (options.max_ops <= 3 ? 1 : 2);
  std::vector<WorkUnit> all = e.Units(unit_depth);
  std::vector<const WorkUnit*> units;
  for (size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int>(i % static_cast<size_t>(options.shard_count)) == options.shard_index) {
      units.push_back(&all[i]);
    }
  }
  s.work_units = static_cast<int64_t>(units.size());
  const int64_t n = s.work_units;
  out.runs.resize(static_cast<size_t>(n) + 1);
  if (options.shard_index == 0) {
    out.runs.back() = e.IdentityRecords();
    std::sort(out.runs.back().begin(), out.runs.back().end());
  }
  std::vector<std::unique_ptr<EnumerationWorker>> workers;
  for (int t = 0; t < s.threads; ++t) workers.push_back(std::make_unique<EnumerationWorker>(e));
  std::vector<EnumerationStats> stats(static_cast<size_t>(s.threads));
  std::vector<absl::Status> errors(static_cast<size_t>(s.threads));
  std::atomic<bool> stop{false};
  std::atomic<int64_t> units_done{0}, graphs{0};
  std::atomic<int> stop_reason{static_cast<int>(StopReason::kExhausted)};
  const Clock::time_point enum_start = Clock::now();
  auto poll = [&] {
    const double elapsed = Seconds(enum_start);
    if (options.time_limit_s > 0 && Seconds(start) > options.time_limit_s && !stop.load()) {
      stop_reason.store(static_cast<int>(StopReason::kTimeLimit));
      stop.store(true);
    }
    if (!options.progress) return;
    GenerateProgress p;
    p.stage = "enumerate";
    p.shard_index = options.shard_index;
    p.shard_count = options.shard_count;
    p.done = units_done.load();
    p.total = n;
    p.graphs = graphs.load();
    p.elapsed_s = elapsed;
    p.graphs_per_s = elapsed > 0 ? static_cast<double>(p.graphs) / elapsed : 0;
    if (p.done > 0) p.eta_s = elapsed * static_cast<double>(n - p.done) / static_cast<double>(p.done);
    options.progress(p);
  };
  std::mutex spill_mutex;
  std::vector<int64_t> finished;  // units whose runs are in memory
  int64_t in_memory = 0;          // records in those runs
  const std::string spill_dir = !options.spill_dir.empty()      ? options.spill_dir
                                : std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR")
                                                                   : "/tmp";
  ParallelFor(
      n, s.threads,
      [&](int64_t i, int thread) {
        if (stop.load(std::memory_order_relaxed)) return;
        std::vector<GraphRecord>& run = out.runs[static_cast<size_t>(i)];
        EnumerationStats unit_stats;
        absl::Status st = workers[static_cast<size_t>(thread)]->Run(*units[static_cast<size_t>(i)],
                                                                    run, unit_stats, stop);
        if (!st.ok()) {
          errors[static_cast<size_t>(thread)] = st;
          stop.store(true);
        }
        std::sort(run.begin(), run.end());
        if (options.memory_limit_bytes > 0) {
          std::lock_guard<std::mutex> lock(spill_mutex);
          finished.push_back(i);
          in_memory += static_cast<int64_t>(run.size());
          if (in_memory * static_cast<int64_t>(sizeof(GraphRecord)) > options.memory_limit_bytes) {
            std::vector<std::vector<GraphRecord>*> full;
            for (int64_t u : finished) full.push_back(&out.runs[static_cast<size_t>(u)]);
            if (absl::Status w = out.spills->Write(spill_dir, full); !w.ok()) {
              errors[static_cast<size_t>(thread)] = w;
              stop.store(true);
            }
            finished.clear();
            in_memory = 0;
          }
        }
        stats[static_cast<size_t>(thread)] += unit_stats;
        const int64_t total = graphs.fetch_add(unit_stats.graphs) + unit_stats.graphs;
        units_done.fetch_add(1);
        if (options.max_graphs > 0 && total >= options.max_graphs && !stop.load()) {
          stop_reason.store(static_cast<int>(StopReason::kBudget));
          stop.store(true);
        }
      },
      poll);
  for (const absl::Status& st : errors) {
    if (!st.ok()) return st;
  }
  for (const EnumerationStats& st : stats) s.enumeration += st;
  s.stop = static_cast<StopReason>(stop_reason.load());
  s.enumerate_s = Seconds(enum_start);
  return out;
}

std::string OptionsLine(const GenerateOptions& o) {
  return StrCat(o.max_ops, " ", o.seed, " ", o.ops.empty() ? "-" : StrJoin(o.ops, ","), " ",
                o.inputs.empty() ? "-" : StrJoin(o.inputs, ","));
}

absl::StatusOr<GenerateResult> Finish(const Enumerator& e, const GenerateOptions& options,
                                      std::vector<std::unique_ptr<RecordSource>>& runs,
                                      GenerateSummary summary, Clock::time_point start) {
  const Clock::time_point cand_start = Clock::now();
  CandidateCollector collector;
  MergeRuns(runs, [&](const GraphRecord& r) { collector.Add(r); });
  collector.Finish();
  summary.fingerprints = collector.distinct_fingerprints();
  CandidateOptions copts;
  copts.seed = options.seed;
  copts.threads = ThreadCount(options.threads);
  copts.origin = OriginOf(options);
  copts.explain = options.explain;
  const int64_t num_candidates = static_cast<int64_t>(collector.pairs().size());
  if (options.progress) {
    copts.progress = [&, last = std::string(), since = Clock::now()](
                         std::string_view stage, int64_t done, int64_t total) mutable {
      if (stage != last) {
        last = std::string(stage);
        since = Clock::now();
      }
      GenerateProgress p;
      p.stage = stage;
      p.shard_index = options.shard_index;
      p.shard_count = options.shard_count;
      p.done = done;
      p.total = total;
      p.graphs = summary.enumeration.graphs;
      p.candidates = num_candidates;
      p.elapsed_s = Seconds(cand_start);
      if (done > 0) p.eta_s = Seconds(since) * static_cast<double>(total - done) / static_cast<double>(done);
      options.progress(p);
    };
  }
  absl::StatusOr<CandidateResult> cr = ProcessCandidates(e, std::move(collector.pairs()), copts);
  if (!cr.ok()) return cr.status();
  GenerateResult result;
  result.rules = std::move(cr->rules);
  result.pruned = std::move(cr->pruned);
  summary.candidates = cr->stats;
  summary.candidates_s = Seconds(cand_start);
  summary.total_s = Seconds(start);
  summary.peak_rss_bytes = PeakRssBytes();
  result.summary = summary;
  result.header = StrCat("Generated by ", OriginOf(options), " (", result.rules.size(),
                         " rules, every one random-tested, none proved).\n",
                         "Graphs of up to ", options.max_ops, " ops over ",
                         summary.universe_tensors, " input tensors and ", summary.templates,
                         " op templates; ", summary.enumeration.graphs, " graphs, ",
                         summary.fingerprints, " fingerprints, ", summary.candidates.candidates,
                         " candidates.");
  return result;
}

}  // namespace

std::string GenerateSummary::ToString() const {
  const CandidateStats& c = candidates;
  auto line = [](std::string_view what, auto value) { return StrCat("  ", what, std::string(30 - what.size(), ' '), value, "\n"); };
  std::string out = StrCat("lemma generate: max_ops ", max_ops, ", seed ", seed, ", ", threads,
                           " thread(s)", shard_count > 1 ? StrCat(", shard ", shard_index, "/", shard_count) : "",
                           "\n");
  out += line("input tensors", universe_tensors);
  out += line("op templates", templates);
  out += line("work units", work_units);
  out += line("graphs enumerated", enumeration.graphs);
  out += line("  ending in a duplicate", enumeration.duplicates);
  out += line("ops dropped (repeat a tensor)", enumeration.dropped);
  out += line("ops evaluated", enumeration.evaluations);
  out += line("ops from caches", enumeration.cache_hits);
  if (fingerprints > 0) {
    out += line("distinct fingerprints", fingerprints);
    out += line("candidates", c.candidates);
    out += line("  outputs not pairing up", c.unmatched);
    out += line("  pruned: renaming", c.pruned_renaming);
    out += line("  pruned: common subgraph", c.pruned_common_subgraph);
    out += line("  pruned: common supergraph", c.pruned_common_supergraph);
    out += line("  pruned: transitivity", c.pruned_transitive);
    out += line("  not expressible as a rule", c.unexpressible);
    out += line("tested", c.tested);
    out += line("  refuted by the tests", c.refuted);
    out += line("rules", c.rules);
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f s", enumerate_s);
  out += line("enumeration time", std::string(buf));
  if (fingerprints > 0) {
    std::snprintf(buf, sizeof buf, "%.2f s", candidates_s);
    out += line("candidate time", std::string(buf));
  }
  std::snprintf(buf, sizeof buf, "%.2f s", total_s);
  out += line("total time", std::string(buf));
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(peak_rss_bytes) / (1 << 20));
  out += line("peak memory (RSS)", std::string(buf));
  out += line("stopped by", std::string(StopReasonName(stop)));
  return out;
}

absl::StatusOr<GenerateResult> Generate(const GenerateOptions& options) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  if (options.shard_count != 1) {
    return absl::InvalidArgumentError("a sharded run writes shard files: use GenerateShard");
  }
  const Clock::time_point start = Clock::now();
  absl::StatusOr<SearchSpace> space = MakeSearchSpace(options);
  if (!space.ok()) return space.status();
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(*space, options.seed, options.max_ops);
  if (!e.ok()) return e.status();
  absl::StatusOr<Enumerated> en = Enumerate(**e, options, start);
  if (!en.ok()) return en.status();
  std::vector<std::unique_ptr<ShardReader>> readers;
  absl::StatusOr<std::vector<std::unique_ptr<RecordSource>>> runs = Sources(*en, readers);
  if (!runs.ok()) return runs.status();
  absl::StatusOr<GenerateResult> result = Finish(**e, options, *runs, en->summary, start);
  for (const auto& r : readers) {
    if (result.ok() && !r->status().ok()) return r->status();
  }
  return result;
}

absl::StatusOr<GenerateSummary> GenerateShard(const GenerateOptions& options,
                                              const std::string& path) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  const Clock::time_point start = Clock::now();
  absl::StatusOr<SearchSpace> space = MakeSearchSpace(options);
  if (!space.ok()) return space.status();
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(*space, options.seed, options.max_ops);
  if (!e.ok()) return e.status();
  absl::StatusOr<Enumerated> en = Enumerate(**e, options, start);
  if (!en.ok()) return en.status();
  GenerateSummary& s = en->summary;
  int64_t count = 0;
  for (const std::vector<GraphRecord>& run : en->runs) count += static_cast<int64_t>(run.size());
  std::vector<std::unique_ptr<ShardReader>> readers;
  absl::StatusOr<std::vector<std::unique_ptr<RecordSource>>> sources = Sources(*en, readers);
  if (!sources.ok()) return sources.status();
  for (const auto& r : readers) count += r->header().records;
  std::vector<std::unique_ptr<RecordSource>>& runs = *sources;
  ShardHeader header;
  header.options = OptionsLine(options);
  header.shard_index = options.shard_index;
  header.shard_count = options.shard_count;
  header.stats = s.enumeration;
  header.work_units = s.work_units;
  header.stop = static_cast<int>(s.stop);
  header.records = count;
  absl::StatusOr<ShardWriter> writer = ShardWriter::Open(path, header);
  if (!writer.ok()) return writer.status();
  absl::Status status = absl::OkStatus();
  MergeRuns(runs, [&](const GraphRecord& r) {
    if (status.ok()) status = writer->Write(r);
  });
  if (!status.ok()) return status;
  for (const auto& r : readers) {
    if (!r->status().ok()) return r->status();
  }
  if (absl::Status st = writer->Commit(); !st.ok()) return st;
  s.total_s = Seconds(start);
  s.peak_rss_bytes = PeakRssBytes();
  return s;
}

absl::StatusOr<GenerateResult> MergeShards(const std::vector<std::string>& paths,
                                           const GenerateOptions& merge_options) {
  const Clock::time_point start = Clock::now();
  if (paths.empty()) return absl::InvalidArgumentError("no shard files to merge");
  std::vector<std::unique_ptr<ShardReader>> readers;
  for (const std::string& path : paths) {
    absl::StatusOr<std::unique_ptr<ShardReader>> r = ShardReader::Open(path);
    if (!r.ok()) return r.status();
    readers.push_back(std::move(*r));
  }
  const ShardHeader& first = readers[0]->header();
  std::vector<std::string> seen(static_cast<size_t>(first.shard_count));
  GenerateSummary summary;
  for (size_t i = 0; i < readers.size(); ++i) {
    const ShardHeader& h = readers[i]->header();
    if (h.options != first.options || h.shard_count != first.shard_count) {
      return absl::InvalidArgumentError(StrCat("'", paths[i], "' is from another run than '",
                                               paths[0], "' (options ", h.options, " vs ",
                                               first.options, ", ", h.shard_count, " vs ",
                                               first.shard_count, " shards)"));
    }
    std::string& slot = seen[static_cast<size_t>(h.shard_index)];
    if (!slot.empty()) {
      return absl::InvalidArgumentError(StrCat("shard ", h.shard_index, " of ", h.shard_count,
                                               " is given twice: '", slot, "' and '", paths[i], "'"));
    }
    slot = paths[i];
    summary.enumeration += h.stats;
    summary.work_units += h.work_units;
    summary.stop = std::max(summary.stop, static_cast<StopReason>(h.stop));
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i].empty()) {
      return absl::InvalidArgumentError(
          StrCat("shard ", i, " of ", first.shard_count, " is missing"));
    }
  }
  // The run's options, from the header.
  GenerateOptions options = merge_options;
  {
    std::vector<std::string> f;
    std::string cur;
    for (char ch : first.options) {
      if (ch == ' ') {
        f.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
    f.push_back(cur);
    if (f.size() != 4) return absl::InvalidArgumentError("bad options line in a shard file");
    options.max_ops = std::atoi(f[0].c_str());
    options.seed = std::strtoull(f[1].c_str(), nullptr, 10);
    auto split = [](const std::string& csv) {
      std::vector<std::string> out;
      if (csv == "-") return out;
      std::string part;
      for (char ch : csv) {
        if (ch == ',') {
          out.push_back(part);
          part.clear();
        } else {
          part += ch;
        }
      }
      out.push_back(part);
      return out;
    };
    options.ops = split(f[2]);
    options.inputs = split(f[3]);
    options.shard_index = 0;
    options.shard_count = 1;
  }
  absl::StatusOr<SearchSpace> space = MakeSearchSpace(options);
  if (!space.ok()) return space.status();
  absl::StatusOr<std::unique_ptr<Enumerator>> e = Enumerator::Create(*space, options.seed, options.max_ops);
  if (!e.ok()) return e.status();
  summary.max_ops = options.max_ops;
  summary.seed = options.seed;
  summary.threads = ThreadCount(options.threads);
  summary.universe_tensors = static_cast<int64_t>(space->universe().tensors.size());
  summary.templates = static_cast<int64_t>(space->templates().size());
  std::vector<std::unique_ptr<RecordSource>> runs;
  for (auto& r : readers) runs.push_back(std::make_unique<FileSource>(*r));
  absl::StatusOr<GenerateResult> result = Finish(**e, options, runs, summary, start);
  if (!result.ok()) return result.status();
  for (size_t i = 0; i < readers.size(); ++i) {
    if (!readers[i]->status().ok()) return readers[i]->status();
  }
  return result;
}

std::optional<std::pair<int, int>> ShardFromEnvironment() {
  static constexpr std::pair<const char*, const char*> kVars[] = {
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
      {"PMI_RANK", "PMI_SIZE"},
      {"SLURM_PROCID", "SLURM_NTASKS"},
  };
  for (const auto& [rank_var, size_var] : kVars) {
    const char* rank = std::getenv(rank_var);
    const char* size = std::getenv(size_var);
    if (rank == nullptr || size == nullptr) continue;
    char* end = nullptr;
    const long r = std::strtol(rank, &end, 10);
    if (*rank == '\0' || *end != '\0') continue;
    const long n = std::strtol(size, &end, 10);
    if (*size == '\0' || *end != '\0') continue;
    if (n <= 1 || r < 0 || r >= n) return std::nullopt;
    return std::make_pair(static_cast<int>(r), static_cast<int>(n));
  }
  return std::nullopt;
}

std::string ShardPath(const std::string& out, int index, int count) {
  return StrCat(out, ".shard-", index, "-of-", count);
}

std::string OriginOf(const GenerateOptions& o) {
  std::string s = StrCat("lemma generate max_ops=", o.max_ops, " seed=", o.seed);
  if (!o.ops.empty()) StrAppend(&s, " ops=", StrJoin(o.ops, ","));
  if (!o.inputs.empty()) StrAppend(&s, " inputs=", StrJoin(o.inputs, ","));
  return s;
}

int64_t PeakRssBytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  int64_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) kb = std::strtoll(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace lemma
