#ifndef LEMMA_KERNELS_CPU_CODEGEN_H_
#define LEMMA_KERNELS_CPU_CODEGEN_H_

// Code generation: a LoopNest with its Schedule lowered to LLVM IR, vectorized
// for the host (AVX-512 where present, AVX2 otherwise), optimized and loaded
// by the JIT. A kernel is a function
//
//   void kernel(float* const* buffers, int64_t begin, int64_t end)
//
// that runs iterations [begin, end) of the schedule's parallel loops (fused
// into one range of CompiledKernel::iterations()), so that threads can share
// them. Built only with LEMMA_LLVM; without it CompileKernel fails.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kernels/cpu/loop_nest.h"
#include "kernels/cpu/thread_pool.h"

namespace lemma::cpu {

using KernelFn = void (*)(float* const* buffers, int64_t begin, int64_t end);

/// A loaded kernel. Its code stays loaded while a handle to it exists.
class CompiledKernel {
 public:
  CompiledKernel(KernelFn fn, int64_t iterations, std::shared_ptr<void> code)
      : fn_(fn), iterations_(iterations), code_(std::move(code)) {}

  KernelFn fn() const { return fn_; }
  /// The trip count of the fused parallel loops (1 when none is parallel).
  int64_t iterations() const { return iterations_; }
  /// Runs the whole kernel on `buffers` (one pointer per buffer of the
  /// nest, in order), the pool's threads sharing the parallel loops.
  void Run(float* const* buffers, ThreadPool& pool) const;

 private:
  KernelFn fn_;
  int64_t iterations_;
  std::shared_ptr<void> code_;
};

/// Whether this build can generate code (built with LEMMA_LLVM).
bool CodegenAvailable();

/// Validates `nest` and `schedule`, lowers, optimizes and loads them. The
/// vector width is the schedule's. Identical requests share one kernel while
/// it is loaded.
absl::StatusOr<std::shared_ptr<const CompiledKernel>> CompileKernel(const LoopNest& nest,
                                                                    const Schedule& schedule);

/// From now on, writes the host assembly of each kernel CompileKernel
/// compiles (not those it shares) to `dir`/lemma_kernel_N.s, headed by the
/// loop nest's name and schedule; an empty `dir` stops. For reading the code
/// the generator emits (`lemma bench --asm-dir`). `dir` must exist.
void SetAssemblyDir(std::string dir);

/// The LLVM IR of the kernel, before or after optimization (for debugging).
absl::StatusOr<std::string> KernelIr(const LoopNest& nest, const Schedule& schedule,
                                     bool optimized);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_CODEGEN_H_
