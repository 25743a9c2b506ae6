#include "ir/onnx_util.h"

#include <cstring>

#include "absl/status/status.h"
#include "ir/strings.h"

namespace lemma {
namespace {

template <typename... Args>
absl::Status Err(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

std::string_view ElemTypeName(int32_t t) {
  static constexpr std::string_view kNames[] = {
      "UNDEFINED", "FLOAT",     "UINT8",      "INT8",   "UINT16", "INT16",
      "INT32",     "INT64",     "STRING",     "BOOL",   "FLOAT16", "DOUBLE",
      "UINT32",    "UINT64",    "COMPLEX64",  "COMPLEX128", "BFLOAT16"};
  if (t >= 0 && t < static_cast<int32_t>(std::size(kNames))) return kNames[t];
  return "an unknown type";
}

// `count` elements of T from little-endian raw bytes, converted to U.
template <typename T, typename U>
std::vector<U> FromRaw(const std::string& raw, size_t count) {
  std::vector<U> out(count);
  for (size_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = static_cast<U>(v);
  }
  return out;
}

template <typename U, typename Field>
std::vector<U> FromField(const Field& field) {
  return std::vector<U>(field.begin(), field.end());
}

}  // namespace

absl::StatusOr<DType> DTypeOfOnnx(int32_t elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::DOUBLE: return DType::kF64;
    case onnx::TensorProto::INT64: return DType::kI64;
    default:
      return Err("element type ", ElemTypeName(elem_type), " (", elem_type,
                 ") is not supported (lemma reads FLOAT, DOUBLE and INT64)");
  }
}

int32_t OnnxElemType(DType dtype) {
  switch (dtype) {
    case DType::kF32: return onnx::TensorProto::FLOAT;
    case DType::kF64: return onnx::TensorProto::DOUBLE;
    case DType::kI64: return onnx::TensorProto::INT64;
  }
  return onnx::TensorProto::UNDEFINED;
}

absl::StatusOr<WeightValue> DecodeTensor(const onnx::TensorProto& t, int64_t max_elements) {
  if (t.data_location() == onnx::TensorProto::EXTERNAL || t.external_data_size() > 0) {
    return Err("data stored outside the model file (external data) is not supported");
  }
  if (t.has_segment()) return Err("segmented tensors are not supported");
  if (t.dims_size() > 32) return Err("rank ", t.dims_size(), " is over 32");
  Dims dims(t.dims().begin(), t.dims().end());
  absl::StatusOr<int64_t> count = CheckedNumElements(dims, max_elements);
  if (!count.ok()) return Err("dims ", DimsToString(dims), ": ", count.status().message());
  const size_t n = static_cast<size_t>(*count);
  const int32_t type = t.data_type();
  size_t elem_size = 0;
  switch (type) {
    case onnx::TensorProto::FLOAT: elem_size = 4; break;
    case onnx::TensorProto::INT32: elem_size = 4; break;
    case onnx::TensorProto::DOUBLE: elem_size = 8; break;
    case onnx::TensorProto::INT64: elem_size = 8; break;
    default:
      return Err("element type ", ElemTypeName(type), " (", type,
                 ") is not supported (lemma reads FLOAT, DOUBLE, INT64 and INT32)");
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() / elem_size != n || t.raw_data().size() % elem_size != 0) {
      return Err(DimsToString(dims), " needs ", n * elem_size, " bytes of raw data, the file has ",
                 t.raw_data().size());
    }
    switch (type) {
      case onnx::TensorProto::FLOAT: return WeightValue::Of(dims, FromRaw<float, float>(t.raw_data(), n));
      case onnx::TensorProto::DOUBLE:
        return WeightValue::Of(dims, FromRaw<double, double>(t.raw_data(), n));
      case onnx::TensorProto::INT64:
        return WeightValue::Of(dims, FromRaw<int64_t, int64_t>(t.raw_data(), n));
      default: return WeightValue::Of(dims, FromRaw<int32_t, int64_t>(t.raw_data(), n));
    }
  }
  auto check = [&](int size) -> absl::Status {
    if (static_cast<size_t>(size) != n) {
      return Err(DimsToString(dims), " has ", n, " elements, the file holds ", size);
    }
    return absl::OkStatus();
  };
  absl::Status s;
  switch (type) {
    case onnx::TensorProto::FLOAT:
      if (s = check(t.float_data_size()); !s.ok()) return s;
      return WeightValue::Of(dims, FromField<float>(t.float_data()));
    case onnx::TensorProto::DOUBLE:
      if (s = check(t.double_data_size()); !s.ok()) return s;
      return WeightValue::Of(dims, FromField<double>(t.double_data()));
    case onnx::TensorProto::INT64:
      if (s = check(t.int64_data_size()); !s.ok()) return s;
      return WeightValue::Of(dims, FromField<int64_t>(t.int64_data()));
    default:
      if (s = check(t.int32_data_size()); !s.ok()) return s;
      return WeightValue::Of(dims, FromField<int64_t>(t.int32_data()));
  }
}

onnx::TensorProto EncodeTensor(const std::string& name, const WeightValue& value) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(OnnxElemType(value.type.dtype));
  for (int64_t d : value.type.dims) t.add_dims(d);
  std::visit(
      [&t](const auto& v) {
        t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0])));
      },
      value.data);
  return t;
}

}  // namespace lemma
