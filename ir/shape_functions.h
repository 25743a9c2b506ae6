#ifndef LEMMA_IR_SHAPE_FUNCTIONS_H_
#define LEMMA_IR_SHAPE_FUNCTIONS_H_

// Shape rules of every op, and the geometry helpers that other components
// (the reference evaluator, kernels, cost models) use instead of re-deriving
// window sizes, padding or broadcasting.

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/attributes.h"
#include "ir/types.h"

namespace lemma {

/// A 2-D sliding window resolved against an input's spatial size.
struct Window2d {
  std::array<int64_t, 2> kernel;    // kh, kw (dilated extent not included)
  std::array<int64_t, 2> stride;    // sh, sw
  std::array<int64_t, 2> dilation;  // dh, dw
  std::array<int64_t, 4> pads;      // top, left, bottom, right
  std::array<int64_t, 2> out;       // output height, width
};

/// Resolves the window of conv2d or a pool on an input of spatial size
/// `in_h` x `in_w`. For Padding::kSame the pads are computed so that the output
/// is ceil(in / stride), the odd element going to the bottom/right.
absl::StatusOr<Window2d> ResolveWindow(int64_t in_h, int64_t in_w,
                                       std::array<int64_t, 2> kernel, const Attributes& attrs);

/// `axis` in [-rank, rank) made non-negative, or an error naming it.
absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank);

/// Numpy broadcasting of two shapes, or an error naming both.
absl::StatusOr<Dims> BroadcastDims(std::span<const int64_t> a, std::span<const int64_t> b);

/// Resolved slice of one axis: elements start, start+step, ... below end.
struct SliceAxis {
  int axis;
  int64_t start, end, step;
};
/// The slice attributes of `attrs` validated against `dims`, one entry per sliced axis.
absl::StatusOr<std::vector<SliceAxis>> ResolveSlice(std::span<const int64_t> dims,
                                                    const Attributes& attrs);

/// The reduced axes of a reduce_* op, sorted, non-negative and distinct.
absl::StatusOr<std::vector<int>> ResolveReduceAxes(int rank, const Attributes& attrs);

/// The target dimensions of reshape with its single -1 resolved.
absl::StatusOr<Dims> ResolveReshape(std::span<const int64_t> in, const Attributes& attrs);

namespace shape_fn {
// One function per op (or family); see ir/op_registry.cc for which op uses which.
using Types = std::span<const TensorType>;
using Result = absl::StatusOr<std::vector<TensorType>>;
Result MatMul(Types in, const Attributes& a);
Result Conv2d(Types in, const Attributes& a);
Result SameShape(Types in, const Attributes& a);
Result ScalarMul(Types in, const Attributes& a);
Result Unary(Types in, const Attributes& a);
Result Pool2d(Types in, const Attributes& a);
Result Concat(Types in, const Attributes& a);
Result Split(Types in, const Attributes& a);
Result Transpose(Types in, const Attributes& a);
Result Enlarge(Types in, const Attributes& a);
Result ConstPool(Types in, const Attributes& a);
Result ConstIdentityConv(Types in, const Attributes& a);
Result ConstIdentityMatrix(Types in, const Attributes& a);
Result ConstOnes(Types in, const Attributes& a);
Result BatchNorm(Types in, const Attributes& a);
Result Softmax(Types in, const Attributes& a);
Result Reshape(Types in, const Attributes& a);
Result Broadcast(Types in, const Attributes& a);
Result LayerNorm(Types in, const Attributes& a);
Result Pad(Types in, const Attributes& a);
Result Slice(Types in, const Attributes& a);
Result Reduce(Types in, const Attributes& a);
}  // namespace shape_fn

}  // namespace lemma

#endif  // LEMMA_IR_SHAPE_FUNCTIONS_H_
