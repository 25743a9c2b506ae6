#ifndef LEMMA_KERNELS_CPU_TEMPLATE_UTIL_H_
#define LEMMA_KERNELS_CPU_TEMPLATE_UTIL_H_

// Helpers the templates share (internal to the CPU backend): binding values to
// nest buffers, reading a value at the output point with broadcasting, fused
// consumer chains, and ready-made schedules.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/lowering.h"

namespace lemma::cpu {

/// Builds one launch of a Lowered: binds values, temps and constants to the
/// buffers of its nest.
class LaunchBuilder {
 public:
  LaunchBuilder(std::string name, const LoweringContext& context, Lowered& lowered)
      : context_(context), lowered_(lowered), nest_(std::move(name)) {}

  LoopNest& nest() { return nest_; }
  const Graph& graph() const { return context_.graph(); }
  const LoweringContext& context() const { return context_; }
  int vector_width() const { return context_.vector_width(); }

  /// The nest buffer holding `value` (bound once; the output of the launch
  /// with output = true).
  int Value(ValueId value, bool output = false);
  /// A new temp of `elements` floats of the group, bound to a nest buffer.
  int NewTemp(int64_t elements, bool output, int* temp_index = nullptr);
  /// An existing temp.
  int Temp(int temp_index, bool output);
  /// A new plan-time constant, bound to a nest buffer.
  int NewConstant(std::vector<float> data);
  /// A constant of the Lowered (made by NewConstant for this launch or
  /// another), by index.
  int Constant(int constant_index);
  /// How `value` is stored.
  const ValueAccess& Access(ValueId value);

  /// The launch, appended to the Lowered.
  void Finish(Schedule schedule);

 private:
  const LoweringContext& context_;
  Lowered& lowered_;
  LoopNest nest_;
  std::vector<ArgBinding> args_;
  std::map<std::pair<int, int>, int> values_;  // (node, index) -> buffer
  std::map<std::pair<int, int>, ValueAccess> access_;
};

/// to += scale * from.
void AddScaled(AffineIndex& to, const AffineIndex& from, int64_t scale);

/// The index of `access` at the output point whose logical dim d is
/// dim_index[d], numpy broadcasting (the value's dims right-aligned, dims of 1
/// read at 0).
AffineIndex IndexAt(const ValueAccess& access, const std::vector<AffineIndex>& dim_index);

/// The expression of `value` at the output point: `running_expr` when
/// value == running, else a load.
int Operand(LaunchBuilder& b, ValueId value, ValueId running, int running_expr,
            const std::vector<AffineIndex>& dim_index);

/// Applies elementwise node `id` at the output point (its operands through
/// Operand); returns the expression, or -1 when the op is not elementwise.
int ApplyElementwise(LaunchBuilder& b, NodeId id, ValueId running, int running_expr,
                     const std::vector<AffineIndex>& dim_index);

/// Applies the fused activation of a matmul or conv2d node to `expr`.
int ApplyActivation(LoopNest& nest, Activation activation, int expr);

/// Applies the group's chain to `expr`, the value of the group's root.
int ApplyChain(LaunchBuilder& b, const Group& group, int expr,
               const std::vector<AffineIndex>& dim_index);

/// The output index of `access` at dim_index (no broadcasting).
AffineIndex OutIndex(const ValueAccess& access, const std::vector<AffineIndex>& dim_index);

/// Merges adjacent spatial axes that every index walks as one (coefficient of
/// the outer = coefficient of the inner times its extent, whole terms only):
/// an elementwise kernel over contiguous tensors becomes one long loop.
LoopNest CoalesceAxes(const LoopNest& nest);

/// The axis of an elementwise nest whose blocks of `vector_width` a load
/// would better read as rows and transpose: the load's lane stride along the
/// last axis is at least vector_width, and it walks this axis contiguously
/// (one whole term, coefficient 1) over at least vector_width elements. -1
/// when no load does.
int TransposeAxis(const LoopNest& nest, int vector_width);

/// A schedule for a nest without reduction: the last axis vectorized in
/// chunks of `unroll` vectors, the loops outside shared by threads when the
/// nest has at least `parallel_min` points. With a TransposeAxis, that axis is
/// cut in blocks of vector_width whose inner loop is unrolled just outside the
/// vector loop (the code generator transposes the load's rows in registers).
Schedule ElementwiseSchedule(const LoopNest& nest, int vector_width, int64_t unroll,
                             int64_t parallel_min);

/// The schedule of a window reduction (pools, depthwise convs): the nest's
/// axes before `vec` in order, then `vec` (the innermost output axis, cut in
/// tiles of `unroll` vectors), the window axes `ky` and `kx` (unrolled when
/// `unroll_window`), and the vectors of a tile, unrolled so that they stay
/// in registers across the window. Threads share the first `parallel` loops
/// (none when 0); -1 shares every loop outside the window.
Schedule WindowSchedule(const LoopNest& nest, int vec, int ky, int kx, int vector_width,
                        int64_t unroll, bool unroll_window, int parallel);

/// A channels-last copy, in a new temp of `lowered`, of the rows and columns
/// of input `x` (an N, C, H, W value, read through `xa`) that windows reach:
/// `rows` x `cols` positions starting `pad_top` rows and `pad_left` columns
/// before the input, those outside it set to `fill`. Written by two launches,
/// the fill and then the input copied inside without guards: a guarded load
/// computes a mask per load, and on AMD a masked load whose masked-off lanes
/// point outside the buffer is slow.
struct PaddedCopy {
  int temp = -1;                 // the temp of `lowered` holding the copy
  std::vector<int64_t> strides;  // of dims N, C, rows, cols: {rows*cols*C, 1, cols*C, C}
};
PaddedCopy PaddedChannelsLastCopy(Lowered& lowered, const LoweringContext& context,
                           const std::string& label, ValueId x, const ValueAccess& xa,
                           int64_t rows, int64_t cols, int64_t pad_top, int64_t pad_left,
                           float fill);

/// Axes for every logical dim of `access`, in storage order (dims of one
/// element first, then by decreasing stride); dim_index[d] is the axis of dim
/// d. The last axis walks consecutive elements.
std::vector<AffineIndex> AxesForDims(LoopNest& nest, const ValueAccess& access);

/// Elements from which threads share an elementwise kernel.
inline constexpr int64_t kParallelMinElements = 1 << 14;

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_TEMPLATE_UTIL_H_
