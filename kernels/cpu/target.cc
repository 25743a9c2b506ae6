#include "kernels/cpu/target.h"

#include <algorithm>
#include <fstream>
#include <vector>
#include <string_view>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

#include "ir/strings.h"

#ifdef LEMMA_HAS_LLVM
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Host.h"
#endif

namespace lemma::cpu {
namespace {

// The size of the highest cache level that the kernel lists for cpu0 (sysfs),
// else glibc's (which, in a virtual machine, may report the whole host's L3),
// else 0.
int64_t LastLevelCacheBytes() {
  int best_level = 0;
  int64_t best = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = StrCat("/sys/devices/system/cpu/cpu0/cache/index", i, "/");
    std::ifstream level_file(dir + "level"), size_file(dir + "size"), type_file(dir + "type");
    int level = 0;
    std::string size, type;
    if (!(level_file >> level) || !(size_file >> size)) continue;
    type_file >> type;
    if (type == "Instruction" || size.empty()) continue;
    int64_t bytes = 0;
    size_t pos = 0;
    while (pos < size.size() && size[pos] >= '0' && size[pos] <= '9') {
      bytes = bytes * 10 + (size[pos++] - '0');
    }
    if (pos < size.size() && (size[pos] == 'K' || size[pos] == 'k')) bytes <<= 10;
    if (pos < size.size() && (size[pos] == 'M' || size[pos] == 'm')) bytes <<= 20;
    if (level > best_level && bytes > 0) {
      best_level = level;
      best = bytes;
    }
  }
  if (best > 0) return best;
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long bytes = sysconf(name);
    if (bytes > 0) return bytes;
  }
  return 0;
}

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
  if (const int64_t bytes = LastLevelCacheBytes(); bytes > 0) t.last_level_cache_bytes = bytes;
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

const char* WeightCacheName(WeightCache cache) {
  return cache == WeightCache::kCold ? "cold" : "warm";
}

void AdviseHugePages(const void* data, int64_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  const uintptr_t page = static_cast<uintptr_t>(kHugePageBytes);
  const uintptr_t start = (reinterpret_cast<uintptr_t>(data) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + static_cast<uintptr_t>(std::max<int64_t>(bytes, 0))) & ~(page - 1);
  if (data == nullptr || end <= start) return;
  void* p = reinterpret_cast<void*>(start);
  if (madvise(p, end - start, MADV_HUGEPAGE) != 0) return;
#ifndef MADV_COLLAPSE
  constexpr int MADV_COLLAPSE = 25;
#endif
  (void)madvise(p, end - start, MADV_COLLAPSE);
#else
  (void)data;
  (void)bytes;
#endif
}

void EvictFromCaches(const void* data, int64_t bytes) {
  if (data == nullptr || bytes <= 0) return;
  const char* p = static_cast<const char*>(data);
#if defined(__x86_64__) || defined(__i386__)
  // clflush evicts a line from every level; lines of 64 bytes on every x86
  // processor lemma targets. The fence orders the evictions before the call.
  const uintptr_t first = reinterpret_cast<uintptr_t>(p) & ~uintptr_t{63};
  const uintptr_t end = reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes);
  for (uintptr_t line = first; line < end; line += 64) {
    __builtin_ia32_clflush(reinterpret_cast<const void*>(line));
  }
  __builtin_ia32_mfence();
#else
  // Elsewhere: write a buffer twice the last-level cache, which pushes out
  // whatever was there.
  static std::vector<char>* sweep =
      new std::vector<char>(static_cast<size_t>(2 * HostTarget().last_level_cache_bytes));
  for (size_t i = 0; i < sweep->size(); i += 64) (*sweep)[i] = static_cast<char>((*sweep)[i] + 1);
  (void)p;
#endif
}

const CpuTarget& HostTarget() {
  static const CpuTarget* target = new CpuTarget(Detect());
  return *target;
}

double PeakFlops(const CpuTarget& target, int threads, double ghz) {
  return threads * 2.0 /*FMA units*/ * 2.0 /*flops per FMA*/ * target.vector_width * ghz * 1e9;
}

}  // namespace lemma::cpu
