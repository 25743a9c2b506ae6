// Tuning, the tuning log, replay, the measured cost model, the memory planner
// and the JSON reader of the CPU backend. Budgets are tiny: these test the
// machinery, not the speed.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ir/builder.h"
#include "ir/file_io.h"
#include "kernels/cpu/codegen.h"
#include "kernels/cpu/cost_model.h"
#include "kernels/cpu/json_value.h"
#include "kernels/cpu/memory_plan.h"
#include "kernels/cpu/recheck.h"
#include "kernels/cpu/runtime.h"
#include "kernels/cpu/standalone.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/tuning.h"
#include "kernels/random.h"

namespace lemma::cpu {
namespace {

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("lemma_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

Graph Block() {
  GraphBuilder b("block");
  const Value x = b.Input("x", DType::kF32, {1, 6, 9, 11});
  const Value c = b.Conv2d(x, 8, {3, 3}, {.padding = Padding::kSame, .activation = Activation::kRelu});
  const Value m = b.MatMul(b.Reshape(c, {8, 99}), b.Weight("w", DType::kF32, {99, 21}));
  b.Output("y", b.Sigmoid(m));
  absl::StatusOr<Graph> g = std::move(b).Build();
  EXPECT_TRUE(g.ok()) << g.status();
  return *std::move(g);
}

TEST(JsonTest, ParsesWhatTheWriterWrites) {
  absl::StatusOr<JsonValue> v =
      ParseJson(R"({"a":[1,2.5,-3e2],"b":{"c":"x\"y\\n\u00e9"},"t":true,"n":null})");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->Find("a")->array.size(), 3u);
  EXPECT_DOUBLE_EQ(v->Find("a")->array[2].number, -300);
  EXPECT_EQ(v->Find("b")->Find("c")->string, "x\"y\\n\xc3\xa9");
  EXPECT_TRUE(v->Find("t")->boolean);
  EXPECT_EQ(v->Find("n")->kind, JsonValue::Kind::kNull);
  EXPECT_FALSE(ParseJson("{\"a\":}").ok());
  EXPECT_FALSE(ParseJson("[1,2").ok());
  EXPECT_FALSE(ParseJson("{} x").ok());
}

TEST(TuningLogTest, RecordsRoundTripAndTheFastestWins) {
  TuningRecord r;
  r.target = "cpu \"x\"/avx512/2t";
  r.workload = "conv2d|stride=[2,2] [1,3,8,8]/[192,64,8,1]";
  r.template_name = "conv_nchw";
  r.config = {{"mr", 6}, {"nr", 2}};
  r.seconds = 0.00125;
  r.gflops = 12.5;
  absl::StatusOr<TuningRecord> back = TuningRecord::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->target, r.target);
  EXPECT_EQ(back->workload, r.workload);
  EXPECT_EQ(back->config, r.config);
  EXPECT_DOUBLE_EQ(back->seconds, r.seconds);
  EXPECT_EQ(r.ToJson().find('\n'), std::string::npos);

  const std::string path = TempPath("log.jsonl");
  std::remove(path.c_str());
  absl::StatusOr<TuningLog> log = TuningLog::Load(path);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->records().empty());
  log->Add(r);
  TuningRecord faster = r;
  faster.config["mr"] = 8;
  faster.seconds = 0.001;
  log->Add(faster);
  TuningRecord cost = r;
  cost.kind = "cost";
  cost.seconds = 1e-9;
  log->Add(cost);
  ASSERT_TRUE(log->Save().ok());
  absl::StatusOr<TuningLog> again = TuningLog::Load(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->records().size(), 3u);
  std::optional<TuningRecord> best = again->Best("schedule", r.target, r.workload);
  ASSERT_TRUE(best);
  EXPECT_EQ(best->config.at("mr"), 8);
  EXPECT_FALSE(again->Best("schedule", "other", r.workload));

  ASSERT_TRUE(WriteFileAtomically(path, r.ToJson() + "\n{\"kind\":3}\n").ok());
  absl::StatusOr<TuningLog> bad = TuningLog::Load(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2: not a tuning record"), std::string::npos)
      << bad.status();
  std::remove(path.c_str());
}

