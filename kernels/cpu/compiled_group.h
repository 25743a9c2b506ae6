#ifndef LEMMA_KERNELS_CPU_COMPILED_GROUP_H_
#define LEMMA_KERNELS_CPU_COMPILED_GROUP_H_

// A lowered group with its kernels compiled, runnable on any buffers; and the
// timing harness that the runtime, the tuner and the cost model share.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu/codegen.h"
#include "kernels/cpu/lowering.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/thread_pool.h"

namespace lemma::cpu {

/// Floats aligned to 64 bytes, zero-filled.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t floats);
  float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

/// A Lowered whose launches are compiled (or, without code generation,
/// interpreted).
class CompiledGroup {
 public:
  /// Compiles every launch of `lowered`; with generate = false (or in a build
  /// without LLVM) the launches are interpreted instead.
  static absl::StatusOr<CompiledGroup> Compile(Lowered lowered, bool generate);

  const Lowered& lowered() const { return lowered_; }
  bool generated() const { return generated_; }
  /// Runs the launches in order; `resolve` gives the pointer of a value or
  /// temp argument (constants are the group's own).
  void Run(const std::function<float*(const ArgBinding&)>& resolve, ThreadPool& pool) const;
  /// "i:0/96 j:0/48 ..." for each launch, joined by "; ".
  std::string ScheduleText() const;

 private:
  Lowered lowered_;
  std::vector<std::shared_ptr<const CompiledKernel>> kernels_;
  bool generated_ = false;
};

/// Scratch buffers for every value and temp a group reads or writes, so that
/// it can run outside a plan: values get zeroed buffers of their reachable
/// size (constants their own data).
class ScratchBuffers {
 public:
  ScratchBuffers(const Lowered& lowered, const LoweringContext& context);
  float* Resolve(const ArgBinding& arg);
  /// Evicts the group's constants (its own packed data and the graph's
  /// constants it reads) from the caches.
  void EvictConstants(const Lowered& lowered, const LoweringContext& context) const;

 private:
  std::vector<std::pair<ValueId, AlignedBuffer>> values_;
  std::vector<std::pair<ValueId, const float*>> constants_;
  std::vector<AlignedBuffer> temps_;
};

/// Times of repeated calls, in seconds.
struct Timing {
  double fastest = 0;  // the least disturbed by other work on the machine
  double median = 0;   // what a caller typically waits
};

/// How long `fn` takes: one warm-up call, then calls until `min_runs` calls
/// and `min_seconds` of total time (at most `max_runs`). `before`, when
/// given, runs ahead of every call, untimed.
Timing TimeCalls(const std::function<void()>& fn, int min_runs = 3, double min_seconds = 0.02,
                 int max_runs = 200, const std::function<void()>& before = nullptr);

/// TimeCalls(...).fastest.
double TimeFastest(const std::function<void()>& fn, int min_runs = 3, double min_seconds = 0.02,
                   int max_runs = 200);

/// Times a compiled group on scratch buffers (TimeFastest, calling it for at
/// least `min_seconds`), its weights warm or evicted before each call.
double TimeGroup(const CompiledGroup& group, const LoweringContext& context, ThreadPool& pool,
                 double min_seconds = 0.02, WeightCache weights = WeightCache::kWarm);
/// Both times of a compiled group on scratch buffers.
Timing TimeGroupCalls(const CompiledGroup& group, const LoweringContext& context, ThreadPool& pool,
                      double min_seconds = 0.02, WeightCache weights = WeightCache::kWarm);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_COMPILED_GROUP_H_
