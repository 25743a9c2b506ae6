#include "tools/generate_command.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <unistd.h>

#include "generator/generate.h"
#include "ir/strings.h"
#include "rules/rule_text.h"

namespace lemma::cli {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "lemma generate: %s\n", std::string(status.message()).c_str());
  return kExitError;
}

int Usage(std::string_view message) {
  std::fprintf(stderr, "lemma generate: %.*s\n%s", static_cast<int>(message.size()), message.data(),
               HelpText(GenerateCommandSpec()).c_str());
  return kExitUsage;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string part;
  for (char c : s) {
    if (c == ',') {
      if (!part.empty()) out.push_back(part);
      part.clear();
    } else if (c != ' ') {
      part += c;
    }
  }
  if (!part.empty()) out.push_back(part);
  return out;
}

std::string Duration(double s) {
  if (s < 0) return "?";
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
  }
  return buf;
}

std::string Count(int64_t n) {
  char buf[32];
  if (n >= 10'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fM", static_cast<double>(n) / 1e6);
  } else if (n >= 10'000) {
    std::snprintf(buf, sizeof buf, "%.1fk", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  }
  return buf;
}

// One line, redrawn in place on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { Clear(); }

  void Show(const GenerateProgress& p) {
    if (!enabled_) return;
    std::string line = p.shard_count > 1 ? StrCat("[shard ", p.shard_index, "/", p.shard_count, "] ") : "";
    if (p.stage == "enumerate") {
      StrAppend(&line, "enumerate ", p.done, "/", p.total, " units  ", Count(p.graphs), " graphs  ",
                Count(static_cast<int64_t>(p.graphs_per_s)), " graphs/s  ETA ", Duration(p.eta_s));
    } else {
      StrAppend(&line, p.stage, " ", Count(p.done), "/", Count(p.total), "  (", Count(p.candidates),
                " candidates)  ETA ", Duration(p.eta_s));
    }
    if (line.size() < width_) line.resize(width_, ' ');
    width_ = line.size();
    std::fprintf(stderr, "\r%s", line.c_str());
    std::fflush(stderr);
  }

  void Clear() {
    if (!enabled_ || width_ == 0) return;
    std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
    std::fflush(stderr);
    width_ = 0;
  }

 private:
  bool enabled_;
  size_t width_ = 0;
};

// Writes the rule file, or prints it when `path` is "-".
absl::Status WriteRules(const std::string& path, const GenerateResult& r) {
  if (path != "-") return WriteRuleFile(path, r.rules, r.header);
  const std::string text = PrintRules(r.rules, r.header);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return absl::OkStatus();
}

// The summary goes to stdout, or to stderr when stdout carries the rules.
std::FILE* SummaryStream(const std::string& path) { return path == "-" ? stderr : stdout; }

int RunMerge(const Args& args) {
  std::vector<std::string> paths(args.positional().begin() + 1, args.positional().end());
  if (paths.empty()) return Usage("merge needs the shard files to merge");
  const std::string out = args.Get("--output");
  if (out.empty()) return Usage("merge needs -o FILE");
  GenerateOptions options;
  absl::StatusOr<int64_t> threads = args.GetInt("--threads", 0);
  if (!threads.ok()) return Fail(threads.status());
  options.threads = static_cast<int>(*threads);
  ProgressLine progress(isatty(STDERR_FILENO) != 0 && !args.Has("--quiet"));
  options.progress = [&](const GenerateProgress& p) { progress.Show(p); };
  absl::StatusOr<GenerateResult> r = MergeShards(paths, options);
  progress.Clear();
  if (!r.ok()) return Fail(r.status());
  if (absl::Status s = WriteRules(out, *r); !s.ok()) return Fail(s);
  if (!args.Has("--quiet")) {
    std::fprintf(SummaryStream(out), "%s", r->summary.ToString().c_str());
    std::fprintf(SummaryStream(out), "merged %zu shard files: wrote %d rules to %s\n", paths.size(),
                 r->rules.size(), out.c_str());
  }
  return kExitOk;
}

}  // namespace

