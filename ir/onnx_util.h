#ifndef LEMMA_IR_ONNX_UTIL_H_
#define LEMMA_IR_ONNX_UTIL_H_

// Tensors and element types between lemma and ONNX's protobuf messages, shared
// by the importer and the exporter. Only lemma_onnx includes this header (it
// includes the protobuf classes).

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ir/types.h"
#include "ir/weights.h"
#include "onnx/onnx_pb.h"

namespace lemma {

/// The lemma dtype of an ONNX TensorProto element type: FLOAT, DOUBLE and
/// INT64 (INT32 constants are read as i64 by DecodeTensor); an error naming
/// the type for any other.
absl::StatusOr<DType> DTypeOfOnnx(int32_t elem_type);
/// The ONNX element type of `dtype`.
int32_t OnnxElemType(DType dtype);

/// The data of an ONNX tensor (raw_data or the typed field), checked: the
/// dims are non-negative with at most `max_elements` elements, the data holds
/// exactly that many, and it is stored in the file (not external). INT32 data
/// becomes i64.
absl::StatusOr<WeightValue> DecodeTensor(const onnx::TensorProto& t, int64_t max_elements);
/// `value` as an ONNX tensor named `name`, its data in raw_data.
onnx::TensorProto EncodeTensor(const std::string& name, const WeightValue& value);

}  // namespace lemma

#endif  // LEMMA_IR_ONNX_UTIL_H_
