#ifndef LEMMA_IR_ONNX_EXPORT_H_
#define LEMMA_IR_ONNX_EXPORT_H_

// lemma graphs written as ONNX models of opset kOnnxExportOpset, which ONNX
// Runtime loads and runs. Every op exports; those ONNX lacks are decomposed
// into standard ops:
//
//   conv2d/matmul with activation   Conv/MatMul, then Relu, Sigmoid or Tanh
//   padding=same                    auto_pad=SAME_UPPER (the same geometry)
//   gelu                            x * 0.5 * (1 + Erf(x / sqrt(2))), which the
//                                   importer reads back as gelu
//   enlarge                         Pad of the kernel's spatial dims with zeros
//   const_pool, const_iconv,        initializers holding their values
//   const_imm, const_ones
//   split, reshape, slice, pad,     their sizes, shapes, bounds and pads as
//   reduce_sum                      int64 initializers (ONNX takes them as inputs)
//
// Weights with data become initializers; a weight without data is an error or
// a graph input (OnnxExportOptions::missing_weights). Layouts are not written:
// ONNX values are logical tensors, and lemma's layouts do not change what a
// value holds. Every value gets an ONNX name: its lemma name when it has one
// and it is free, otherwise a fresh one; a graph output that is a graph input
// or weight of another name, or that shares its value with an earlier output,
// is written through an Identity node.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "ir/weights.h"

namespace lemma {

/// The opset of the models the exporter writes.
inline constexpr int64_t kOnnxExportOpset = 17;

/// What to do with a weight that has no data.
enum class MissingWeightData : uint8_t {
  kError,       // fail, naming the weight
  kGraphInput,  // make it a graph input (after the graph's own inputs)
};

struct OnnxExportOptions {
  MissingWeightData missing_weights = MissingWeightData::kError;
  /// Write value_info with the inferred type of every intermediate value.
  bool value_info = true;
};

/// The bytes of `graph` as an ONNX model, with `weights` as initializers.
/// Errors: data that does not match its weight's declared type, a weight
/// without data under MissingWeightData::kError, or a model over 2 GiB.
absl::StatusOr<std::string> SerializeOnnxModel(const Graph& graph, const WeightValues& weights,
                                               const OnnxExportOptions& options = {});

/// Writes SerializeOnnxModel(...) to `path` atomically.
absl::Status WriteOnnxFile(const std::string& path, const Graph& graph, const WeightValues& weights,
                           const OnnxExportOptions& options = {});

}  // namespace lemma

#endif  // LEMMA_IR_ONNX_EXPORT_H_
