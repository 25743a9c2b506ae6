#ifndef LEMMA_KERNELS_CPU_TARGET_H_
#define LEMMA_KERNELS_CPU_TARGET_H_

// The machine kernels are generated for and measured on: detected once at run
// time (LLVM's host CPU name and features when lemma is built with LLVM, the
// compiler's CPU checks otherwise).

#include <cstdint>
#include <string>

namespace lemma::cpu {

/// What the code generator and the tuning log need to know about the host.
struct CpuTarget {
  std::string cpu;       // LLVM's name of the host CPU ("znver3", "generic", ...)
  std::string features;  // LLVM feature string ("+avx2,+fma,...")
  std::string isa;       // "avx512", "avx2" or "sse"
  int vector_width = 4;  // floats per vector register of that ISA
  std::string model;     // the processor's marketing name (/proc/cpuinfo)
  int cores = 1;         // hardware threads available to this process
  int64_t last_level_cache_bytes = 32 << 20;  // the largest cache (L3), shared by the cores

  /// The key under which tuning records and measured costs are stored:
  /// processor model, ISA and the number of threads kernels use.
  std::string Key(int threads) const;
  /// "AMD EPYC, avx512 (16 floats/vector), 2 cores".
  std::string Describe() const;
};

/// Where a kernel's weights (its constant operands, packed or not) are when a
/// timed call starts. A model whose weights outgrow the last-level cache reads
/// every weight from memory on each run, and the schedule that is fastest
/// with warm caches can be slower there (ResNet-50's 7x7 and 14x14 stages);
/// kCold times it so, as TVM's tuners do with `enable_cpu_cache_flush`.
enum class WeightCache {
  kWarm,  // left in the caches by the previous call
  kCold,  // evicted from every cache level before each call
};

/// "warm" or "cold".
const char* WeightCacheName(WeightCache cache);

/// Evicts [data, data + bytes) from every cache level of this core's view
/// (written back if dirty); the data stay as they are.
void EvictFromCaches(const void* data, int64_t bytes);

/// The size of a transparent huge page on x86-64 Linux.
constexpr int64_t kHugePageBytes = int64_t{2} << 20;

/// Asks the kernel to back the whole 2 MB pages inside [data, data + bytes)
/// with huge pages, collapsing pages already there (Linux 6.1+): kernels that
/// stream weights larger than the caches then miss the TLB once per 2 MB, not
/// once per 4 KB. Best effort: where the kernel declines, nothing changes.
void AdviseHugePages(const void* data, int64_t bytes);

/// The host, detected on first use.
const CpuTarget& HostTarget();

/// The fp32 peak of the host in FLOP/s for `threads` threads: two fused
/// multiply-add units per core of vector_width lanes at `ghz` GHz.
double PeakFlops(const CpuTarget& target, int threads, double ghz);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_TARGET_H_
