#ifndef LEMMA_KERNELS_CUDA_PLAN_H_
#define LEMMA_KERNELS_CUDA_PLAN_H_

// The GPU plan of a graph, made on the host without a device: which steps run
// (library calls and generated kernels), what each generated kernel computes
// (its CUDA C++ and parameters), and where every value lives.
//
//  * Values computed from weights and constant ops only are folded: the
//    runtime evaluates them once on the host and uploads them with the
//    weights ("constants").
//  * Each remaining op becomes a step: conv2d, the pools and batchnorm run on
//    cuDNN, matmul on cuBLASLt, everything else on generated kernels
//    (elementwise, copies such as transpose/slice/concat/pad/reshape, and row
//    kernels for reductions, softmax, layernorm).
//  * A step's output is fused with the chain of elementwise ops that consume
//    it alone (same shape; other operands broadcast): the chain is one
//    generated kernel (after the library call, which writes a scratch buffer).
//  * Values and scratch buffers share one arena, planned by liveness with the
//    CPU backend's planner (kernels/cpu/memory_plan.h).
// An op the GPU has no kernel for is an error naming the node and the op.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/memory_plan.h"
#include "kernels/cuda/codegen.h"

namespace lemma::cuda {

/// Where a buffer lives: in the arena (index into Plan::buffers) or among the
/// constants uploaded once (index into Plan::constants).
struct BufferRef {
  enum class Where : uint8_t { kArena, kConstant };
  Where where = Where::kArena;
  int index = -1;
  friend bool operator==(const BufferRef&, const BufferRef&) = default;
};

/// One generated kernel launch: the module (index into Plan::sources) and its
/// parameters with the buffer pointers left for the runtime to fill in from
/// `out` and `in` (elementwise: in[k] is input k; row kernels: in[0] is the
/// input, in[1] and in[2] the aux operands).
struct KernelLaunch {
  int source = -1;
  bool row = false;
  EwParams ew;
  RowParams row_params;
  BufferRef out;
  std::vector<BufferRef> in;
  std::string what;  // "ew: load0 load1 add relu", "row: softmax"
};

/// Who runs a step's main op.
enum class StepKind : uint8_t {
  kGenerated,  // generated kernels only
  kConv,       // cuDNN convolution (then the conv's activation with cuDNN)
  kPool,       // cuDNN pooling
  kBatchNorm,  // cuDNN batch norm (inference)
  kMatMul,     // cuBLASLt
};
std::string_view StepKindName(StepKind kind);

struct Step {
  StepKind kind = StepKind::kGenerated;
  NodeId node = -1;             // the root op
  std::vector<NodeId> fused;    // the elementwise chain fused into it
  std::string label;            // "conv2d+ewadd+relu (conv1)"
  std::vector<BufferRef> inputs;  // library steps: the root's inputs
  BufferRef output;               // library steps: where the root writes
  std::vector<KernelLaunch> launches;  // generated kernels, in order
  /// Library steps whose padding cuDNN cannot express (asymmetric): input 0
  /// is first copied into a scratch buffer of this type with the padding
  /// explicit (zeros, or -inf for max pooling) by `pre_launches`, and the
  /// library call then pads nothing.
  std::optional<TensorType> padded_input;
  std::vector<KernelLaunch> pre_launches;
};

struct Plan {
  std::vector<Step> steps;
  /// Distinct generated kernel sources.
  std::vector<std::string> sources;
  /// Arena buffers (bytes and lifetimes in steps) and their placement.
  std::vector<cpu::BufferRequest> buffers;
  cpu::MemoryPlacement placement;
  /// Values uploaded once: weights and folded values.
  std::vector<ValueId> constants;
  /// Nodes the runtime evaluates on the host before uploading, in order.
  std::vector<NodeId> folded;
  /// Where each value the steps read or write lives.
  absl::flat_hash_map<ValueId, BufferRef> value_buffers;
  /// Graph inputs: the input node and its arena buffer.
  std::vector<std::pair<NodeId, BufferRef>> inputs;

  /// The plan, one line per step, then memory.
  std::string Text(const Graph& graph) const;
};

struct PlanOptions {
  /// Fuse chains of elementwise consumers into their producer.
  bool fuse = true;
  /// Alignment of arena buffers in bytes.
  int64_t alignment = 256;
};

/// Plans `graph` (f32 values only) for the GPU. Errors name the node at fault.
absl::StatusOr<Plan> BuildPlan(const Graph& graph, const PlanOptions& options = {});

}  // namespace lemma::cuda

#endif  // LEMMA_KERNELS_CUDA_PLAN_H_