TEST(TuningLogTest, ADirectoryKeepsEachTargetsRecordsInItsOwnFile) {
  EXPECT_EQ(LogFileName("AMD EPYC/avx512/2t"), "amd-epyc-avx512-2t.jsonl");
  EXPECT_EQ(LogFileName("Intel(R) Xeon(R) Processor/avx512/2t"), "intel-xeon-processor-avx512-2t.jsonl");
  EXPECT_EQ(LogFileName("//"), "unknown.jsonl");

  const std::filesystem::path dir = TempPath("logdir");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  TuningRecord amd;
  amd.target = "AMD EPYC/avx512/2t";
  amd.workload = "matmul|[8,8]";
  amd.template_name = "gemm";
  amd.config = {{"mr", 6}};
  amd.seconds = 0.002;
  TuningRecord intel = amd;
  intel.target = "Intel(R) Xeon(R) Processor/avx512/2t";
  intel.config = {{"mr", 8}};
  // (A blank line that Save() would not write shows whether it rewrote the file.)
  ASSERT_TRUE(WriteFileAtomically((dir / "amd-epyc-avx512-2t.jsonl").string(), amd.ToJson() + "\n\n").ok());
  ASSERT_TRUE(WriteFileAtomically((dir / "notes.txt").string(), "not a log\n").ok());

  absl::StatusOr<TuningLog> log = TuningLog::Load(dir.string());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_TRUE(log->is_directory());
  ASSERT_EQ(log->records().size(), 1u);
  EXPECT_FALSE(log->Best("schedule", intel.target, intel.workload));

  // A new target's records go to a file of their own; the file whose
  // records did not change is not rewritten.
  log->Add(intel);
  ASSERT_TRUE(log->Save().ok());
  absl::StatusOr<std::string> text = ReadFile((dir / "amd-epyc-avx512-2t.jsonl").string());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, amd.ToJson() + "\n\n");
  text = ReadFile((dir / "intel-xeon-processor-avx512-2t.jsonl").string());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, intel.ToJson() + "\n");
  absl::StatusOr<TuningLog> again = TuningLog::Load(dir.string());
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->records().size(), 2u);
  EXPECT_EQ(again->Best("schedule", amd.target, amd.workload)->config.at("mr"), 6);
  EXPECT_EQ(again->Best("schedule", intel.target, intel.workload)->config.at("mr"), 8);

  // A faster record of one target rewrites that target's file only.
  TuningRecord faster = amd;
  faster.seconds = 0.001;
  faster.config = {{"mr", 4}};
  again->Add(faster);
  EXPECT_EQ(again->KeepBest(), 1);
  ASSERT_TRUE(again->Save().ok());
  text = ReadFile((dir / "amd-epyc-avx512-2t.jsonl").string());
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, faster.ToJson() + "\n");

  // A record in another target's file, and a corrupt line, are errors that
  // name the file and the line.
  ASSERT_TRUE(WriteFileAtomically((dir / "amd-epyc-avx512-2t.jsonl").string(),
                                  faster.ToJson() + "\n" + intel.ToJson() + "\n")
                  .ok());
  absl::StatusOr<TuningLog> misplaced = TuningLog::Load(dir.string());
  ASSERT_FALSE(misplaced.ok());
  EXPECT_NE(misplaced.status().message().find("amd-epyc-avx512-2t.jsonl:2: a record of target"),
            std::string::npos)
      << misplaced.status();
  EXPECT_NE(misplaced.status().message().find("belongs in intel-xeon-processor-avx512-2t.jsonl"),
            std::string::npos)
      << misplaced.status();
  ASSERT_TRUE(WriteFileAtomically((dir / "amd-epyc-avx512-2t.jsonl").string(), "{\n").ok());
  absl::StatusOr<TuningLog> corrupt = TuningLog::Load(dir.string());
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("amd-epyc-avx512-2t.jsonl:1: not a tuning record"),
            std::string::npos)
      << corrupt.status();
  std::filesystem::remove_all(dir);
}

// A 37x50 by 50x45 matmul on its own, and its template.
struct MatMulWorkload {
  MatMulWorkload() {
    GraphBuilder b("mm");
    const Value x = b.Input("x", DType::kF32, {37, 50});
    b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {50, 45})));
    absl::StatusOr<Graph> built = std::move(b).Build();
    if (!built.ok()) return;
    graph = *std::move(built);
    absl::StatusOr<std::unique_ptr<StandaloneGroup>> made = StandaloneGroup::Make(*graph, Group{2, {}});
    if (!made.ok()) return;
    owned = *std::move(made);
    ctx = owned.get();
    t = MakeTemplate(ctx->group(), *ctx);
  }
  std::optional<Graph> graph;  // the group refers to it
  std::unique_ptr<StandaloneGroup> owned;
  StandaloneGroup* ctx = nullptr;
  std::unique_ptr<Template> t;
};

