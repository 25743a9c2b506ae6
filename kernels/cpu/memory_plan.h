#ifndef LEMMA_KERNELS_CPU_MEMORY_PLAN_H_
#define LEMMA_KERNELS_CPU_MEMORY_PLAN_H_

// Memory planning: buffers with known sizes and lifetimes (the steps from the
// one that writes a buffer to the last one that reads it) placed in one arena
// so that buffers alive at the same time never overlap.

#include <cstdint>
#include <vector>

namespace lemma::cpu {

/// A buffer to place: `bytes` alive from step `first` to step `last` (inclusive).
struct BufferRequest {
  int64_t bytes = 0;
  int first = 0;
  int last = 0;
};

/// Where each buffer goes.
struct MemoryPlacement {
  std::vector<int64_t> offsets;  // byte offset of each request, a multiple of the alignment
  int64_t arena_bytes = 0;       // the end of the highest placed buffer
  int64_t naive_bytes = 0;       // the sum of the (aligned) sizes
};

/// Places the buffers greedily, largest first, each at the lowest aligned
/// offset that overlaps no placed buffer whose lifetime meets its own.
/// Deterministic.
MemoryPlacement PlanMemory(const std::vector<BufferRequest>& requests, int64_t alignment = 64);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_MEMORY_PLAN_H_
