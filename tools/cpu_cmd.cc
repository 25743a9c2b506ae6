// lemma tune and lemma bench: the CPU backend from the command line.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/cpu/codegen.h"
#include "kernels/cpu/recheck.h"
#include "kernels/cpu/runtime.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/tuning.h"
#include "kernels/random.h"
#include "tools/bench_report.h"
#include "tools/commands.h"
#include "tools/common.h"

namespace lemma::cli {
namespace {

constexpr std::string_view kDefaultLog = "lemma.tuning.jsonl";

// The graph of FILE, its weights (random, from --seed) and the options shared
// by tune and bench.
struct Setup {
  Graph graph;
  NamedTensors<F32> feeds;
  int threads = 0;
  std::optional<cpu::WeightCache> weight_cache;  // unset: by the weights' size
};

// The value of option `name` among `choices` (its text, its value); the
// first choice when the option is absent.
template <typename T>
absl::StatusOr<T> GetChoice(const Args& args, const std::string& name,
                            std::initializer_list<std::pair<const char*, T>> choices) {
  const std::string given = args.Get(name, choices.begin()->first);
  std::string names;
  size_t i = 0;
  for (const auto& [text, value] : choices) {
    if (given == text) return value;
    names += StrCat(i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ", text);
    ++i;
  }
  return absl::InvalidArgumentError(StrCat(name, " must be ", names, ", not '", given, "'"));
}

absl::StatusOr<Setup> Prepare(const Args& args) {
  absl::StatusOr<Graph> g = ReadGraphFile(args.positional()[0]);
  if (!g.ok()) return g.status();
  absl::StatusOr<int64_t> seed = args.GetInt("--seed", 1);
  if (!seed.ok()) return seed.status();
  absl::StatusOr<int64_t> threads = args.GetInt("--threads", 0);
  if (!threads.ok()) return threads.status();
  if (*threads < 0 || *threads > 1024) {
    return absl::InvalidArgumentError(StrCat("--threads must be in [0, 1024], not ", *threads));
  }
  Setup s;
  s.feeds = RandomFeeds<F32>(*g, static_cast<uint64_t>(*seed));
  s.graph = *std::move(g);
  s.threads = static_cast<int>(*threads);
  absl::StatusOr<std::optional<cpu::WeightCache>> cache = GetChoice<std::optional<cpu::WeightCache>>(
      args, "--weight-cache",
      {{"auto", std::nullopt}, {"warm", cpu::WeightCache::kWarm}, {"cold", cpu::WeightCache::kCold}});
  if (!cache.ok()) return cache.status();
  s.weight_cache = *cache;
  return s;
}

// ---- tune

int RunTune(const Args& args) {
  absl::StatusOr<Setup> setup = Prepare(args);
  if (!setup.ok()) return Fail("tune", setup.status());
  absl::StatusOr<int64_t> budget = args.GetInt("--budget", 32);
  if (!budget.ok()) return Fail("tune", budget.status());
  if (*budget < 1 || *budget > 100000) {
    return Fail("tune", absl::InvalidArgumentError(
                            StrCat("--budget must be in [1, 100000], not ", *budget)));
  }
  absl::StatusOr<int64_t> rounds = args.GetInt("--rounds", 6);
  if (!rounds.ok()) return Fail("tune", rounds.status());
  if (args.Has("--rounds") && !args.Has("--recheck")) {
    return Fail("tune", absl::InvalidArgumentError("--rounds is for --recheck"));
  }
  if (*rounds < 1 || *rounds > 1000) {
    return Fail("tune", absl::InvalidArgumentError(StrCat("--rounds must be in [1, 1000], not ", *rounds)));
  }
  absl::StatusOr<double> limit = args.GetDouble("--time-limit", 0);
  if (!limit.ok()) return Fail("tune", limit.status());
  if (!(*limit >= 0 && *limit <= 1e7)) {
    return Fail("tune", absl::InvalidArgumentError(StrCat("--time-limit must be in [0, 1e7] seconds, not ", *limit)));
  }
  const std::string path = args.Get("--log", kDefaultLog);
  absl::StatusOr<cpu::TuningLog> log = cpu::TuningLog::Load(path);
  if (!log.ok()) return Fail("tune", log.status());
  const size_t before = log->records().size();
  cpu::RuntimeOptions options;
  options.threads = setup->threads;
  options.weight_cache = setup->weight_cache;
  options.tuning_log = &*log;
  options.tune_budget = static_cast<int>(*budget);
  const auto start = std::chrono::steady_clock::now();
  if (args.Has("--time-limit")) {
    options.tune_deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                        std::chrono::duration<double>(*limit));
  }
  // The log is saved after each workload tuned, so that a run stopped (or
  // out of time) keeps what it measured.
  absl::Status saved = absl::OkStatus();
  options.on_step = [&](int i, int n, const cpu::StepInfo& s) {
    std::fprintf(stderr, "[%d/%d] %s: %s, %s\n", i + 1, n, s.label.c_str(),
                 std::string(cpu::ProviderName(s.provider)).c_str(), s.why.c_str());
    if (saved.ok() && s.why.find("tuned now") != std::string::npos) saved = log->Save();
  };
  absl::StatusOr<std::unique_ptr<cpu::Executable>> exe =
      cpu::Executable::Compile(setup->graph, setup->feeds, options);
  // Measurements made before a failure are kept too.
  const size_t measurements = log->records().size() - before;
  if (!saved.ok()) return Fail("tune", saved);
  if (!exe.ok()) {
    if (absl::Status s = log->Save(); !s.ok()) return Fail("tune", s);
    return Fail("tune", exe.status());
  }
  std::optional<cpu::RecheckResult> recheck;
  if (args.Has("--recheck")) {
    cpu::RecheckOptions ro;
    ro.rounds = static_cast<int>(*rounds);
    ro.on_round = [](int round, int total) {
      std::fprintf(stderr, "recheck: round %d/%d\n", round, total);
    };
    std::fprintf(stderr, "recheck: the log's schedules against the defaults, in the model\n");
    options.on_step = nullptr;
    absl::StatusOr<cpu::RecheckResult> r = cpu::RecheckInModel(setup->graph, setup->feeds, *log, options, ro);
    if (!r.ok()) {
      if (absl::Status s = log->Save(); !s.ok()) return Fail("tune", s);
      return Fail("tune", r.status());
    }
    recheck = *std::move(r);
  }
  const int64_t dropped = args.Has("--keep-best") ? log->KeepBest() : 0;
  if (absl::Status s = log->Save(); !s.ok()) return Fail("tune", s);
  int tuned = 0, replayed = 0, cut = 0, untuned = 0;
  for (const cpu::StepInfo& s : (*exe)->steps()) {
    if (s.why.find("tuned now") != std::string::npos) ++tuned;
    if (s.why.find("(log)") != std::string::npos) ++replayed;
    if (s.why.find("stopped at the time limit") != std::string::npos) ++cut;
    if (s.why.find("not tuned: the time limit") != std::string::npos) ++untuned;
  }
  std::printf("graph %s: %zu steps on %d threads (%s), weights timed %s\n",
              setup->graph.name().c_str(), (*exe)->steps().size(), (*exe)->threads(),
              cpu::HostTarget().Key((*exe)->threads()).c_str(),
              cpu::WeightCacheName((*exe)->weight_cache()));
  std::printf("  tuned now        %d workloads, %zu measurements\n", tuned, measurements);
  std::printf("  from the log     %d workloads\n", replayed);
  if (args.Has("--time-limit")) {
    std::printf("  time limit       %g s: %d workloads cut short, %d not tuned%s\n", *limit, cut, untuned,
                untuned > 0 ? " (run again to go on)" : "");
  }
  std::printf("  log              %s (%zu records%s)\n", path.c_str(), log->records().size(),
              args.Has("--keep-best")
                  ? StrCat(", the one replayed for each workload; ", dropped, " dropped").c_str()
                  : "");
  if (recheck) {
    int to_default = 0;
    for (const cpu::RecheckedWorkload& w : recheck->workloads) {
      to_default += w.default_seconds < w.logged_seconds;
    }
    std::printf("  rechecked        %zu workloads in the model (%d steps), %d rounds: "
                "the default faster for %d\n",
                recheck->workloads.size(), recheck->generated, static_cast<int>(*rounds), to_default);
    std::printf("  steps total      %.3f ms with the log's schedules, %.3f ms with the faster of each\n",
                recheck->logged_total * 1e3, recheck->chosen_total * 1e3);
    for (const cpu::RecheckedWorkload& w : recheck->workloads) {
      std::printf("    %-44.44s %2d x  log %9.1f us  default %9.1f us%s\n", w.label.c_str(), w.steps,
                  w.logged_seconds * 1e6, w.default_seconds * 1e6,
                  w.default_seconds < w.logged_seconds ? "  -> default" : "");
    }
  }
  std::fprintf(stderr, "tuned in %.1f s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return kExitOk;
}

// ---- bench

int RunBench(const Args& args) {
  const std::string device = args.Get("--device", "cpu");
  if (device == "cuda") return RunCudaBench(args);
  if (device != "cpu") {
    return Fail("bench", absl::InvalidArgumentError(StrCat("--device must be cpu or cuda, not '", device, "'")));
  }
  absl::StatusOr<Setup> setup = Prepare(args);
  if (!setup.ok()) return Fail("bench", setup.status());
  absl::StatusOr<int64_t> runs = args.GetInt("--runs", 20);
  if (!runs.ok()) return Fail("bench", runs.status());
  if (*runs < 1 || *runs > 1000000) {
    return Fail("bench",
                absl::InvalidArgumentError(StrCat("--runs must be in [1, 1000000], not ", *runs)));
  }
  absl::StatusOr<int64_t> pause_ms = args.GetInt("--pause-ms", 0);
  if (!pause_ms.ok()) return Fail("bench", pause_ms.status());
  if (*pause_ms < 0 || *pause_ms > 60000) {
    return Fail("bench", absl::InvalidArgumentError(StrCat("--pause-ms must be in [0, 60000], not ", *pause_ms)));
  }
  cpu::TuningLog log;
  cpu::RuntimeOptions options;
  options.threads = setup->threads;
  options.weight_cache = setup->weight_cache;
  if (args.Has("--log")) {
    absl::StatusOr<cpu::TuningLog> loaded = cpu::TuningLog::Load(args.Get("--log"));
    if (!loaded.ok()) return Fail("bench", loaded.status());
    log = *std::move(loaded);
    options.tuning_log = &log;
  }
  options.concat_in_place = !args.Has("--no-concat-in-place");
  absl::StatusOr<cpu::ProviderChoice> providers = GetChoice<cpu::ProviderChoice>(
      args, "--providers",
      {{"measure", cpu::ProviderChoice::kMeasure},
       {"generated", cpu::ProviderChoice::kGenerated},
       {"onednn", cpu::ProviderChoice::kOneDnn}});
  if (!providers.ok()) return Fail("bench", providers.status());
  options.providers = *providers;
  if (args.Has("--asm-dir")) {
    const std::string dir = args.Get("--asm-dir");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec || !std::filesystem::is_directory(dir)) {
      return Fail("bench", absl::InvalidArgumentError(StrCat(
                               "--asm-dir ", dir, ": not a directory that can be made",
                               ec ? StrCat(" (", ec.message(), ")") : "")));
    }
    cpu::SetAssemblyDir(dir);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<cpu::Executable>> exe =
      cpu::Executable::Compile(setup->graph, setup->feeds, options);
  cpu::SetAssemblyDir("");
  if (!exe.ok()) return Fail("bench", exe.status());
  const double compile =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  cpu::Executable& e = **exe;
  absl::StatusOr<BenchTimes> t = TimeRuns(e, setup->feeds, *runs, 1, static_cast<double>(*pause_ms) / 1e3);
  if (!t.ok()) return Fail("bench", t.status());
  std::printf("graph %s on %s, %d threads\n", setup->graph.name().c_str(),
              cpu::HostTarget().Describe().c_str(), e.threads());
  PrintLatency(*t, *pause_ms > 0 ? StrCat(", each after ", *pause_ms, " ms idle") : "", compile);
  std::vector<StepRow> rows;
  for (const cpu::StepInfo& s : e.steps()) {
    rows.push_back({s.label, std::string(cpu::ProviderName(s.provider)), s.flops});
  }
  PrintProfile(*t, rows, *pause_ms > 0 ? StrCat("each step timed, each run after ", *pause_ms, " ms idle")
                                        : std::string("each step timed"),
               args.Has("--all"));
  // The plan ends with the memory line.
  if (args.Has("--plan")) {
    std::printf("\n%s", e.PlanText().c_str());
  } else {
    std::printf("\n%s\n", cpu::MemoryText(e.memory()).c_str());
  }
  return kExitOk;
}

const OptionSpec kThreads = {"--threads", "", "N", "threads kernels use (default: every core)"};
const OptionSpec kSeed = {"--seed", "", "N", "seed of the random weights and inputs (default 1)"};
const OptionSpec kWeightCache = {
    "--weight-cache", "", "C",
    "kernels timed with weights warm, cold (evicted) or auto: cold past the L3 (default)"};

}  // namespace

const CommandSpec& TuneSpec() {
  static const CommandSpec spec = {
      "tune",
      "tune kernel schedules for a graph on this machine",
      "lemma tune FILE [--budget N] [--time-limit S] [--log FILE] [--recheck] [--rounds N] [--keep-best]\n"
      "                  [--weight-cache C] [--threads N]",
      "Plans the graph for the CPU and, for each kernel workload the tuning log\n"
      "lacks, searches its schedule (tiles, loop order, unrolling, parallel loops)\n"
      "by measurement: random sampling, then evolution of the best, then the\n"
      "three fastest and the default measured twice more, in turns (other work\n"
      "on the machine only ever slows a measurement down). Every\n"
      "measurement is appended to the log (one JSON record per line, keyed by\n"
      "op, attributes, shapes, layout and target), so a workload is tuned once;\n"
      "`lemma bench FILE --log FILE` replays the best schedules. The log may be\n"
      "a directory: a file per machine in it, named after the machine\n"
      "(bench/tuning holds those lemma ships). A graph whose\n"
      "weights outgrow the last-level cache reads them from memory on every run,\n"
      "so its kernels are timed with their weights evicted first (--weight-cache).\n"
      "\n"
      "A kernel timed alone finds its inputs in the caches, and a log outlives\n"
      "the code it was tuned on: --recheck then runs the graph with the log's\n"
      "schedules and with the defaults, in turns, each step timed, and records\n"
      "both times of every workload whose logged schedule is not the default\n"
      "(\"measured\":\"model\"); those records outrank the tuner's from then on.",
      {{"--budget", "", "N", "candidates measured per workload (default 32)"},
       {"--time-limit", "", "S", "tune for at most S seconds; later workloads keep the log's or default schedules"},
       {"--log", "", "FILE", "the tuning log, or a directory of logs, one per machine (default lemma.tuning.jsonl)"},
       {"--recheck", "", "", "then time the log's schedules against the defaults inside the model"},
       {"--rounds", "", "N", "profiled runs of each plan for --recheck (default 6)"},
       {"--keep-best", "", "", "then keep only the record replayed for each workload in the log"},
       kWeightCache,
       kThreads,
       kSeed},
      1,
      1};
  return spec;
}

const CommandSpec& BenchSpec() {
  static const CommandSpec spec = {
      "bench",
      "measure a graph's latency on the CPU backend",
      "lemma bench FILE [--runs N] [--pause-ms MS] [--log FILE] [--threads N] [--providers P] [--device D]\n"
      "                   [--weight-cache C] [--no-concat-in-place] [--plan] [--all] [--asm-dir DIR]",
      "Compiles the graph for the CPU (generated kernels and oneDNN, the faster\n"
      "of the two for each conv and matmul) and runs it on random inputs:\n"
      "prints the latency's median and spread, then the per-step profile with\n"
      "each step's provider and GFLOP/s.",
      {{"--runs", "", "N", "timed runs (default 20)"},
       {"--pause-ms", "", "MS", "idle this long before each timed run (default 0: back to back)"},
       {"--log", "", "FILE", "replay the tuned schedules of this tuning log (or directory of logs)"},
       {"--providers", "", "P", "measure (default), generated or onednn"},
       {"--plan", "", "", "also print the plan: schedules and why each provider"},
       {"--no-concat-in-place", "", "", "copy into concats instead of writing their inputs in place"},
       {"--all", "", "", "list every step in the profile"},
       {"--asm-dir", "", "DIR", "write each generated kernel's assembly here (DIR/lemma_kernel_N.s)"},
       {"--device", "", "D", "cpu (default) or cuda (cuDNN, cuBLASLt and generated kernels on the GPU)"},
       kWeightCache,
       kThreads,
       kSeed},
      1,
      1};
  return spec;
}

absl::StatusOr<OptimizeCosts> MakeOptimizeCosts(const Args& args) {
  OptimizeCosts costs;
  const std::string kind = args.Get("--cost", "analytical");
  if (kind == "analytical") {
    if (args.Has("--cost-cache") || args.Has("--tuning-log")) {
      return absl::InvalidArgumentError("--cost-cache and --tuning-log need --cost measured or cuda");
    }
    return costs;
  }
  if (kind == "cuda") {
    absl::StatusOr<std::unique_ptr<OwnedCostModel>> gpu = MakeCudaOptimizeCosts(args);
    if (!gpu.ok()) return gpu.status();
    costs.gpu = *std::move(gpu);
    return costs;
  }
  if (kind != "measured") {
    return absl::InvalidArgumentError(
        StrCat("--cost must be analytical, measured or cuda, not '", kind, "'"));
  }
  cpu::CostModelOptions options;
  if (args.Has("--tuning-log")) {
    absl::StatusOr<cpu::TuningLog> log = cpu::TuningLog::Load(args.Get("--tuning-log"));
    if (!log.ok()) return log.status();
    costs.tuning_log = std::make_unique<cpu::TuningLog>(*std::move(log));
    options.tuning_log = costs.tuning_log.get();
  }
  options.cache_path = args.Get("--cost-cache");
  absl::StatusOr<std::unique_ptr<cpu::OptimizerCosts>> measured =
      cpu::OptimizerCosts::Create(options);
  if (!measured.ok()) return measured.status();
  costs.measured = *std::move(measured);
  return costs;
}

absl::Status FinishOptimizeCosts(const OptimizeCosts& costs) {
  if (costs.gpu) return costs.gpu->Finish();
  if (!costs.measured) return absl::OkStatus();
  std::fprintf(stderr, "costs: %d ops measured, %d from the cache, %lld estimated\n",
               costs.measured->measured(), costs.measured->cached(),
               static_cast<long long>(costs.measured->fell_back()));
  return costs.measured->Save();
}

int RunTuneCommand(const Args& args) { return RunTune(args); }
int RunBenchCommand(const Args& args) { return RunBench(args); }

}  // namespace lemma::cli