TEST(TuneTest, SearchesDistinctValidConfigsStartingFromTheDefault) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const MatMulWorkload w;
  ASSERT_NE(w.ctx, nullptr);
  ASSERT_NE(w.t, nullptr);
  const std::unique_ptr<Template>& t = w.t;
  std::vector<Config> seen;
  std::vector<double> times;
  TuneOptions options;
  options.budget = 8;
  options.on_measure = [&](const Config& c, double seconds, bool) {
    EXPECT_GT(seconds, 0);
    seen.push_back(c);
    times.push_back(seconds);
  };
  absl::StatusOr<TuneResult> r = Tune(*t, *w.ctx, SharedPool(2), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->measured, 8);
  ASSERT_EQ(seen.size(), static_cast<size_t>(8 + r->confirmed));
  EXPECT_EQ(seen.front(), t->DefaultConfig());
  std::set<std::string> distinct;
  for (int i = 0; i < 8; ++i) distinct.insert(ConfigToString(seen[static_cast<size_t>(i)]));
  EXPECT_EQ(distinct.size(), 8u);
  EXPECT_TRUE(distinct.count(ConfigToString(r->best)));
  // Then the 3 fastest and the default (when not among them), measured twice
  // more, in rounds; the result is the fastest time of all.
  EXPECT_TRUE(r->confirmed == 6 || r->confirmed == 8) << r->confirmed;
  const int finalists = r->confirmed / 2;
  for (int i = 0; i < r->confirmed; ++i) {
    EXPECT_EQ(ConfigToString(seen[static_cast<size_t>(8 + i)]),
              ConfigToString(seen[static_cast<size_t>(8 + i % finalists)]));
  }
  EXPECT_EQ(std::count(seen.begin() + 8, seen.end(), t->DefaultConfig()), 2);
  EXPECT_EQ(r->seconds, *std::min_element(times.begin(), times.end()));
  const size_t fastest = static_cast<size_t>(std::min_element(times.begin(), times.end()) - times.begin());
  EXPECT_EQ(ConfigToString(seen[fastest]), ConfigToString(r->best));

  // Without confirmation rounds, only the search.
  options.confirm_rounds = 0;
  seen.clear();
  r = Tune(*t, *w.ctx, SharedPool(2), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->confirmed, 0);
  EXPECT_EQ(seen.size(), 8u);
}

// A deadline ends the search: past it, only the default is measured (and
// confirmed), and the result says the budget was cut short.
TEST(TuneTest, ADeadlineEndsTheSearch) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const MatMulWorkload w;
  ASSERT_NE(w.ctx, nullptr);
  ASSERT_NE(w.t, nullptr);
  const std::unique_ptr<Template>& t = w.t;
  TuneOptions options;
  options.budget = 8;
  options.deadline = std::chrono::steady_clock::now();
  absl::StatusOr<TuneResult> r = Tune(*t, *w.ctx, SharedPool(2), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->measured, 1);
  EXPECT_TRUE(r->out_of_time);
  EXPECT_EQ(ConfigToString(r->best), ConfigToString(t->DefaultConfig()));
  // A deadline far off changes nothing.
  options.deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  r = Tune(*t, *w.ctx, SharedPool(2), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->measured, 8);
  EXPECT_FALSE(r->out_of_time);
}

// A compile past its tuning deadline tunes nothing: each step keeps the
// default schedule and says why, and the graph still computes what the
// reference evaluator computes.
TEST(TuneTest, PastTheTimeLimitStepsKeepTheirDefaults) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const Graph g = Block();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 5);
  TuningLog log;
  RuntimeOptions options{.threads = 2, .tuning_log = &log, .tune_budget = 4,
                         .tune_deadline = std::chrono::steady_clock::now(),
                         .providers = ProviderChoice::kGenerated};
  absl::StatusOr<std::unique_ptr<Executable>> exe = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(exe.ok()) << exe.status();
  EXPECT_TRUE(log.records().empty());
  int generated = 0;
  for (const StepInfo& s : (*exe)->steps()) {
    if (s.provider != Provider::kGenerated) continue;
    ++generated;
    EXPECT_NE(s.why.find("default schedule (not tuned: the time limit was reached)"), std::string::npos)
        << s.why;
    EXPECT_FALSE(s.config_from_log);
  }
  EXPECT_GT(generated, 0);
  absl::StatusOr<NamedTensors<F32>> got = (*exe)->Run(feeds);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(got.ok() && want.ok());
  for (size_t i = 0; i < want->at("y").data.size(); ++i) {
    EXPECT_NEAR(got->at("y").data[i], want->at("y").data[i], 1e-4);
  }
}

