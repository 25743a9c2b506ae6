#ifndef LEMMA_KERNELS_CPU_JIT_H_
#define LEMMA_KERNELS_CPU_JIT_H_

// The process's LLVM ORC JIT (LLJIT) for the host CPU: optimizes a module with
// the O3 pipeline for the host's CPU and features and loads it. Internal to
// the CPU backend; only built with LEMMA_LLVM.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Target/TargetMachine.h"

namespace lemma::cpu {

/// Loaded code: unloaded when the last handle goes.
class JitCode {
 public:
  JitCode(uint64_t address, llvm::orc::ResourceTrackerSP tracker)
      : address_(address), tracker_(std::move(tracker)) {}
  ~JitCode();
  uint64_t address() const { return address_; }

 private:
  uint64_t address_;
  llvm::orc::ResourceTrackerSP tracker_;
};

class Jit {
 public:
  /// The process's JIT, created on first use.
  static absl::StatusOr<Jit*> Get();

  /// The CPU name and feature string modules are compiled for.
  const std::string& cpu() const { return cpu_; }
  const std::string& features() const { return features_; }
  /// Sets the data layout and triple of `module` to the host's.
  void Prepare(llvm::Module& module) const;
  /// Runs the O3 pipeline over `module` (already prepared).
  void Optimize(llvm::Module& module);
  /// Optimizes `module` and loads it; returns the code of function `name`.
  /// With `assembly`, also writes the host assembly of the optimized module
  /// there (the code that is loaded).
  absl::StatusOr<std::shared_ptr<JitCode>> Load(std::unique_ptr<llvm::Module> module,
                                                std::unique_ptr<llvm::LLVMContext> context,
                                                const std::string& name,
                                                std::string* assembly = nullptr);

 private:
  Jit() = default;
  absl::Status Init();

  std::unique_ptr<llvm::orc::LLJIT> jit_;
  std::unique_ptr<llvm::TargetMachine> tm_;
  std::string cpu_, features_;
  std::mutex mu_;
};

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_JIT_H_
