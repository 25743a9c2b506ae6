// Benchmarks of the CPU backend: GEMM and convolution GFLOP/s of generated
// kernels (rules-of-thumb schedule and tuned) and oneDNN against the fp32
// peak, and end-to-end latency of the zoo models, as built and as optimized
// with rules/default.rules, against ONNX Runtime on the model exported to ONNX
// and PyTorch on the zoo's PyTorch specification (bench/zoo_torch.py).
//
//   lemma_cpu_bench [--threads 2] [--ghz 4.5] [--tune N] [--tune-limit S] [--log FILE]
//                   [--sections gemm,conv,models] [--models a,b] [--runs N] [--burst N]
//                   [--no-ort] [--no-torch] [--torch-mode eager|jit|auto]
//                   [--optimize analytical,measured,keep-layouts | --no-optimize]
//                   [--rules FILES]
//                   [--optimize-seconds S] [--cost-cache FILE]
//                   [--providers measure|generated|onednn]
//
// Kernel times are the fastest of repeated runs. Model latencies come from
// interleaved rounds: each round runs every graph of the model once on
// lemma's runtime, ONNX Runtime once (bench/ort_latency.py --serve in a
// child process) and PyTorch once (bench/torch_latency.py --serve under
// Debian's /usr/bin/python3, skipped with a note when its python3-torch is
// not installed), in an order rotated each round and with a pause before each
// run, so that all see the same load; the table gives medians and the median
// of the per-round ratios. With --burst N each contender runs N times back to
// back in its turn and counts the median of all but the first: steady-state
// latency rather than the latency of a run after idle. The machine may be shared with other
// work: the load average is printed, and numbers are provisional when it is
// high. Because wall-clock times on a shared machine measure the neighbours as
// much as the kernel, the tables also give the single-threaded kernel's
// GFLOP/s per second of the thread's own CPU time ("1T cpu"), against the
// FMA throughput a core of this machine is measured to reach.

#include <immintrin.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/models.h"
#include "ir/builder.h"
#include "ir/onnx_export.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/json_value.h"
#include "kernels/cpu/onednn.h"
#include "kernels/cpu/optimizer_costs.h"
#include "kernels/cpu/runtime.h"
#include "kernels/cpu/standalone.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/tuning.h"
#include "kernels/random.h"
#include "optimizer/optimize.h"
#include "rules/rule_text.h"

namespace lemma::cpu {
namespace {

// Each kernel of the tables runs for at least this long; its fastest run counts.
constexpr double kBenchSeconds = 0.3;
// The pause before each run of a model (lemma's or ONNX Runtime's), in ms,
// once the runs before have gone quiet (WaitUntilQuiet).
constexpr int kPauseMs = 50;

// CPU time in seconds that every thread of process `pid` (0: this process)
// has used, from /proc/PID/task/*/schedstat; 0 when /proc cannot tell.
double ProcessCpuSeconds(pid_t pid) {
  const std::string dir = pid == 0 ? "/proc/self/task" : StrCat("/proc/", pid, "/task");
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(task.path() / "schedstat");
    double ns = 0;
    if (in >> ns) total += ns * 1e-9;
  }
  return total;
}

// Returns once this process and `others` together use less than a fifth of
// a core over 5 ms (or after 1 s): threads that spin after their work (ONNX
// Runtime's spin for ~45 ms of CPU time after each run here) would otherwise
// take a core from whatever runs next.
void WaitUntilQuiet(const std::vector<pid_t>& others) {
  auto cpu = [&] {
    double total = ProcessCpuSeconds(0);
    for (pid_t p : others) total += p > 0 ? ProcessCpuSeconds(p) : 0;
    return total;
  };
  constexpr double kWindow = 0.005;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (double before = cpu(); std::chrono::steady_clock::now() < give_up;) {
    std::this_thread::sleep_for(std::chrono::duration<double>(kWindow));
    const double now = cpu();
    if (now - before < 0.2 * kWindow) return;
    before = now;
  }
}

struct Options {
  int threads = 2;
  double ghz = 4.5;
  int tune = 0;
  double tune_seconds = 0;  // per graph; 0: no limit
  std::string log;
  std::set<std::string> sections = {"gemm", "conv", "models"};
  std::vector<std::string> models;
  int runs = 10;
  // Runs of each contender per round, back to back after the pause: 1 times
  // a run after idle; N > 1 drops the first and takes the median of the rest
  // (steady-state latency, threads awake and caches warm).
  int burst = 1;
  bool ort = true;
  // PyTorch (Debian's python3-torch) as a second baseline: eager, jit
  // (trace + freeze), or auto (the faster of the two, per model).
  bool torch = true;
  std::string torch_mode = "auto";
  // Optimized graphs: one per cost model ("analytical", "measured", or
  // "keep-layouts": analytical with layouts kept).
  std::vector<std::string> costs = {"analytical"};
  std::string rules = StrCat(LEMMA_SOURCE_DIR, "/rules/default.rules");
  double optimize_seconds = 30;
  std::string cost_cache;
  // How the runtime picks between generated kernels and oneDNN.
  ProviderChoice providers = ProviderChoice::kMeasure;
};

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= s.size()) {
    const size_t end = std::min(s.find(',', begin), s.size());
    if (end > begin) out.push_back(s.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return StrCat(a, " ", b, " ", c);
}

// The times of one kernel workload.
struct KernelTimes {
  double flops = 0;
  double generated = 0, tuned = 0, onednn = 0;  // seconds, 0: not measured
  double cpu = 0;  // CPU seconds of the best schedule on one thread
};

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The least CPU time of the calling thread that `fn` takes over `runs` runs.
double CpuFastest(const std::function<void()>& fn, int runs) {
  fn();
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const double start = ThreadCpuSeconds();
    fn();
    best = std::min(best, ThreadCpuSeconds() - start);
  }
  return best;
}