// A graph tuned once and compiled again from the log runs the same schedules
// and gives the same results, bit for bit.
TEST(TuneTest, ReplayFromTheLogGivesTheSameResults) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const Graph g = Block();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 5);
  TuningLog log;
  RuntimeOptions options{.threads = 2, .tuning_log = &log, .tune_budget = 4,
                         .providers = ProviderChoice::kGenerated};
  absl::StatusOr<std::unique_ptr<Executable>> tuned = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_GE(log.records().size(), 8u);
  options.tune_budget = 0;
  absl::StatusOr<std::unique_ptr<Executable>> replayed = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  ASSERT_EQ((*tuned)->steps().size(), (*replayed)->steps().size());
  for (size_t i = 0; i < (*tuned)->steps().size(); ++i) {
    const StepInfo& a = (*tuned)->steps()[i];
    const StepInfo& b = (*replayed)->steps()[i];
    if (a.provider == Provider::kBuiltin) continue;
    EXPECT_NE(a.why.find("tuned now"), std::string::npos) << a.why;
    EXPECT_NE(b.why.find("tuned schedule (log)"), std::string::npos) << b.why;
    EXPECT_EQ(a.schedule, b.schedule);
  }
  absl::StatusOr<NamedTensors<F32>> x = (*tuned)->Run(feeds);
  absl::StatusOr<NamedTensors<F32>> y = (*replayed)->Run(feeds);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(x->at("y").data, y->at("y").data);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(want.ok());
  for (size_t i = 0; i < want->at("y").data.size(); ++i) {
    EXPECT_NEAR(x->at("y").data[i], want->at("y").data[i], 1e-4);
  }
}

// Options that tune 3 candidates per workload into `log`, with generated
// kernels only and the weights evicted before each timed call.
RuntimeOptions ColdTuning(TuningLog* log) {
  return {.threads = 2, .tuning_log = log, .tune_budget = 3, .providers = ProviderChoice::kGenerated,
          .weight_cache = WeightCache::kCold};
}

// Weights tuned cold (evicted before each timed call) are tuned under their
// own workload keys: a warm compile does not replay them, a cold one does,
// and both compute what the reference evaluator computes.
TEST(TuneTest, ColdWeightsHaveTheirOwnRecords) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const Graph g = Block();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 6);
  TuningLog log;
  RuntimeOptions cold = ColdTuning(&log);
  absl::StatusOr<std::unique_ptr<Executable>> tuned = Executable::Compile(g, feeds, cold);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ((*tuned)->weight_cache(), WeightCache::kCold);
  EXPECT_NE((*tuned)->PlanText().find("weights timed cold"), std::string::npos);
  ASSERT_FALSE(log.records().empty());
  for (const TuningRecord& r : log.records()) {
    EXPECT_TRUE(absl::EndsWith(r.workload, " |weights cold")) << r.workload;
    EXPECT_GT(r.seconds, 0);
  }
  cold.tune_budget = 0;
  absl::StatusOr<std::unique_ptr<Executable>> replayed = Executable::Compile(g, feeds, cold);
  RuntimeOptions warm = cold;
  warm.weight_cache = WeightCache::kWarm;
  absl::StatusOr<std::unique_ptr<Executable>> unmatched = Executable::Compile(g, feeds, warm);
  ASSERT_TRUE(replayed.ok() && unmatched.ok());
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(want.ok());
  for (Executable* e : {replayed->get(), unmatched->get()}) {
    bool logged = false;
    for (const StepInfo& s : e->steps()) logged = logged || s.why.find("(log)") != std::string::npos;
    EXPECT_EQ(logged, e == replayed->get()) << e->PlanText();
    absl::StatusOr<NamedTensors<F32>> got = e->Run(feeds);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t i = 0; i < want->at("y").data.size(); ++i) {
      EXPECT_NEAR(got->at("y").data[i], want->at("y").data[i], 1e-4);
    }
  }
}

