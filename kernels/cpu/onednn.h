#ifndef LEMMA_KERNELS_CPU_ONEDNN_H_
#define LEMMA_KERNELS_CPU_ONEDNN_H_

// The vendor provider: oneDNN primitives for conv2d and matmul groups, with
// the group's activation and chain as oneDNN post-ops (eltwise relu, logistic,
// tanh, gelu; binary add and mul). Constant weights are reordered once into
// the layout the primitive picks. A conv whose only oneDNN implementation
// in the values' own layouts is GEMM-based (or reference code) runs in the
// layouts oneDNN picks when it has a direct kernel there (16-channel blocks,
// nChw16c, or channels-last for its brgemm kernels, with AVX-512): its
// input, output and full-size operands are reordered through per-thread
// staging buffers on each run. Operands that are slices with gaps are read
// through compact copies. Built only with LEMMA_ONEDNN;
// without it OneDnnAvailable() is false and MakeOneDnnKernel fails.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/lowering.h"

namespace lemma::cpu {

/// A ready oneDNN primitive for one group.
class OneDnnKernel {
 public:
  virtual ~OneDnnKernel() = default;
  /// Runs on the buffers `resolve` gives for the group's values.
  virtual void Run(const std::function<float*(const ArgBinding&)>& resolve) = 0;
  /// "conv jit:avx512_core (weights AcdB16b)".
  virtual std::string Describe() const = 0;
  /// Bytes of reordered weights it holds.
  virtual int64_t PreparedBytes() const = 0;
  /// The values it reads and writes (for scratch runs).
  virtual std::vector<ValueId> Values() const = 0;
  /// Evicts its reordered weights from the caches (WeightCache::kCold).
  virtual void EvictWeights() const = 0;
  /// For a value it reorders into or out of a layout of its own (blocked, or
  /// channels-last) and could instead read or write in that layout in the
  /// value's own buffer (dense, and as large): a key naming that layout.
  /// Empty otherwise.
  virtual std::string HandOffLayout(ValueId value) const = 0;
  /// Reads or writes `value` in that layout in the value's buffer (direct),
  /// or in the value's own layout through a reorder (the default). The
  /// runtime sets it where a oneDNN step hands its output to oneDNN steps
  /// alone, all taking it in the same layout.
  virtual void SetHandOff(ValueId value, bool direct) = 0;
  /// The value a sum post-op adds to the output when the output could be
  /// written over it in place (both in the same layout, neither reordered):
  /// the runtime then puts the two in one buffer, where the value dies at
  /// this step, and the copy of it into the output goes. Empty otherwise.
  virtual std::optional<ValueId> InPlaceOperand() const = 0;
};

/// Whether lemma was built with oneDNN.
bool OneDnnAvailable();

/// Runs fn over [0, n) in chunks taken in turn by oneDNN's OpenMP team of
/// `threads` threads (a ThreadPool::Runner); without oneDNN, on the caller.
void RunOnOpenMp(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& fn);

/// A primitive for `group` running on `threads` threads, or an error saying
/// why oneDNN does not cover it (an op other than conv2d and matmul, weights
/// that are not constant, a chain op without a post-op).
absl::StatusOr<std::unique_ptr<OneDnnKernel>> MakeOneDnnKernel(const Group& group,
                                                               const LoweringContext& context,
                                                               int threads);

/// Times `kernel` on scratch buffers (the fastest of the runs made in at
/// least `min_seconds`, in seconds).
double TimeOneDnn(OneDnnKernel& kernel, const LoweringContext& context, double min_seconds = 0.02);
/// Both times of `kernel` on scratch buffers (infinite when the primitive
/// fails to execute), its weights warm or evicted before each call.
Timing TimeOneDnnCalls(OneDnnKernel& kernel, const LoweringContext& context,
                       double min_seconds = 0.02, WeightCache weights = WeightCache::kWarm);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_ONEDNN_H_
