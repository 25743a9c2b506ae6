#include "kernels/cpu/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace lemma::cpu {

MemoryPlacement PlanMemory(const std::vector<BufferRequest>& requests, int64_t alignment) {
  const size_t n = requests.size();
  auto aligned = [&](int64_t bytes) { return (bytes + alignment - 1) / alignment * alignment; };
  MemoryPlacement placement;
  placement.offsets.assign(n, 0);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].bytes > requests[b].bytes;
  });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferRequest& r = requests[i];
    const int64_t size = aligned(r.bytes);
    placement.naive_bytes += size;
    // Occupied ranges of buffers alive at the same time, by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed) {
      const BufferRequest& o = requests[j];
      if (o.last < r.first || r.last < o.first) continue;
      busy.push_back({placement.offsets[j], placement.offsets[j] + aligned(o.bytes)});
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    placement.offsets[i] = offset;
    placement.arena_bytes = std::max(placement.arena_bytes, offset + size);
    placed.push_back(i);
  }
  return placement;
}

}  // namespace lemma::cpu