// Unset, the weight cache follows the weights' size: warm for a small graph,
// cold for one whose weights pass the last-level cache.
TEST(TuneTest, WeightCacheFollowsTheWeightsSize) {
  const int64_t llc = HostTarget().last_level_cache_bytes;
  if (llc > (256 << 20)) GTEST_SKIP() << "a last-level cache of " << llc << " bytes";
  const Graph small = Block();
  RuntimeOptions options{.threads = 1, .providers = ProviderChoice::kGenerated};
  absl::StatusOr<std::unique_ptr<Executable>> a =
      Executable::Compile(small, RandomFeeds<F32>(small, 1), options);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->weight_cache(), WeightCache::kWarm);
  GraphBuilder b("wide");
  const int64_t k = 256, n = llc / 4 / k + 16;
  const Value x = b.Input("x", DType::kF32, {1, k});
  b.Output("y", b.MatMul(x, b.Weight("w", DType::kF32, {k, n})));
  absl::StatusOr<Graph> wide = std::move(b).Build();
  ASSERT_TRUE(wide.ok()) << wide.status();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(*wide, 2);
  absl::StatusOr<std::unique_ptr<Executable>> c = Executable::Compile(*wide, feeds, options);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->weight_cache(), WeightCache::kCold);
  absl::StatusOr<NamedTensors<F32>> got = (*c)->Run(feeds);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(*wide, feeds);
  ASSERT_TRUE(got.ok() && want.ok());
  for (int64_t j = 0; j < n; j += 997) {
    EXPECT_NEAR(got->at("y").data[static_cast<size_t>(j)], want->at("y").data[static_cast<size_t>(j)],
                1e-3);
  }
}

// KeepBest leaves the fastest record of each workload, in first-seen order,
// and Best() answers as before.
TEST(TuningLogTest, KeepBestKeepsTheFastestOfEachWorkload) {
  TuningLog log;
  auto add = [&](const std::string& kind, const std::string& workload, double seconds, int64_t mr) {
    TuningRecord r;
    r.kind = kind;
    r.target = "t";
    r.workload = workload;
    r.template_name = "conv_nchw";
    r.config = {{"mr", mr}};
    r.seconds = seconds;
    log.Add(r);
  };
  add("schedule", "b", 3.0, 1);
  add("schedule", "a", 2.0, 2);
  add("schedule", "b", 1.0, 3);
  add("cost", "b", 0.5, 4);
  add("schedule", "a", 4.0, 5);
  const std::optional<TuningRecord> a = log.Best("schedule", "t", "a");
  const std::optional<TuningRecord> b = log.Best("schedule", "t", "b");
  EXPECT_EQ(log.KeepBest(), 2);
  ASSERT_EQ(log.records().size(), 3u);
  EXPECT_EQ(log.records()[0].workload, "b");
  EXPECT_EQ(log.records()[0].config.at("mr"), 3);
  EXPECT_EQ(log.records()[1].workload, "a");
  EXPECT_EQ(log.records()[1].config.at("mr"), 2);
  EXPECT_EQ(log.records()[2].kind, "cost");
  EXPECT_EQ(log.Best("schedule", "t", "a")->config, a->config);
  EXPECT_EQ(log.Best("schedule", "t", "b")->config, b->config);
  EXPECT_EQ(log.KeepBest(), 0);
}

