#include "kernels/cuda/device.h"

#include <cuda_runtime.h>
#include <dlfcn.h>

#include <cstdio>

#include "ir/strings.h"

namespace lemma::cuda {

std::string DeviceInfo::Describe() const {
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB", static_cast<double>(memory_bytes) / (1024.0 * 1024 * 1024));
  return StrCat(name, " (sm_", Arch(), ", ", multiprocessors, " SMs, ", mem, ")");
}

absl::StatusOr<DeviceInfo> QueryDevice(int ordinal) {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    cudaGetLastError();
    return absl::FailedPreconditionError(StrCat("no CUDA device: ", cudaGetErrorString(e)));
  }
  if (ordinal < 0 || ordinal >= count) {
    return absl::FailedPreconditionError(StrCat("no CUDA device ", ordinal, " (", count, " present)"));
  }
  cudaDeviceProp prop{};
  if (cudaError_t e = cudaGetDeviceProperties(&prop, ordinal); e != cudaSuccess) {
    return absl::FailedPreconditionError(StrCat("no CUDA device: ", cudaGetErrorString(e)));
  }
  DeviceInfo d;
  d.name = prop.name;
  d.major = prop.major;
  d.minor = prop.minor;
  d.memory_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  d.multiprocessors = prop.multiProcessorCount;
  return d;
}

bool DeviceAvailable() { return QueryDevice().ok(); }

std::string TargetKey(const DeviceInfo& device) { return StrCat("cuda/", device.name, "/sm_", device.Arch()); }

std::string Driver::ErrorText(int result) const {
  const char* text = nullptr;
  if (get_error_string != nullptr && get_error_string(result, &text) == 0 && text != nullptr) {
    return StrCat("CUDA driver error ", result, ": ", text);
  }
  return StrCat("CUDA driver error ", result);
}

absl::StatusOr<const Driver*> GetDriver() {
  static const absl::StatusOr<Driver>* driver = [] {
    void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      return new absl::StatusOr<Driver>(
          absl::FailedPreconditionError(StrCat("no CUDA driver: cannot open libcuda.so.1 (", dlerror(), ")")));
    }
    Driver d;
    bool ok = true;
    auto bind = [&](auto& fn, const char* name) {
      void* sym = dlsym(lib, name);
      if (sym == nullptr) ok = false;
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
    };
    bind(d.module_load_data, "cuModuleLoadData");
    bind(d.module_get_function, "cuModuleGetFunction");
    bind(d.module_unload, "cuModuleUnload");
    bind(d.launch_kernel, "cuLaunchKernel");
    bind(d.get_error_string, "cuGetErrorString");
    if (!ok) {
      return new absl::StatusOr<Driver>(
          absl::FailedPreconditionError("no CUDA driver: libcuda.so.1 lacks a driver API entry point"));
    }
    return new absl::StatusOr<Driver>(d);
  }();
  if (!driver->ok()) return driver->status();
  return &**driver;
}

}  // namespace lemma::cuda
