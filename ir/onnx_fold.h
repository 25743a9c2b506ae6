#ifndef LEMMA_IR_ONNX_FOLD_H_
#define LEMMA_IR_ONNX_FOLD_H_

// Constant folding of ONNX nodes at import time. Exporters such as
// torch.onnx compute the shapes a Reshape or Expand takes at run time:
//
//   s = Shape(x); b = Gather(s, 0); t = Unsqueeze(b, [0])
//   shape = Concat(t, [-1]); y = Reshape(x, shape)
//
// In lemma every shape is static, so such chains have one value, which the
// importer computes here and passes on as a constant (the `shape` attribute
// of reshape, ...). Only lemma_onnx includes this header.

#include <cstdint>
#include <span>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/types.h"
#include "ir/weights.h"
#include "onnx/onnx_pb.h"

namespace lemma {

/// Whether ONNX op `op_type` is one the importer reads only by folding it
/// (Shape, Size, Gather, Cast, ConstantOfShape, Range, Equal, Where, ...): a
/// node of such an op whose inputs are not all known at import time is an
/// error, except where the importer maps the op itself (Expand, Gather of a
/// constant index, a Cast to the same type).
bool IsFoldOnlyOnnxOp(std::string_view op_type);

/// Whether FoldOnnxNode can compute nodes of `op_type`: the fold-only ops and
/// the ones the importer also maps to graph ops (Add, Sub, Mul, Div, Concat,
/// Reshape, Flatten, Squeeze, Unsqueeze, Slice, Identity), which it folds when
/// their inputs are integer constants or values it folded.
bool IsFoldableOnnxOp(std::string_view op_type);

/// The value of Shape (with its start and end attributes) or Size of a tensor
/// of `dims`.
absl::StatusOr<WeightValue> FoldShapeOf(const onnx::NodeProto& n, std::span<const int64_t> dims);

/// The first output of node `n` (opset `opset`) given the values of its inputs
/// (null for an absent optional input). Errors name the reason (an index out
/// of range, shapes that do not broadcast, a division by zero, an integer
/// overflow, an unsupported Cast target, a result over `max_elements`
/// elements); the caller prefixes the node.
absl::StatusOr<WeightValue> FoldOnnxNode(const onnx::NodeProto& n, int64_t opset,
                                         std::span<const WeightValue* const> inputs,
                                         int64_t max_elements);

}  // namespace lemma

#endif  // LEMMA_IR_ONNX_FOLD_H_