// FLOP/s one core reaches with independent fused multiply-adds and no memory
// traffic, in the thread's CPU time: the attainable peak of this machine.
__attribute__((target("avx512f,fma"), noinline)) double FmaPeakAvx512(int64_t iters, float seed) {
  __m512 acc[20];
  for (int i = 0; i < 20; ++i) acc[i] = _mm512_set1_ps(seed * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(seed);
  const double start = ThreadCpuSeconds();
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 20
    for (int i = 0; i < 20; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  const double seconds = ThreadCpuSeconds() - start;
  float lanes[16] = {};
  for (int i = 0; i < 20; ++i) {
    _mm512_storeu_ps(lanes, acc[i]);
    if (lanes[0] == 12345.f) return 0;  // keeps the results alive
  }
  return static_cast<double>(iters) * 20 * 16 * 2 / seconds;
}

__attribute__((target("avx2,fma"), noinline)) double FmaPeakAvx2(int64_t iters, float seed) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(seed * static_cast<float>(i));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(seed);
  const double start = ThreadCpuSeconds();
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  const double seconds = ThreadCpuSeconds() - start;
  float lanes[8] = {};
  for (int i = 0; i < 12; ++i) {
    _mm256_storeu_ps(lanes, acc[i]);
    if (lanes[0] == 12345.f) return 0;
  }
  return static_cast<double>(iters) * 12 * 8 * 2 / seconds;
}

double MeasuredCorePeak() {
  const CpuTarget& host = HostTarget();
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const float seed = 1e-7f * static_cast<float>(r + 1);
    if (host.isa == "avx512") best = std::max(best, FmaPeakAvx512(10000000, seed));
    if (host.isa == "avx2") best = std::max(best, FmaPeakAvx2(20000000, seed));
  }
  return best;
}

double Gflops(double flops, double seconds) { return seconds > 0 ? flops / seconds / 1e9 : 0; }

std::string Cell(double gflops) {
  if (gflops <= 0) return "      -";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%7.1f", gflops);
  return buf;
}

std::string Percent(double part, double whole) {
  if (part <= 0 || whole <= 0) return "    -";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%4.0f%%", 100 * part / whole);
  return buf;
}