CommandSpec GenerateCommandSpec() {
  return CommandSpec{
      "generate",
      "enumerate operator graphs and find candidate substitutions",
      "lemma generate [--max-ops N] [--ops LIST] -o FILE [--threads T] [--shard i/n] [--seed S] "
      "[--time-limit S]\n       lemma generate merge SHARD... -o FILE",
      "Enumerates every graph of up to N ops over the generator's op set and input\n"
      "tensors (each dim a size variable), fingerprints each one on random inputs\n"
      "modulo a prime, pairs graphs with equal fingerprints, prunes pairs that kept\n"
      "rules imply (renaming, common subgraphs), tests the rest (more draws, float64,\n"
      "other sizes) and writes them as rules with status 'tested'.\n\n"
      "Sharded runs: with --shard i/n, or under mpirun / srun (the shard comes from\n"
      "OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE or SLURM_PROCID/NTASKS), each shard\n"
      "writes FILE.shard-i-of-n; `lemma generate merge` combines them into FILE,\n"
      "the same file a single process writes.",
      {{"--output", "-o", "FILE", "the rule file to write, - for stdout (a shard writes FILE.shard-i-of-n)"},
       {"--max-ops", "", "N", "ops per graph, 1 to 4 (default 3)"},
       {"--ops", "", "LIST", "generator ops or templates, comma-separated (default all)"},
       {"--inputs", "", "LIST", "input tensors, comma-separated (default all)"},
       {"--threads", "", "T", "threads (default: one per core)"},
       {"--shard", "", "i/n", "enumerate shard i of n and write its shard file"},
       {"--seed", "", "S", "seed of the random inputs (default 1)"},
       {"--time-limit", "", "S", "stop enumerating after S seconds (partial result)"},
       {"--max-graphs", "", "N", "stop enumerating after N graphs (partial result)"},
       {"--unit-depth", "", "D", "ops in a work unit's prefix (default 1, 2 for 4 ops)"},
       {"--memory-limit", "", "MiB", "spill sorted fingerprints to disk beyond this much memory"},
       {"--spill-dir", "", "DIR", "where spill files go (default $TMPDIR or /tmp)"},
       {"--quiet", "", "", "no summary and no progress line"}},
      0,
      1 << 20};
}

int RunGenerateCommand(const Args& args) {
  if (!args.positional().empty()) {
    if (args.positional()[0] == "merge") return RunMerge(args);
    return Usage(StrCat("unexpected argument '", args.positional()[0], "' (did you mean merge?)"));
  }
  const std::string out = args.Get("--output");
  if (out.empty()) return Usage("-o FILE is required");
  GenerateOptions options;
  absl::StatusOr<int64_t> max_ops = args.GetInt("--max-ops", 3);
  absl::StatusOr<int64_t> threads = args.GetInt("--threads", 0);
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  absl::StatusOr<int64_t> max_graphs = args.GetInt("--max-graphs", 0);
  absl::StatusOr<int64_t> unit_depth = args.GetInt("--unit-depth", 0);
  absl::StatusOr<int64_t> memory_limit = args.GetInt("--memory-limit", 0);
  for (const auto* v : {&max_ops, &threads, &seed, &max_graphs, &unit_depth, &memory_limit}) {
    if (!v->ok()) return Fail(v->status());
  }
  options.max_ops = static_cast<int>(*max_ops);
  options.threads = static_cast<int>(*threads);
  options.seed = static_cast<uint64_t>(*seed);
  options.max_graphs = *max_graphs;
  options.unit_depth = static_cast<int>(*unit_depth);
  options.memory_limit_bytes = *memory_limit * (int64_t{1} << 20);
  options.spill_dir = args.Get("--spill-dir");
  options.ops = SplitList(args.Get("--ops"));
  options.inputs = SplitList(args.Get("--inputs"));
  if (args.Has("--time-limit")) {
    const std::string t = args.Get("--time-limit");
    char* end = nullptr;
    options.time_limit_s = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || options.time_limit_s <= 0) {
      return Fail(absl::InvalidArgumentError(StrCat("--time-limit expects seconds, got '", t, "'")));
    }
  }
  if (args.Has("--shard")) {
    const std::string s = args.Get("--shard");
    int i = -1, n = -1;
    char tail = 0;
    if (std::sscanf(s.c_str(), "%d/%d%c", &i, &n, &tail) != 2) {
      return Fail(absl::InvalidArgumentError(StrCat("--shard expects i/n, got '", s, "'")));
    }
    options.shard_index = i;
    options.shard_count = n;
  } else if (std::optional<std::pair<int, int>> env = ShardFromEnvironment()) {
    options.shard_index = env->first;
    options.shard_count = env->second;
  }
  const bool quiet = args.Has("--quiet");
  ProgressLine progress(isatty(STDERR_FILENO) != 0 && !quiet);
  options.progress = [&](const GenerateProgress& p) { progress.Show(p); };

  if (options.shard_count > 1) {
    const std::string path = ShardPath(out, options.shard_index, options.shard_count);
    absl::StatusOr<GenerateSummary> s = GenerateShard(options, path);
    progress.Clear();
    if (!s.ok()) return Fail(s.status());
    if (!quiet) {
      std::printf("%s", s->ToString().c_str());
      std::printf("wrote shard %d/%d to %s\n", options.shard_index, options.shard_count, path.c_str());
    }
    return kExitOk;
  }
  absl::StatusOr<GenerateResult> r = Generate(options);
  progress.Clear();
  if (!r.ok()) return Fail(r.status());
  if (absl::Status s = WriteRules(out, *r); !s.ok()) return Fail(s);
  if (!quiet) {
    std::fprintf(SummaryStream(out), "%s", r->summary.ToString().c_str());
    std::fprintf(SummaryStream(out), "wrote %d rules to %s\n", r->rules.size(), out.c_str());
  }
  if (r->summary.stop != StopReason::kExhausted) {
    std::fprintf(stderr, "lemma generate: stopped by the %s: the rules are from part of the graphs\n",
                 std::string(StopReasonName(r->summary.stop)).c_str());
  }
  return kExitOk;
}

}  // namespace lemma::cli
