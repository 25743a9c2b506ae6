#ifndef LEMMA_KERNELS_CPU_LOWERING_H_
#define LEMMA_KERNELS_CPU_LOWERING_H_

// From graph ops to loop nests. A Group is an op (the root) with the chain of
// elementwise consumers fused into it; a Template lowers a group, for one
// Config of its knobs (tile sizes, loop order, algorithm, ...), to Launches:
// loop nests with schedules and the buffers they read and write. Templates
// read values through ValueAccess, which gives each value's storage as
// strides, so that layouts (NCHW, NHWC, column-major) and views (transpose,
// slice, split, reshape) cost no copies.
//
//   std::unique_ptr<Template> t = MakeTemplate(group, context);
//   absl::StatusOr<Lowered> l = t->Lower(t->DefaultConfig());

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/loop_nest.h"

namespace lemma::cpu {

/// How a kernel reads one value: its logical dims, the step in elements of
/// one step along each logical dim, and the number of elements reachable from
/// its first element (for bounds checks). A plan-time constant also has its
/// elements, stored with those strides.
struct ValueAccess {
  Dims dims;
  std::vector<int64_t> strides;
  int64_t elements = 0;
  const float* constant = nullptr;
};

/// What a template may ask about the graph it lowers.
class LoweringContext {
 public:
  virtual ~LoweringContext() = default;
  virtual const Graph& graph() const = 0;
  /// How `value` is stored.
  virtual ValueAccess Access(ValueId value) const = 0;
  /// Floats per vector of the target.
  virtual int vector_width() const = 0;
  /// Vector registers of the target: 32 with AVX-512, 16 with AVX2 and SSE.
  virtual int vector_registers() const { return vector_width() >= 16 ? 32 : 16; }
};

/// An op and the elementwise consumers fused into it: chain[0] consumes the
/// root's output, chain[i] the output of chain[i-1]; the group writes the
/// output of the last node.
struct Group {
  NodeId root = -1;
  std::vector<NodeId> chain;

  /// The value the group writes.
  ValueId output(const Graph& g) const;
  /// "conv2d+relu+ewadd".
  std::string Label(const Graph& g) const;
};

/// Where a buffer argument of a launch comes from.
struct ArgBinding {
  enum class Kind : uint8_t { kValue, kTemp, kConstant };
  Kind kind = Kind::kValue;
  ValueId value;  // kValue: the value's storage (its first element)
  int index = 0;  // kTemp, kConstant: index into Lowered::temps / constants
};

/// One generated kernel call.
struct Launch {
  LoopNest nest;
  Schedule schedule;
  std::vector<ArgBinding> args;  // one per buffer of the nest
};

/// A group lowered for one config: launches run in order; temps are scratch
/// buffers (sizes in floats) that live for the group; constants are data made
/// at plan time (packed weights, folded scales).
struct Lowered {
  std::vector<Launch> launches;
  std::vector<int64_t> temps;
  std::vector<std::vector<float>> constants;
  /// Multiply-adds times two (0 for ops that only move data).
  double flops = 0;
};

/// A knob of a template and the values it may take.
struct Knob {
  std::string name;
  std::vector<int64_t> values;
};

/// Values of the knobs, by name (ordered, so that it prints the same always).
using Config = std::map<std::string, int64_t>;

/// "mr=6,nr=64".
std::string ConfigToString(const Config& config);

/// Lowers one group for any config of its knobs.
class Template {
 public:
  virtual ~Template() = default;
  /// "gemm", "conv_direct_nchw", "elementwise", ...
  virtual std::string name() const = 0;
  /// The knobs and their candidate values (empty: nothing to tune).
  virtual std::vector<Knob> Space() const = 0;
  /// A config chosen by rules of thumb, used when nothing is tuned.
  virtual Config DefaultConfig() const = 0;
  /// The launches for `config`; an error for a config the group cannot use
  /// (a tuner skips it).
  virtual absl::StatusOr<Lowered> Lower(const Config& config) const = 0;
};

/// Whether `node` can join a chain of fused consumers of `input` (the value
/// the chain has computed so far): an elementwise op of the same dims whose
/// other operands are read at the same point.
bool IsFusibleConsumer(const Graph& g, NodeId node, ValueId input);

/// Whether a group rooted at `op` may carry a chain of fused consumers (every
/// op a template lowers, but reshape, whose output dims are not its input's).
bool FusesChain(OpKind op);

/// The template for `group`, or null when no template lowers its root op (the
/// runtime then uses a built-in C++ kernel).
std::unique_ptr<Template> MakeTemplate(const Group& group, const LoweringContext& context);

/// The key of a group's workload for the tuning log: the ops, attributes,
/// dims and strides of everything the kernel reads and writes.
std::string WorkloadKey(const Group& group, const LoweringContext& context);

/// Conv and matmul FLOPs of the group's root (multiply-adds times two).
double GroupFlops(const Graph& g, const Group& group);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_LOWERING_H_
