#ifndef LEMMA_KERNELS_CUDA_RUNTIME_H_
#define LEMMA_KERNELS_CUDA_RUNTIME_H_

// The CUDA runtime: a float32 graph compiled into a plan (kernels/cuda/plan.h)
// that runs whole on one GPU.
//
//   absl::StatusOr<std::unique_ptr<cuda::Executable>> exe =
//       cuda::Executable::Compile(graph, weights);
//   absl::StatusOr<NamedTensors<F32>> out = (*exe)->Run(inputs);
//
// Compiling uploads the weights and folded constants once, allocates one
// arena for every value and scratch buffer (reused by liveness), compiles the
// generated kernels with NVRTC for the device (cached by source hash) and
// loads them with the driver API, and sets up the library calls: cuDNN
// convolution algorithms are chosen by measurement (cudnnFind*) unless the
// tuning log has one, and every measurement is added to the log in the CPU
// backend's record format ("kind":"schedule", "template":"cudnn_conv").
// Without a device, Compile fails with "no CUDA device: ...".
// Run is not reentrant: one Run of an Executable at a time.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/arith.h"
#include "kernels/cpu/tuning.h"
#include "kernels/cuda/device.h"
#include "kernels/reference.h"

namespace lemma::cuda {

struct RuntimeOptions {
  /// The device ordinal.
  int device = 0;
  /// cuDNN convolution algorithms to replay; measurements are added to it.
  cpu::TuningLog* tuning_log = nullptr;
  /// Fuse chains of elementwise consumers into their producer.
  bool fuse = true;
};

/// One step of the plan, for profiles.
struct StepInfo {
  std::string label;     // "conv2d+relu (conv1)"
  std::string provider;  // "cudnn-conv", "cublaslt", "generated"
  std::string detail;    // the algorithm, or the generated kernels
  double flops = 0;      // conv and matmul FLOPs
  double seconds = 0;    // time of the last profiled run (CUDA events)
};

struct MemoryStats {
  int64_t arena_bytes = 0;
  int64_t naive_bytes = 0;
  int64_t constant_bytes = 0;
  int64_t workspace_bytes = 0;
  int buffers = 0;
};

class Executable {
 public:
  ~Executable();

  /// Compiles `graph` for the device with the given weight values (by name;
  /// every weight must be there). Errors name the node or weight at fault,
  /// or say that there is no device.
  static absl::StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph,
                                                             const NamedTensors<F32>& weights,
                                                             const RuntimeOptions& options = {});

  /// Runs the plan on `inputs` (every graph input by name, any layout) and
  /// returns the graph outputs by name, each in its value's layout.
  absl::StatusOr<NamedTensors<F32>> Run(const NamedTensors<F32>& inputs);

  /// Whether Run records each step's time (CUDA events) in steps()[i].seconds.
  void set_profiling(bool on);
  const std::vector<StepInfo>& steps() const;
  MemoryStats memory() const;
  const DeviceInfo& device() const;
  /// The plan: one line per step, then memory.
  std::string PlanText() const;

 private:
  struct Impl;
  explicit Executable(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_RUNTIME_H_