// A time taken inside a model outranks any the tuner took alone, whatever
// the numbers: the replayed record is the fastest of a workload's "model"
// records when it has any. "measured" survives the JSON and defaults to
// "kernel"; another value is refused.
TEST(TuningLogTest, TimesTakenInTheModelOutrankTheTunersTimes) {
  TuningLog log;
  auto add = [&](const std::string& workload, double seconds, int64_t mr, const std::string& measured) {
    TuningRecord r;
    r.target = "t";
    r.workload = workload;
    r.template_name = "conv_nchw";
    r.config = {{"mr", mr}};
    r.seconds = seconds;
    r.measured = measured;
    log.Add(r);
  };
  add("a", 1e-6, 1, "kernel");
  add("a", 3e-3, 2, "model");
  add("a", 2e-3, 3, "model");
  add("a", 1e-7, 4, "kernel");
  add("b", 5e-3, 5, "kernel");
  add("b", 4e-3, 6, "kernel");
  EXPECT_EQ(log.Best("schedule", "t", "a")->config.at("mr"), 3);
  EXPECT_EQ(log.Best("schedule", "t", "b")->config.at("mr"), 6);
  EXPECT_EQ(log.KeepBest(), 4);
  ASSERT_EQ(log.records().size(), 2u);
  EXPECT_EQ(log.records()[0].config.at("mr"), 3);
  EXPECT_EQ(log.records()[0].measured, "model");
  EXPECT_EQ(log.records()[1].config.at("mr"), 6);

  const std::string model = log.records()[0].ToJson(), kernel = log.records()[1].ToJson();
  EXPECT_NE(model.find(R"("measured":"model")"), std::string::npos) << model;
  EXPECT_EQ(kernel.find("measured"), std::string::npos) << kernel;
  absl::StatusOr<TuningRecord> back = TuningRecord::FromJson(model);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->measured, "model");
  back = TuningRecord::FromJson(kernel);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->measured, "kernel");
  std::string odd = model;
  odd.replace(odd.find(R"("model")"), 7, R"("guess")");
  EXPECT_FALSE(TuningRecord::FromJson(odd).ok());
}

