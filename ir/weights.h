#ifndef LEMMA_IR_WEIGHTS_H_
#define LEMMA_IR_WEIGHTS_H_

// Tensor data beside a graph. A Graph carries no data: its weights are typed
// placeholders. A model read from ONNX (ir/onnx_import.h) comes with the data
// of its weights as WeightValues, keyed by weight name; the reference
// evaluator takes them as feeds (kernels/weights.h).
//
// The same named-tensor map is stored in lemma's tensor file format (".tensors"),
// which `lemma import --weights`, `lemma export --weights` and `lemma run
// --inputs/--save` read and write. The format, all integers little-endian:
//
//   "LEMMATNS"                      8 bytes of magic
//   u32 version (1), u32 count      then `count` records, names in ascending order:
//   u32 name length, name bytes     a valid value name (ir/graph.h IsValidName)
//   u8 dtype                        0 f32, 1 f64, 2 i64
//   u32 rank, i64 dims[rank]        logical dims
//   elements                        row-major, rank-many dims' product of them

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/types.h"

namespace lemma {

/// The elements of one tensor in logical row-major order, typed by its dtype.
using WeightElements = std::variant<std::vector<float>, std::vector<double>, std::vector<int64_t>>;

/// One tensor's data: its type (always in the default layout) and its elements.
/// The variant's alternative matches type.dtype (f32, f64, i64) and holds
/// type.num_elements() elements; Check() verifies both.
struct WeightValue {
  TensorType type;
  WeightElements data;

  /// A tensor of `dims` holding `values` (f32, f64 or i64 by the vector's type).
  static WeightValue Of(Dims dims, std::vector<float> values);
  static WeightValue Of(Dims dims, std::vector<double> values);
  static WeightValue Of(Dims dims, std::vector<int64_t> values);

  /// The number of elements held.
  int64_t size() const;
  /// Element i converted to double (i < size()).
  double AsDouble(int64_t i) const;
  /// Every element converted to double.
  std::vector<double> ToDoubles() const;
  /// Fails when the alternative does not match type.dtype or the element count
  /// does not match type.dims.
  absl::Status Check() const;

  friend bool operator==(const WeightValue&, const WeightValue&) = default;
};

/// Tensor data by name (weights of a graph, or input feeds); ordered, so that
/// iteration and files are deterministic.
using WeightValues = std::map<std::string, WeightValue, std::less<>>;

/// A graph with the data of (some of) its weights.
struct Model {
  Graph graph;
  WeightValues weights;
};

/// Fails, naming the entry, when an entry of `weights` names no weight of `g`
/// (when `allow_inputs`, graph inputs count too) or its dtype or dims differ
/// from the graph's declaration, or its data is inconsistent.
absl::Status CheckWeightValues(const Graph& g, const WeightValues& weights,
                               bool allow_inputs = false);

/// The names of the weights of `g` that have no entry in `weights`, in node order.
std::vector<std::string> WeightsWithoutData(const Graph& g, const WeightValues& weights);

/// The tensor file bytes of `values` (format above).
std::string EncodeTensorFile(const WeightValues& values);
/// Decodes tensor file bytes. Errors read "FILENAME: reason" and name the
/// record: a bad magic or version, a truncated record, an invalid or repeated
/// name, an unknown dtype, a rank above 32, a negative dimension, or more
/// elements than the bytes that are left.
absl::StatusOr<WeightValues> DecodeTensorFile(std::string_view bytes, std::string_view filename);
/// Reads and decodes the tensor file at `path`.
absl::StatusOr<WeightValues> ReadTensorFile(const std::string& path);
/// Writes EncodeTensorFile(values) to `path` atomically.
absl::Status WriteTensorFile(const std::string& path, const WeightValues& values);

}  // namespace lemma

#endif  // LEMMA_IR_WEIGHTS_H_
