#ifndef LEMMA_KERNELS_CUDA_NVRTC_H_
#define LEMMA_KERNELS_CUDA_NVRTC_H_

// Run-time compilation of generated CUDA C++ to PTX with NVRTC. NVRTC runs on
// the host and needs no GPU, so generated kernels are compiled (and their
// errors caught) on any machine with the CUDA toolkit.

#include <string>

#include "absl/status/statusor.h"

namespace lemma::cuda {

/// PTX of `source` for the virtual architecture compute_<arch> (e.g. 75, 90).
/// Results are cached in memory by (source hash, arch), so that each distinct
/// kernel is compiled once per process. Errors carry NVRTC's log.
absl::StatusOr<std::string> CompileToPtx(const std::string& source, int arch);

/// The lowest architecture this NVRTC can target (the default for checks
/// that compile without a device).
int OldestSupportedArch();

/// How many distinct (source, arch) pairs were compiled in this process.
int CompiledModuleCount();

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_NVRTC_H_