// RecheckInModel compares, inside runs of the whole graph, each workload
// whose logged config is not its template's default against that default:
// the conv below has a logged config with its window loops not unrolled (a
// default unrolls them); the matmul's logged config is its default, so it is
// not rechecked. Both configs get a "model" record, and the next compile
// replays the faster of the two and still computes what the reference
// evaluator computes.
TEST(RecheckTest, TimesTheLoggedScheduleAgainstTheDefaultInTheModel) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const Graph g = Block();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 9);
  RuntimeOptions options{.threads = 2, .providers = ProviderChoice::kGenerated};
  TuningLog none;
  options.tuning_log = &none;
  absl::StatusOr<std::unique_ptr<Executable>> plain = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  const std::string target = HostTarget().Key((*plain)->threads());
  TuningLog log;
  std::string conv_key, matmul_key;
  std::map<std::string, int64_t> conv_logged, conv_default;
  for (const StepInfo& s : (*plain)->steps()) {
    if (s.provider != Provider::kGenerated) continue;
    EXPECT_FALSE(s.config_from_log) << s.label;
    ASSERT_FALSE(s.workload.empty()) << s.label;
    TuningRecord r;
    r.target = target;
    r.workload = s.workload;
    r.template_name = s.template_name;
    r.config = s.config;
    r.seconds = 1e-9;
    if (absl::StartsWith(s.label, "conv2d")) {
      ASSERT_EQ(s.config.count("unroll_window"), 1u) << s.schedule;
      conv_key = s.workload;
      conv_default = s.config;
      r.config["unroll_window"] = 1 - s.config.at("unroll_window");
      conv_logged = r.config;
    } else if (absl::StartsWith(s.label, "matmul")) {
      matmul_key = s.workload;
    }
    log.Add(r);
  }
  ASSERT_FALSE(conv_key.empty());
  ASSERT_FALSE(matmul_key.empty());
  const size_t before = log.records().size();

  int rounds_seen = 0;
  absl::StatusOr<RecheckResult> r = RecheckInModel(
      g, feeds, log, {.threads = 2}, {.rounds = 3, .on_round = [&](int round, int rounds) {
                                        EXPECT_EQ(round, ++rounds_seen);
                                        EXPECT_EQ(rounds, 3);
                                      }});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(rounds_seen, 3);
  EXPECT_EQ(r->steps, static_cast<int>((*plain)->steps().size()));
  ASSERT_EQ(r->workloads.size(), 1u);
  const RecheckedWorkload& w = r->workloads[0];
  EXPECT_EQ(w.workload, conv_key);
  EXPECT_EQ(w.logged, conv_logged);
  EXPECT_EQ(w.fallback, conv_default);
  EXPECT_EQ(w.steps, 1);
  EXPECT_GT(w.logged_seconds, 0);
  EXPECT_GT(w.default_seconds, 0);
  EXPECT_GT(r->logged_total, 0);
  EXPECT_LE(r->chosen_total, r->logged_total);
  EXPECT_NEAR(r->logged_total - r->chosen_total, std::max(0.0, w.logged_seconds - w.default_seconds),
              1e-12);

  ASSERT_EQ(log.records().size(), before + 2);
  for (size_t i = before; i < log.records().size(); ++i) {
    EXPECT_EQ(log.records()[i].measured, "model");
    EXPECT_EQ(log.records()[i].workload, conv_key);
    EXPECT_EQ(log.records()[i].target, target);
  }
  const std::map<std::string, int64_t> faster =
      w.default_seconds < w.logged_seconds ? conv_default : conv_logged;
  EXPECT_EQ(log.Best("schedule", target, conv_key)->config, faster);

  options.tuning_log = &log;
  absl::StatusOr<std::unique_ptr<Executable>> replayed = Executable::Compile(g, feeds, options);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  int conv_steps = 0;
  for (const StepInfo& s : (*replayed)->steps()) {
    if (s.workload != conv_key) continue;
    ++conv_steps;
    EXPECT_TRUE(s.config_from_log);
    EXPECT_EQ(s.config, faster);
  }
  EXPECT_EQ(conv_steps, 1);
  absl::StatusOr<NamedTensors<F32>> got = (*replayed)->Run(feeds);
  absl::StatusOr<NamedTensors<F32>> want = Evaluate<F32>(g, feeds);
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->at("y").data.size(), want->at("y").data.size());
  for (size_t i = 0; i < want->at("y").data.size(); ++i) {
    EXPECT_NEAR(got->at("y").data[i], want->at("y").data[i], 1e-4);
  }

  EXPECT_EQ(RecheckInModel(g, feeds, log, {.threads = 2}, {.rounds = 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Eviction leaves the data as they were, at any alignment and length.
TEST(TuneTest, EvictionKeepsTheData) {
  std::vector<float> v(10007);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  EvictFromCaches(v.data() + 3, static_cast<int64_t>(v.size() - 3) * 4 - 1);
  EvictFromCaches(v.data(), 0);
  EvictFromCaches(nullptr, 64);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<float>(i) * 0.5f);
}

TEST(CostModelTest, MeasuresCachesAndFallsBack) {
  const Graph g = Block();
  const std::string path = TempPath("costs.jsonl");
  std::remove(path.c_str());
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> model =
      MeasuredCostModel::Create({.threads = 2, .cache_path = path});
  ASSERT_TRUE(model.ok()) << model.status();
  int measured_nodes = 0;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    absl::StatusOr<double> s = (*model)->NodeCostSeconds(g, id);
    ASSERT_TRUE(s.ok()) << s.status();
    const OpKind op = g.node(id).op;
    if (op == OpKind::kInput || op == OpKind::kWeight || op == OpKind::kReshape) {
      EXPECT_EQ(*s, 0) << OpName(op);
    } else {
      EXPECT_GT(*s, 0) << OpName(op);
      ++measured_nodes;
    }
  }
  EXPECT_EQ((*model)->stats().measured, measured_nodes);
  ASSERT_TRUE((*model)->Save().ok());
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> again =
      MeasuredCostModel::Create({.threads = 2, .cache_path = path});
  ASSERT_TRUE(again.ok());
  for (NodeId id = 0; id < g.num_nodes(); ++id) ASSERT_TRUE((*again)->NodeCostSeconds(g, id).ok());
  EXPECT_EQ((*again)->stats().cached, measured_nodes);
  EXPECT_EQ((*again)->stats().measured, 0);
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> analytical =
      MeasuredCostModel::Create({.threads = 2, .measure = false});
  ASSERT_TRUE(analytical.ok());
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    absl::StatusOr<double> s = (*analytical)->NodeCostSeconds(g, id);
    ASSERT_TRUE(s.ok());
    EXPECT_DOUBLE_EQ(*s, (*analytical)->AnalyticalSeconds(g, id));
  }
  EXPECT_FALSE((*model)->NodeCostSeconds(g, 1000).ok());
  std::remove(path.c_str());
}

