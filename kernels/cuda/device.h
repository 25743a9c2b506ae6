#ifndef LEMMA_KERNELS_CUDA_DEVICE_H_
#define LEMMA_KERNELS_CUDA_DEVICE_H_

// The GPU the CUDA backend runs on, and the parts of the driver API it uses
// (module loading and kernel launches), opened from libcuda.so.1 at run time:
// the driver library comes with the GPU driver, not with the toolkit, so
// binaries linked with lemma_cuda start on machines without one.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace lemma::cuda {

struct DeviceInfo {
  std::string name;  // "NVIDIA H100 80GB HBM3"
  int major = 0;     // compute capability
  int minor = 0;
  int64_t memory_bytes = 0;
  int multiprocessors = 0;

  /// The compute capability as an NVRTC architecture number (90 for 9.0).
  int Arch() const { return major * 10 + minor; }
  /// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
  std::string Describe() const;
};

/// The device `ordinal`, or an error saying why there is none ("no CUDA
/// device: ..." with the runtime's reason) when no driver or GPU is present.
absl::StatusOr<DeviceInfo> QueryDevice(int ordinal = 0);

/// Whether a CUDA device is present (QueryDevice succeeds).
bool DeviceAvailable();

/// The target part of cost-cache and tuning-log keys: "cuda/<name>/sm_<arch>".
std::string TargetKey(const DeviceInfo& device);

/// Driver API entry points, resolved from libcuda.so.1. Types are erased to
/// keep <cuda.h> out of this header: modules and functions are opaque.
struct Driver {
  int (*module_load_data)(void** module, const void* image) = nullptr;
  int (*module_get_function)(void** function, void* module, const char* name) = nullptr;
  int (*module_unload)(void* module) = nullptr;
  int (*launch_kernel)(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned shared_bytes, void* stream, void** params, void** extra) = nullptr;
  int (*get_error_string)(int error, const char** text) = nullptr;

  /// "CUDA_ERROR_...: text" for a driver result.
  std::string ErrorText(int result) const;
};

/// The driver, opened once; an error when libcuda.so.1 or a symbol is missing.
absl::StatusOr<const Driver*> GetDriver();

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_DEVICE_H_