// Measures the group rooted at `node` of `g` (no chain): generated with the
// default schedule, tuned (from the log or by tuning now), and oneDNN.
KernelTimes MeasureNode(const Graph& g, NodeId node, const Options& o, TuningLog& log) {
  KernelTimes t;
  absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(g, Group{node, {}});
  if (!ctx.ok()) return t;
  t.flops = GroupFlops(g, (*ctx)->group());
  ThreadPool& pool = SharedPool(o.threads);
  std::unique_ptr<Template> tmpl = MakeTemplate((*ctx)->group(), **ctx);
  auto time_config = [&](const Config& config) -> double {
    absl::StatusOr<Lowered> lowered = tmpl->Lower(config);
    if (!lowered.ok()) return 0;
    absl::StatusOr<CompiledGroup> group = CompiledGroup::Compile(*std::move(lowered), true);
    if (!group.ok()) return 0;
    return TimeGroup(*group, **ctx, pool, kBenchSeconds);
  };
  if (tmpl != nullptr) {
    t.generated = time_config(tmpl->DefaultConfig());
    const std::string target = HostTarget().Key(o.threads);
    const std::string key = WorkloadKey((*ctx)->group(), **ctx);
    std::optional<TuningRecord> best = log.Best("schedule", target, key);
    if (o.tune > 0) {
      TuneOptions to;
      to.budget = o.tune;
      to.on_measure = [&](const Config& c, double seconds, bool) {
        TuningRecord r;
        r.target = target;
        r.workload = key;
        r.template_name = tmpl->name();
        r.config = c;
        r.seconds = seconds;
        r.gflops = Gflops(t.flops, seconds);
        log.Add(std::move(r));
      };
      if (Tune(*tmpl, **ctx, pool, to).ok()) best = log.Best("schedule", target, key);
      if (absl::Status s = log.Save(); !s.ok()) std::fprintf(stderr, "%s\n", s.ToString().c_str());
    }
    if (best) t.tuned = time_config(best->config);
    // One thread, the best schedule, in CPU time.
    ThreadPool one(1);
    absl::StatusOr<Lowered> lowered = tmpl->Lower(best ? best->config : tmpl->DefaultConfig());
    if (lowered.ok()) {
      absl::StatusOr<CompiledGroup> group = CompiledGroup::Compile(*std::move(lowered), true);
      if (group.ok()) {
        ScratchBuffers scratch(group->lowered(), **ctx);
        auto resolve = [&](const ArgBinding& arg) { return scratch.Resolve(arg); };
        t.cpu = CpuFastest([&] { group->Run(resolve, one); }, 10);
      }
    }
  }
  if (OneDnnAvailable()) {
    absl::StatusOr<std::unique_ptr<OneDnnKernel>> k =
        MakeOneDnnKernel((*ctx)->group(), **ctx, o.threads);
    // The pool's workers stop waiting for work first, as before a oneDNN
    // step of a run; afterwards the OpenMP team is left to stop spinning
    // (libgomp spins 300,000 pauses after a parallel region, about 20 ms on
    // an Intel Xeon whose pause takes 140 cycles) before the next conv's
    // generated kernel is timed: a worker of either team spinning beside the
    // other made some convs 50-100x slower in this table.
    pool.Park();
    if (k.ok()) t.onednn = TimeOneDnn(**k, **ctx, kBenchSeconds);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return t;
}

void PrintKernelRow(const std::string& name, const KernelTimes& t, double peak,
                    double core_peak, double core_nominal) {
  const double gen = Gflops(t.flops, t.generated), tuned = Gflops(t.flops, t.tuned);
  const double dnn = Gflops(t.flops, t.onednn), cpu = Gflops(t.flops, t.cpu);
  const double ours = std::max(gen, tuned);
  const double peak_g = peak / 1e9;
  char ratio[32] = "-";
  if (dnn > 0 && ours > 0) std::snprintf(ratio, sizeof ratio, "%.2f", ours / dnn);
  std::printf("%-34s %s %s %s %s  %s %s %s  %5s  %s %s\n", name.c_str(), Cell(gen).c_str(),
              Cell(tuned).c_str(), Cell(dnn).c_str(), Cell(cpu).c_str(),
              Percent(gen, peak_g).c_str(), Percent(tuned, peak_g).c_str(),
              Percent(dnn, peak_g).c_str(), ratio, Percent(cpu, core_peak / 1e9).c_str(),
              Percent(cpu, core_nominal / 1e9).c_str());
}

void PrintKernelHeader(const char* what, double peak) {
  std::printf("\n%-34s %7s %7s %7s %7s  %5s %5s %5s  %5s  %s\n", what, "gen", "tuned", "oneDNN",
              "1T cpu", "gen", "tuned", "dnn", "us/", "1T cpu % of core");
  char label[64];
  std::snprintf(label, sizeof label, "%% of peak %.0f", peak / 1e9);
  std::printf("%-34s %31s  %17s  %5s  %s\n", "", "GFLOP/s", label, "dnn", "measured nominal");
}

void GemmSection(const Options& o, TuningLog& log, double peak, double core_peak,
                 double core_nominal) {
  PrintKernelHeader("GEMM  C[MxN] = A[MxK] B[KxN]", peak);
  struct Shape {
    std::string name;
    Dims a, b;
    bool b_weight;
  };
  const std::vector<Shape> shapes = {
      {"1024^3", {1024, 1024}, {1024, 1024}, true},
      {"2048^3", {2048, 2048}, {2048, 2048}, true},
      {"bert dense 1024x1024x1024", {1024, 1024}, {1024, 1024}, true},
      {"bert attention 256 x 64x64x64", {16, 16, 64, 64}, {16, 16, 64, 64}, false},
      {"odd 1000x999x1001", {1000, 1001}, {1001, 999}, true},
  };
  for (const Shape& s : shapes) {
    GraphBuilder b("gemm");
    const Value x = b.Input("a", DType::kF32, s.a);
    const Value w = s.b_weight ? b.Weight("b", DType::kF32, s.b) : b.Input("b", DType::kF32, s.b);
    b.Output("c", b.MatMul(x, w));
    absl::StatusOr<Graph> g = std::move(b).Build();
    if (!g.ok()) continue;
    NodeId node = -1;
    for (NodeId id = 0; id < g->num_nodes(); ++id) {
      if (g->node(id).op == OpKind::kMatMul) node = id;
    }
    PrintKernelRow(s.name, MeasureNode(*g, node, o, log), peak, core_peak, core_nominal);
    std::fflush(stdout);
  }
}

void ConvSection(const Options& o, TuningLog& log, double peak, double core_peak,
                 double core_nominal) {
  PrintKernelHeader("ResNet-50 convs (TASO), NCHW", peak);
  absl::StatusOr<Graph> g = models::ResNet50();
  if (!g.ok()) return;
  std::map<std::string, int> seen;
  std::vector<std::pair<std::string, NodeId>> layers;
  for (NodeId id = 0; id < g->num_nodes(); ++id) {
    const Node& n = g->node(id);
    if (n.op != OpKind::kConv2d) continue;
    const TensorType& x = g->type(n.inputs[0]);
    const TensorType& w = g->type(n.inputs[1]);
    const std::string name =
        StrCat(x.dim(1), "x", x.dim(2), "x", x.dim(3), " ", w.dim(2), "x", w.dim(3), " s",
               n.attrs.GetInts("stride")[0], " -> ", w.dim(0));
    if (seen[name]++ == 0) layers.push_back({name, id});
  }
  for (const auto& [name, id] : layers) {
    PrintKernelRow(StrCat(name, " (x", seen[name], ")"), MeasureNode(*g, id, o, log), peak,
                   core_peak, core_nominal);
    std::fflush(stdout);
  }
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// A baseline in a child process that answers the protocol of
// bench/ort_latency.py --serve (ONNX Runtime on the model exported to ONNX) or
// bench/torch_latency.py --serve (PyTorch on the zoo's PyTorch specification):
// asked for one run at a time, so that its runs interleave with lemma's under
// the same load.
// The time a burst of back-to-back runs stands for: its only run, or the
// median of all but the first (the run after idle).
double BurstTime(std::vector<double> times) {
  if (times.size() > 1) times.erase(times.begin());
  return Median(std::move(times));
}

class BaselineServer {
 public:
  ~BaselineServer() { Stop(); }

  // Starts `command` (a program on PATH and its arguments) under `env` without
  // this environment's OpenBLAS settings, which must not bend the baseline, and
  // waits for its ready line; false (with `error`) when it cannot start.
  bool Start(const std::vector<std::string>& command, std::string* error) {
    int to_child[2], from_child[2];
    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
      *error = "pipe failed";
      return false;
    }
    std::vector<std::string> args = {"env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE"};
    args.insert(args.end(), command.begin(), command.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(to_child[0], 0);
      dup2(from_child[1], 1);
      close(to_child[1]);
      close(from_child[0]);
      execvp("env", argv.data());
      _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    to_ = fdopen(to_child[1], "w");
    from_ = fdopen(from_child[0], "r");
    absl::StatusOr<JsonValue> ready = ReadLine();
    if (!ready.ok() || ready->Find("ready") == nullptr) {
      const JsonValue* message = ready.ok() ? ready->Find("error") : nullptr;
      *error = message != nullptr ? message->string
                                  : (ready.ok() ? "no ready line"
                                                : std::string(ready.status().message()));
      Stop();
      return false;
    }
    ready_ = *std::move(ready);
    const JsonValue* version = ready_.Find("version");
    version_ = version != nullptr ? version->string : "";
    return true;
  }

  // Seconds of one run; 0 when the server has gone.
  // Seconds of a burst of `n` runs (BurstTime), or 0 when the server fails.
  double Run(int n) {
    if (to_ == nullptr) return 0;
    std::fprintf(to_, "%d\n", n);
    std::fflush(to_);
    absl::StatusOr<JsonValue> v = ReadLine();
    if (!v.ok()) return 0;
    const JsonValue* ms = v->Find("ms");
    if (ms == nullptr || ms->array.empty()) return 0;
    std::vector<double> times;
    for (const JsonValue& t : ms->array) times.push_back(t.number / 1e3);
    return BurstTime(std::move(times));
  }

  const std::string& version() const { return version_; }
  // The server's process id (-1 when it is not running).
  pid_t pid() const { return pid_; }
  // The ready line (version, threads, and what else the server reports).
  const JsonValue& ready() const { return ready_; }

 private:
  absl::StatusOr<JsonValue> ReadLine() {
    std::string text;
    char buf[4096];
    while (std::fgets(buf, sizeof buf, from_) != nullptr) {
      text += buf;
      if (!text.empty() && text.back() == '\n') break;
    }
    if (text.empty()) return absl::UnavailableError("the baseline's process exited");
    return ParseJson(text);
  }

  void Stop() {
    if (to_ != nullptr) std::fclose(to_);
    if (from_ != nullptr) std::fclose(from_);
    to_ = from_ = nullptr;
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  pid_t pid_ = -1;
  std::FILE* to_ = nullptr;
  std::FILE* from_ = nullptr;
  std::string version_;
  JsonValue ready_;
};

// Writes `g` with the weights of `feeds` as an ONNX model.
absl::Status ExportOnnx(const Graph& g, const NamedTensors<F32>& feeds, const std::string& path) {
  WeightValues weights;
  for (NodeId id : g.WeightNodes()) {
    const std::string& name = g.node(id).names[0];
    auto it = feeds.find(name);
    if (it == feeds.end()) return absl::NotFoundError(StrCat("no value for weight ", name));
    const Tensor<float> logical = WithLayout(it->second, DefaultLayout(it->second.type.rank()));
    weights[name] = WeightValue::Of(logical.type.dims, logical.data);
  }
  return WriteOnnxFile(path, g, weights);
}

// The largest difference between two runs' outputs, relative to the largest
// magnitude of the first (both compared in the default layout).
double MaxRelativeDifference(const NamedTensors<F32>& a, const NamedTensors<F32>& b) {
  double diff = 0, scale = 1e-30;
  for (const auto& [name, ta] : a) {
    auto it = b.find(name);
    if (it == b.end()) return 1e30;
    const Tensor<float> x = WithLayout(ta, DefaultLayout(ta.type.rank()));
    const Tensor<float> y = WithLayout(it->second, DefaultLayout(it->second.type.rank()));
    if (x.data.size() != y.data.size()) return 1e30;
    for (size_t i = 0; i < x.data.size(); ++i) {
      diff = std::max(diff, static_cast<double>(std::abs(x.data[i] - y.data[i])));
      scale = std::max(scale, static_cast<double>(std::abs(x.data[i])));
    }
  }
  return diff / scale;
}

// One graph of a model, compiled for the runtime.
struct Variant {
  std::string name;  // "original", "analytical", "measured"
  Graph graph;
  std::unique_ptr<Executable> exe;
  double optimize_seconds = 0, compile_seconds = 0;
  double cost_before = 0, cost_after = 0;  // under the optimizer's model
  double difference = 0;                    // outputs against the original's
  std::vector<double> times;
};

// The optimized graph of `g` under `cost`: analytical, measured, or
// keep-layouts (analytical, every value keeping its layout).
absl::StatusOr<OptimizeResult> OptimizeFor(const Graph& g, const RuleSet& rules,
                                           const std::string& cost, const Options& o) {
  OptimizeOptions options;
  options.time_limit = std::chrono::duration<double>(o.optimize_seconds);
  std::unique_ptr<OptimizerCosts> measured;
  if (cost == "measured") {
    CostModelOptions co;
    co.threads = o.threads;
    co.cache_path = o.cost_cache;
    co.use_onednn = o.providers != ProviderChoice::kGenerated;
    absl::StatusOr<std::unique_ptr<OptimizerCosts>> m = OptimizerCosts::Create(co);
    if (!m.ok()) return m.status();
    measured = *std::move(m);
    options.cost_model = measured->model();
    options.threads = 1;
  }
  if (cost == "keep-layouts") options.optimize_layouts = false;
  absl::StatusOr<OptimizeResult> r = Optimize(g, rules, options);
  if (measured) (void)measured->Save();
  return r;
}

// The interpreter of Debian's python3-torch, PyTorch's CPU build.
constexpr char kTorchPython[] = "/usr/bin/python3";

// Starts PyTorch on the model `name` (bench/torch_latency.py --serve) and
// checks that its output shapes, in order, are those of lemma's graph `g`;
// false, with a note, when PyTorch is not installed or does not start. The
// weights are PyTorch's own random ones, so only the shapes are compared.
bool StartTorch(BaselineServer& torch, const Graph& g, const std::string& name, const Options& o,
                std::vector<std::string>& notes) {
  std::string error;
  if (access(kTorchPython, X_OK) != 0) {
    notes.push_back(StrCat(name, " PyTorch: no ", kTorchPython,
                           " (scripts/install-bench-deps.sh installs Debian's python3-torch)"));
    return false;
  }
  std::vector<std::string> command = {kTorchPython,
                                      StrCat(LEMMA_SOURCE_DIR, "/bench/torch_latency.py"), name,
                                      "--threads", StrCat(o.threads), "--serve"};
  command.push_back("--mode");
  command.push_back(o.torch_mode);
  if (!torch.Start(command, &error)) {
    notes.push_back(StrCat(name, " PyTorch: ", error));
    return false;
  }
  std::vector<std::string> lemma_shapes, torch_shapes;
  for (const GraphOutput& out : g.outputs()) {
    lemma_shapes.push_back(StrCat("[", StrJoin(g.type(out.value).dims, ","), "]"));
  }
  if (const JsonValue* outputs = torch.ready().Find("outputs"); outputs != nullptr) {
    for (const JsonValue& shape : outputs->array) {
      std::vector<std::string> dims;
      for (const JsonValue& d : shape.array) dims.push_back(StrCat(static_cast<int64_t>(d.number)));
      torch_shapes.push_back(StrCat("[", StrJoin(dims, ","), "]"));
    }
  }
  const JsonValue* mode = torch.ready().Find("mode");
  std::string how = mode != nullptr ? mode->string : "";
  if (const JsonValue* picked = torch.ready().Find("picked"); picked != nullptr) {
    std::vector<std::string> mins;
    for (const auto& [m, min_ms] : picked->object) {
      mins.push_back(absl::StrFormat("%s %.1f ms", m, min_ms.number));
    }
    if (!mins.empty()) how += StrCat(", picked by the least of a few runs: ", StrJoin(mins, ", "));
  }
  notes.push_back(StrCat(name, " PyTorch ", torch.version(), ": ", how));
  if (!lemma_shapes.empty() && torch_shapes == lemma_shapes) {
    notes.push_back(StrCat(name, " PyTorch: output shapes agree with lemma's (",
                           lemma_shapes.size(), " outputs, the first ", lemma_shapes[0],
                           "); its weights are its own"));
  } else {
    notes.push_back(StrCat(name, " PyTorch: OUTPUT SHAPES DIFFER: lemma ",
                           StrJoin(lemma_shapes, " "), ", PyTorch ", StrJoin(torch_shapes, " ")));
  }
  return true;
}

void ModelSection(const Options& o, TuningLog& log) {
  std::vector<std::string> names = o.models;
  if (names.empty()) names = models::ModelNames();
  absl::StatusOr<RuleSet> rules = RuleSet();
  if (!o.costs.empty()) {
    rules = ReadRuleFiles(o.rules);
    if (!rules.ok()) {
      std::printf("rules: %s\n", std::string(rules.status().message()).c_str());
      return;
    }
    std::printf("optimized graphs: %s (%d rules), proved rules only, time limit %.0f s; costs: %s\n",
                o.rules.c_str(), rules->size(), o.optimize_seconds, StrJoin(o.costs, ", ").c_str());
  }
  std::printf("providers: %s\n",
              o.providers == ProviderChoice::kMeasure
                  ? "measure (each conv and matmul step takes the faster of generated and oneDNN)"
                  : (o.providers == ProviderChoice::kGenerated ? "generated kernels only"
                                                               : "oneDNN wherever it covers a step"));
  std::printf("latencies: medians of %d interleaved rounds (each round runs every graph and ONNX\n"
              "Runtime once, in an order rotated each round, each run %d ms after the threads of\n"
              "the runs before stop spinning); ratios are medians of the per-round ratios\n",
              o.runs, kPauseMs);
  if (o.burst > 1) {
    std::printf("bursts: each graph runs %d times back to back in its turn; its time in the round\n"
                "is the median of all but the first run (steady state: threads awake, caches warm)\n",
                o.burst);
  } else {
    std::printf("each time is one run after %d ms idle (threads asleep, caches cold); --burst N\n"
                "measures back-to-back runs instead\n",
                kPauseMs);
  }
  if (o.torch) {
    std::printf("PyTorch: %s bench/torch_latency.py --mode %s (the zoo's PyTorch specification,\n"
                "random weights, inference_mode, %d intra-op threads, 1 inter-op, OpenMP waiting\n"
                "passively), in the same rounds\n",
                kTorchPython, o.torch_mode.c_str(), o.threads);
  }
  std::vector<std::string> header = {"model", "ORT ms", "original ms", "ORT/orig"};
  for (const std::string& c : o.costs) {
    header.push_back(StrCat(c, " ms"));
    header.push_back("ORT/opt");
    header.push_back("orig/opt");
  }
  std::string line = absl::StrFormat("\n%-13s %9s %11s %8s", header[0], header[1], header[2], header[3]);
  for (size_t i = 4; i < header.size(); i += 3) {
    line += absl::StrFormat(" %15s %8s %8s", header[i], header[i + 1], header[i + 2]);
  }
  // With tuned schedules, the original graph on the rules of thumb too: what
  // tuning buys inside a model (a kernel tuned alone may not keep its lead
  // there).
  const bool defaults = o.tune > 0 || !o.log.empty();
  if (defaults) line += absl::StrFormat(" %12s %9s", "defaults ms", "dflt/orig");
  if (o.torch) {
    line += absl::StrFormat(" %9s %10s", "torch ms", "torch/orig");
    for (size_t i = 0; i < o.costs.size(); ++i) line += absl::StrFormat(" %9s", "torch/opt");
  }
  std::printf("%s\n", line.c_str());
  std::vector<std::string> notes;
  for (const std::string& name : names) {
    absl::StatusOr<Graph> g = models::BuildModel(name);
    if (!g.ok()) {
      std::printf("%-13s %s\n", name.c_str(), std::string(g.status().message()).c_str());
      continue;
    }
    const NamedTensors<F32> feeds = RandomFeeds<F32>(*g, 1);
    std::vector<Variant> variants;
    Variant original;
    original.name = "original";
    original.graph = *g;
    variants.push_back(std::move(original));
    for (const std::string& cost : o.costs) {
      const auto start = std::chrono::steady_clock::now();
      absl::StatusOr<OptimizeResult> r = OptimizeFor(*g, *rules, cost, o);
      if (!r.ok()) {
        notes.push_back(StrCat(name, " ", cost, ": ", r.status().message()));
        continue;
      }
      Variant v;
      v.name = cost;
      v.graph = r->graph;
      v.optimize_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      v.cost_before = r->cost_before;
      v.cost_after = r->cost_after;
      variants.push_back(std::move(v));
    }
    if (defaults) {
      Variant d;
      d.name = "defaults";
      d.graph = *g;
      variants.push_back(std::move(d));
    }
    RuntimeOptions ro;
    ro.threads = o.threads;
    ro.tuning_log = &log;
    ro.tune_budget = o.tune;
    ro.providers = o.providers;
    RuntimeOptions untuned = ro;
    untuned.tuning_log = nullptr;
    untuned.tune_budget = 0;
    NamedTensors<F32> reference;
    bool ok = true;
    for (Variant& v : variants) {
      const auto start = std::chrono::steady_clock::now();
      if (o.tune > 0) {
        // Tuning a model takes minutes: one line of progress per step, and
        // the log saved after each workload tuned.
        ro.on_step = [&](int i, int n, const StepInfo& s) {
          std::fprintf(stderr, "\r%s %s: step %d/%d %-60.60s", name.c_str(), v.name.c_str(), i + 1, n,
                       s.label.c_str());
          if (i + 1 == n) std::fprintf(stderr, "\n");
          if (s.why.find("tuned now") != std::string::npos) (void)log.Save();
        };
        if (o.tune_seconds > 0) {
          ro.tune_deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                         std::chrono::duration<double>(o.tune_seconds));
        }
      }
      absl::StatusOr<std::unique_ptr<Executable>> exe =
          Executable::Compile(v.graph, feeds, v.name == "defaults" ? untuned : ro);
      v.compile_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (!exe.ok()) {
        notes.push_back(StrCat(name, " ", v.name, ": ", exe.status().message()));
        ok = ok && v.name != "original";
        continue;
      }
      v.exe = *std::move(exe);
      absl::StatusOr<NamedTensors<F32>> out = v.exe->Run(feeds);  // warm-up and check
      if (!out.ok()) {
        notes.push_back(StrCat(name, " ", v.name, ": ", out.status().message()));
        v.exe.reset();
        continue;
      }
      if (v.name == "original") {
        reference = *std::move(out);
      } else {
        v.difference = MaxRelativeDifference(reference, *out);
      }
    }
    if (o.tune > 0) (void)log.Save();
    if (!ok) {
      std::printf("%-13s (does not compile)\n", name.c_str());
      continue;
    }
    BaselineServer ort;
    bool have_ort = false;
    std::string ort_error;
    if (o.ort) {
      const std::string path = StrCat("/tmp/lemma_bench_", name, ".onnx");
      if (absl::Status s = ExportOnnx(*g, feeds, path); !s.ok()) {
        ort_error = std::string(s.message());
      } else {
        have_ort = ort.Start({"python3", StrCat(LEMMA_SOURCE_DIR, "/bench/ort_latency.py"), path,
                              "--threads", StrCat(o.threads), "--serve"},
                             &ort_error);
      }
      if (!have_ort) notes.push_back(StrCat(name, " ORT: ", ort_error));
    }
    BaselineServer torch;
    const bool have_torch = o.torch && StartTorch(torch, *g, name, o, notes);
    // Each round runs every lemma graph, ONNX Runtime and PyTorch once,
    // starting one further along each round so that none always follows the
    // same one. Before each run it waits for the runtimes' threads to stop
    // spinning after their work, which would slow whatever runs next, and
    // then pauses.
    std::vector<double> ort_times, torch_times;
    const int entries = static_cast<int>(variants.size()) + 2;
    for (int r = 0; r < o.runs; ++r) {
      for (int e = 0; e < entries; ++e) {
        const int which = (r + e) % entries;
        if (which == entries - 1 && !have_torch) continue;
        WaitUntilQuiet({ort.pid(), torch.pid()});
        std::this_thread::sleep_for(std::chrono::milliseconds(kPauseMs));
        if (which == entries - 2) {
          if (have_ort) ort_times.push_back(ort.Run(o.burst));
          continue;
        }
        if (which == entries - 1) {
          torch_times.push_back(torch.Run(o.burst));
          continue;
        }
        Variant& v = variants[static_cast<size_t>(which)];
        if (!v.exe) continue;
        std::vector<double> burst;
        for (int b = 0; b < o.burst; ++b) {
          const auto t0 = std::chrono::steady_clock::now();
          (void)v.exe->Run(feeds);
          burst.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        v.times.push_back(BurstTime(std::move(burst)));
      }
    }
    auto ms = [](double s) { return s > 0 ? absl::StrFormat("%.3f", s * 1e3) : std::string("-"); };
    // The median over rounds of a / b.
    auto ratio = [](const std::vector<double>& a, const std::vector<double>& b) {
      std::vector<double> r;
      for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (a[i] > 0 && b[i] > 0) r.push_back(a[i] / b[i]);
      }
      return r.empty() ? std::string("-") : absl::StrFormat("%.3f", Median(r));
    };
    const Variant& orig = variants[0];
    std::string row = absl::StrFormat("%-13s %9s %11s %8s", name, ms(Median(ort_times)),
                                ms(Median(orig.times)), ratio(ort_times, orig.times));
    // PyTorch's cells, appended after the ONNX Runtime columns.
    std::string torch_cells = absl::StrFormat(" %9s %10s", ms(Median(torch_times)),
                                              ratio(torch_times, orig.times));
    for (const std::string& c : o.costs) {
      const Variant* v = nullptr;
      for (const Variant& x : variants) {
        if (x.name == c && x.exe) v = &x;
      }
      if (v == nullptr) {
        row += absl::StrFormat(" %15s %8s %8s", "-", "-", "-");
        torch_cells += absl::StrFormat(" %9s", "-");
        continue;
      }
      row += absl::StrFormat(" %15s %8s %8s", ms(Median(v->times)), ratio(ort_times, v->times),
                       ratio(orig.times, v->times));
      torch_cells += absl::StrFormat(" %9s", ratio(torch_times, v->times));
      notes.push_back(absl::StrFormat(
          "%s %s: optimized in %.1f s, model cost %.4f -> %.4f ms, %d -> %d nodes, outputs "
          "within %.1e (relative) of the original's",
          name, c, v->optimize_seconds, v->cost_before * 1e3, v->cost_after * 1e3,
          orig.graph.num_nodes(), v->graph.num_nodes(), v->difference));
    }
    if (defaults) {
      const Variant& d = variants.back();
      row += d.exe ? absl::StrFormat(" %12s %9s", ms(Median(d.times)), ratio(d.times, orig.times))
                   : absl::StrFormat(" %12s %9s", "-", "-");
    }
    if (o.torch) row += torch_cells;
    std::printf("%s\n", row.c_str());
    for (const Variant& v : variants) {
      if (!v.exe) continue;
      int gen = 0, dnn = 0, builtin = 0, logged = 0;
      for (const StepInfo& st : v.exe->steps()) {
        if (st.why.find("(log)") != std::string::npos) ++logged;
        if (st.provider == Provider::kOneDnn) {
          ++dnn;
        } else if (st.provider == Provider::kBuiltin) {
          ++builtin;
        } else {
          ++gen;
        }
      }
      notes.push_back(absl::StrFormat(
          "%s %s: compiled in %.1f s; steps generated/onednn/builtin %d/%d/%d; %d schedules from the "
          "log, weights timed %s",
          name, v.name, v.compile_seconds, gen, dnn, builtin, logged, WeightCacheName(v.exe->weight_cache())));
    }
    std::fflush(stdout);
  }
  if (!notes.empty()) std::printf("\n");
  for (const std::string& n : notes) std::printf("  %s\n", n.c_str());
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--threads") {
      o.threads = std::atoi(next().c_str());
    } else if (a == "--ghz") {
      o.ghz = std::atof(next().c_str());
    } else if (a == "--tune") {
      o.tune = std::atoi(next().c_str());
    } else if (a == "--tune-limit") {
      o.tune_seconds = std::atof(next().c_str());
    } else if (a == "--log") {
      o.log = next();
    } else if (a == "--sections") {
      const std::vector<std::string> s = SplitList(next());
      o.sections = std::set<std::string>(s.begin(), s.end());
    } else if (a == "--models") {
      o.models = SplitList(next());
    } else if (a == "--runs") {
      o.runs = std::atoi(next().c_str());
    } else if (a == "--burst") {
      o.burst = std::atoi(next().c_str());
      if (o.burst < 1 || o.burst > 1000) {
        std::fprintf(stderr, "--burst takes 1 to 1000 runs\n");
        return 2;
      }
    } else if (a == "--no-ort") {
      o.ort = false;
    } else if (a == "--no-torch") {
      o.torch = false;
    } else if (a == "--torch-mode") {
      o.torch_mode = next();
      if (o.torch_mode != "eager" && o.torch_mode != "jit" && o.torch_mode != "auto") {
        std::fprintf(stderr, "--torch-mode takes eager, jit or auto, not '%s'\n",
                     o.torch_mode.c_str());
        return 2;
      }
    } else if (a == "--optimize") {
      o.costs = SplitList(next());
      for (const std::string& c : o.costs) {
        if (c != "analytical" && c != "measured" && c != "keep-layouts") {
          std::fprintf(stderr, "--optimize takes analytical, measured, keep-layouts, not '%s'\n",
                       c.c_str());
          return 2;
        }
      }
    } else if (a == "--no-optimize") {
      o.costs.clear();
    } else if (a == "--rules") {
      o.rules = next();
    } else if (a == "--optimize-seconds") {
      o.optimize_seconds = std::atof(next().c_str());
    } else if (a == "--cost-cache") {
      o.cost_cache = next();
    } else if (a == "--providers") {
      const std::string p = next();
      if (p == "measure") {
        o.providers = ProviderChoice::kMeasure;
      } else if (p == "generated") {
        o.providers = ProviderChoice::kGenerated;
      } else if (p == "onednn") {
        o.providers = ProviderChoice::kOneDnn;
      } else {
        std::fprintf(stderr, "--providers takes measure, generated or onednn, not '%s'\n", p.c_str());
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: lemma_cpu_bench [--threads N] [--ghz G] [--tune N] [--tune-limit S] [--log FILE]\n"
                   "                       [--sections gemm,conv,models] [--models a,b] "
                   "[--runs N] [--burst N] [--no-ort] [--no-torch] [--torch-mode eager|jit|auto]\n"
                   "                       [--optimize analytical,measured,keep-layouts | --no-optimize] "
                   "[--rules FILES]\n"
                   "                       [--optimize-seconds S] [--cost-cache FILE] "
                   "[--providers measure|generated|onednn]\n");
      return 2;
    }
  }
  TuningLog log;
  if (!o.log.empty()) {
    absl::StatusOr<TuningLog> loaded = TuningLog::Load(o.log);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      return 1;
    }
    log = *std::move(loaded);
  }
  const CpuTarget& host = HostTarget();
  const double peak = PeakFlops(host, o.threads, o.ghz);
  std::printf("lemma CPU backend benchmark\n");
  std::printf("machine: %s\n", host.Describe().c_str());
  std::printf("threads: %d; fp32 peak %.0f GFLOP/s (2 FMA units x %d lanes x 2 x %.2f GHz x %d)\n",
              o.threads, peak / 1e9, host.vector_width, o.ghz, o.threads);
  std::printf("load average at start: %s (the machine may be shared: timings are provisional)\n",
              LoadAverage().c_str());
  std::printf("tuning: %s\n", o.tune > 0 ? StrCat("budget ", o.tune, " per workload").c_str()
                                         : (o.log.empty() ? "none (rules of thumb)"
                                                          : StrCat("replayed from ", o.log).c_str()));
  const double core_nominal = PeakFlops(host, 1, o.ghz);
  const double core_peak = MeasuredCorePeak();
  std::printf("measured FMA throughput of one core: %.0f GFLOP/s (CPU time; %.0f%% of the nominal %.0f)\n",
              core_peak / 1e9, 100 * core_peak / core_nominal, core_nominal / 1e9);
  if (o.sections.count("gemm")) GemmSection(o, log, peak, core_peak, core_nominal);
  if (o.sections.count("conv")) ConvSection(o, log, peak, core_peak, core_nominal);
  if (o.sections.count("models")) ModelSection(o, log);
  std::printf("\nload average at end: %s\n", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace lemma::cpu

int main(int argc, char** argv) { return lemma::cpu::Main(argc, argv); }
