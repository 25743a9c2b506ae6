#include "kernels/cuda/nvrtc.h"

#include <nvrtc.h>

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "ir/strings.h"
#include "kernels/cuda/codegen.h"

namespace lemma::cuda {
namespace {

std::mutex& CacheMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::pair<uint64_t, int>, std::string>& Cache() {
  static auto* cache = new std::map<std::pair<uint64_t, int>, std::string>();
  return *cache;
}

std::string ProgramLog(nvrtcProgram prog) {
  size_t size = 0;
  if (nvrtcGetProgramLogSize(prog, &size) != NVRTC_SUCCESS || size == 0) return "";
  std::string log(size, '\0');
  if (nvrtcGetProgramLog(prog, log.data()) != NVRTC_SUCCESS) return "";
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  return log;
}

}  // namespace

absl::StatusOr<std::string> CompileToPtx(const std::string& source, int arch) {
  const std::pair<uint64_t, int> key(SourceHash(source), arch);
  {
    std::lock_guard<std::mutex> lock(CacheMutex());
    auto it = Cache().find(key);
    if (it != Cache().end()) return it->second;
  }
  nvrtcProgram prog = nullptr;
  if (nvrtcResult r = nvrtcCreateProgram(&prog, source.c_str(), "lemma_kernel.cu", 0, nullptr, nullptr);
      r != NVRTC_SUCCESS) {
    return absl::InternalError(StrCat("nvrtc: creating a program: ", nvrtcGetErrorString(r)));
  }
  const std::string arch_option = StrCat("--gpu-architecture=compute_", arch);
  const std::vector<const char*> options = {arch_option.c_str(), "--std=c++17", "-default-device"};
  const nvrtcResult compiled = nvrtcCompileProgram(prog, static_cast<int>(options.size()), options.data());
  if (compiled != NVRTC_SUCCESS) {
    const std::string log = ProgramLog(prog);
    nvrtcDestroyProgram(&prog);
    return absl::InternalError(StrCat("nvrtc: compiling a generated kernel for compute_", arch, ": ",
                                      nvrtcGetErrorString(compiled), "\n", log, "\nsource:\n", source));
  }
  size_t size = 0;
  std::string ptx;
  if (nvrtcGetPTXSize(prog, &size) == NVRTC_SUCCESS) {
    ptx.resize(size);
    if (nvrtcGetPTX(prog, ptx.data()) != NVRTC_SUCCESS) ptx.clear();
  }
  nvrtcDestroyProgram(&prog);
  if (ptx.empty()) return absl::InternalError("nvrtc: no PTX for a generated kernel");
  std::lock_guard<std::mutex> lock(CacheMutex());
  return Cache().emplace(key, std::move(ptx)).first->second;
}

int OldestSupportedArch() {
  int count = 0;
  if (nvrtcGetNumSupportedArchs(&count) != NVRTC_SUCCESS || count <= 0) return 75;
  std::vector<int> archs(static_cast<size_t>(count));
  if (nvrtcGetSupportedArchs(archs.data()) != NVRTC_SUCCESS) return 75;
  return archs.front();
}

int CompiledModuleCount() {
  std::lock_guard<std::mutex> lock(CacheMutex());
  return static_cast<int>(Cache().size());
}

}  // namespace lemma::cuda