// A log tuned with cold weights still gives the measured cost model its
// schedule (the cost record names the config it ran).
TEST(CostModelTest, TakesScheduleTunedColdWhenNoWarmOne) {
  if (!CodegenAvailable()) GTEST_SKIP() << "built without LLVM";
  const Graph g = Block();
  const NamedTensors<F32> feeds = RandomFeeds<F32>(g, 7);
  TuningLog log;
  RuntimeOptions cold = ColdTuning(&log);
  ASSERT_TRUE(Executable::Compile(g, feeds, cold).ok());
  std::optional<TuningRecord> conv;
  for (const TuningRecord& r : log.records()) {
    if (r.workload.rfind("conv2d", 0) == 0) conv = log.Best("schedule", r.target, r.workload);
  }
  ASSERT_TRUE(conv.has_value());
  const std::string path = TempPath("cold_costs.jsonl");
  std::remove(path.c_str());
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> model =
      MeasuredCostModel::Create({.threads = 2, .cache_path = path, .tuning_log = &log});
  ASSERT_TRUE(model.ok()) << model.status();
  NodeId conv_node = -1;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    if (g.node(id).op == OpKind::kConv2d) conv_node = id;
  }
  ASSERT_GE(conv_node, 0);
  ASSERT_TRUE((*model)->NodeCostSeconds(g, conv_node).ok());
  ASSERT_TRUE((*model)->Save().ok());
  absl::StatusOr<TuningLog> costs = TuningLog::Load(path);
  ASSERT_TRUE(costs.ok()) << costs.status();
  ASSERT_EQ(costs->records().size(), 1u);
  EXPECT_EQ(costs->records()[0].config, conv->config);
  std::remove(path.c_str());
}

TEST(CostModelTest, CostsAnOpGivenByItsTypes) {
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> model =
      MeasuredCostModel::Create({.threads = 2});
  ASSERT_TRUE(model.ok());
  Attributes attrs(OpKind::kConv2d);
  ASSERT_TRUE(attrs.SetEnum("padding", "same").ok());
  const std::vector<TensorType> inputs = {TensorType::Make(DType::kF32, {1, 8, 12, 12}),
                                          TensorType::Make(DType::kF32, {16, 8, 3, 3})};
  const std::vector<bool> constant = MeasuredCostModel::TypicalConstantInputs(OpKind::kConv2d, 2);
  EXPECT_EQ(constant, (std::vector<bool>{false, true}));
  absl::StatusOr<double> nchw = (*model)->OpCostSeconds(OpKind::kConv2d, attrs, inputs, constant);
  ASSERT_TRUE(nchw.ok()) << nchw.status();
  EXPECT_GT(*nchw, 0);
  TensorType x_nhwc = inputs[0];
  x_nhwc.layout = Layout::kNHWC;
  const std::vector<Layout> out_nhwc = {Layout::kNHWC};
  absl::StatusOr<double> nhwc = (*model)->OpCostSeconds(
      OpKind::kConv2d, attrs, std::vector<TensorType>{x_nhwc, inputs[1]}, constant, out_nhwc);
  ASSERT_TRUE(nhwc.ok()) << nhwc.status();
  EXPECT_GT(*nhwc, 0);
  EXPECT_EQ((*model)->stats().measured, 2);  // two layouts, two workloads
  EXPECT_FALSE((*model)->OpCostSeconds(OpKind::kConv2d, attrs, inputs, std::vector<bool>{true}).ok());
  const std::vector<TensorType> bad = {TensorType::Make(DType::kF32, {2, 3}),
                                       TensorType::Make(DType::kF32, {4, 5})};
  EXPECT_FALSE((*model)->OpCostSeconds(OpKind::kMatMul, Attributes(OpKind::kMatMul), bad, constant).ok());
}

TEST(MemoryPlanTest, BuffersShareOnlyWhenTheirLifetimesDoNotMeet) {
  const std::vector<BufferRequest> requests = {
      {1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {4000, 3, 4}, {10, 0, 4}};
  const MemoryPlacement p = PlanMemory(requests, 64);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(p.offsets[i] % 64, 0);
    for (size_t j = i + 1; j < requests.size(); ++j) {
      const bool meet = !(requests[i].last < requests[j].first || requests[j].last < requests[i].first);
      const bool overlap = p.offsets[i] < p.offsets[j] + requests[j].bytes &&
                           p.offsets[j] < p.offsets[i] + requests[i].bytes;
      if (meet) {
        EXPECT_FALSE(overlap) << i << " and " << j;
      }
    }
  }
  EXPECT_LT(p.arena_bytes, p.naive_bytes);
  EXPECT_EQ(p.naive_bytes, 1024 * 3 + 4032 + 64);
}

}  // namespace
}  // namespace lemma::cpu
