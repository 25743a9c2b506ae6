#include "kernels/cpu/target.h"

#include <algorithm>
#include <fstream>
#include <vector>
#include <string_view>
#include <thread>

#include "ir/strings.h"

#ifdef LEMMA_HAS_LLVM
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Host.h"
#endif

namespace lemma::cpu {
namespace {

std::string ModelName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    size_t begin = line.find_first_not_of(' ', colon + 1);
    if (begin == std::string::npos) break;
    std::string name = line.substr(begin);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    return name;
  }
  return "unknown";
}

CpuTarget Detect() {
  CpuTarget t;
  t.model = ModelName();
  t.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  bool avx512 = false, avx2 = false;
#ifdef LEMMA_HAS_LLVM
  t.cpu = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features;
  if (llvm::sys::getHostCPUFeatures(features)) {
    std::string list;
    // Sorted, so that the string is the same on every run.
    std::vector<std::string> names;
    for (const auto& f : features) names.push_back(StrCat(f.second ? "+" : "-", f.first().str()));
    std::sort(names.begin(), names.end());
    t.features = StrJoin(names, ",");
    auto has = [&](const char* name) {
      auto it = features.find(name);
      return it != features.end() && it->second;
    };
    avx512 = has("avx512f") && has("avx512vl") && has("avx512bw") && has("avx512dq");
    avx2 = has("avx2") && has("fma");
  }
#else
  t.cpu = "native";
  __builtin_cpu_init();
  avx512 = __builtin_cpu_supports("avx512f");
  avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  if (avx512) {
    t.isa = "avx512";
    t.vector_width = 16;
  } else if (avx2) {
    t.isa = "avx2";
    t.vector_width = 8;
  } else {
    t.isa = "sse";
    t.vector_width = 4;
  }
  return t;
}

}  // namespace

std::string CpuTarget::Key(int threads) const {
  return StrCat(model, "/", isa, "/", threads, "t");
}

std::string CpuTarget::Describe() const {
  return StrCat(model, " (LLVM cpu ", cpu, "), ", isa, " (", vector_width, " floats/vector), ",
                cores, " cores");
}

const CpuTarget& HostTarget() {
  static const CpuTarget* target = new CpuTarget(Detect());
  return *target;
}

double PeakFlops(const CpuTarget& target, int threads, double ghz) {
  return threads * 2.0 /*FMA units*/ * 2.0 /*flops per FMA*/ * target.vector_width * ghz * 1e9;
}

}  // namespace lemma::cpu
