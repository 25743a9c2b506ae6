// Single-thread CPU time of every distinct conv workload of zoo models, for
// the default schedule and for variants of it (knob overrides), so that rules
// of thumb can be compared on a shared machine.
//
//   conv_sweep MODEL[,MODEL..] [VARIANT ...]   MODEL: a zoo name or a .lemma file;
//                                              VARIANT: "algo=0,nr=2"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench/models.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/lowering.h"
#include "kernels/cpu/standalone.h"
#include "kernels/cpu/thread_pool.h"

namespace lemma::cpu {
namespace {

double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int Main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::vector<std::string> variants = {""};
  for (int i = 2; i < argc; ++i) variants.push_back(argv[i]);
  std::vector<double> totals(variants.size(), 0);
  // CONV_SWEEP_THREADS=N: N threads, the least wall-clock time instead.
  const char* threads_env = std::getenv("CONV_SWEEP_THREADS");
  const int threads = threads_env != nullptr ? std::atoi(threads_env) : 1;
  ThreadPool one(threads);
  auto now = [&] {
    if (threads == 1) return ThreadCpuSeconds();
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  };
  std::map<std::string, int> seen;
  for (const std::string& model : Split(argv[1], ',')) {
    const bool file = model.size() > 6 && model.substr(model.size() - 6) == ".lemma";
    absl::StatusOr<Graph> g = file ? ReadGraphFile(model) : models::BuildModel(model);
    if (!g.ok()) return 1;
    // CONV_SWEEP_NHWC=1: every rank-4 value but the weights channels-last.
    if (std::getenv("CONV_SWEEP_NHWC") != nullptr) {
      for (NodeId id = 0; id < g->num_nodes(); ++id) {
        for (size_t j = 0; j < g->node(id).outputs.size(); ++j) {
          if (g->node(id).outputs[j].rank() == 4 && g->node(id).op != OpKind::kWeight) {
            if (!g->SetLayout({id, static_cast<int32_t>(j)}, Layout::kNHWC).ok()) return 1;
          }
        }
      }
    }
    for (NodeId id = 0; id < g->num_nodes(); ++id) {
      const Node& n = g->node(id);
      if (n.op != OpKind::kConv2d) continue;
      absl::StatusOr<std::unique_ptr<StandaloneGroup>> ctx = StandaloneGroup::Make(*g, Group{id, {}});
      if (!ctx.ok()) continue;
      const std::string key = WorkloadKey((*ctx)->group(), **ctx);
      if (seen[key]++ > 0) continue;
      std::unique_ptr<Template> tmpl = MakeTemplate((*ctx)->group(), **ctx);
      if (tmpl == nullptr) continue;
      const double flops = GroupFlops(*g, (*ctx)->group());
      const TensorType& x = g->type(n.inputs[0]);
      const TensorType& w = g->type(n.inputs[1]);
      std::printf("%-12s %4lldx%3lldx%3lld %lldx%lld/%lld g%lld ->%4lld %8.1fM", model.c_str(),
                  (long long)x.dim(1), (long long)x.dim(2), (long long)x.dim(3), (long long)w.dim(2),
                  (long long)w.dim(3), (long long)n.attrs.GetInts("stride")[0],
                  (long long)n.attrs.GetInt("groups"), (long long)w.dim(0), flops / 1e6);
      for (size_t v = 0; v < variants.size(); ++v) {
        Config c = tmpl->DefaultConfig();
        for (const std::string& kv : Split(variants[v], ',')) {
          const size_t eq = kv.find('=');
          c[kv.substr(0, eq)] = std::stoll(kv.substr(eq + 1));
        }
        double best = 0;
        absl::StatusOr<Lowered> lowered = tmpl->Lower(c);
        if (!lowered.ok()) std::fprintf(stderr, "%s\n", lowered.status().ToString().c_str());
        if (lowered.ok()) {
          absl::StatusOr<CompiledGroup> group = CompiledGroup::Compile(*std::move(lowered), true);
          if (!group.ok()) std::fprintf(stderr, "%s\n", group.status().ToString().c_str());
          if (group.ok()) {
            ScratchBuffers scratch(group->lowered(), **ctx);
            auto resolve = [&](const ArgBinding& arg) { return scratch.Resolve(arg); };
            group->Run(resolve, one);
            best = 1e30;
            for (int r = 0; r < (threads == 1 ? 8 : 30); ++r) {
              const double start = now();
              group->Run(resolve, one);
              best = std::min(best, now() - start);
            }
          }
        }
        totals[v] += best;
        std::printf(" %8.1fus(%3.0f)", best * 1e6, best > 0 ? flops / best / 1e9 : 0.0);
        if (v == 0) std::printf(" [%s]", ConfigToString(c).c_str());
      }
      std::printf("\n");
      std::fflush(stdout);
    }
  }
  std::printf("totals (each workload once):");
  for (size_t v = 0; v < variants.size(); ++v) {
    std::printf(" %s=%.3fms", variants[v].empty() ? "default" : variants[v].c_str(), totals[v] * 1e3);
  }
  std::printf("\n");
  return 0;
}

}  // namespace
}  // namespace lemma::cpu

int main(int argc, char** argv) { return lemma::cpu::Main(argc, argv); }
