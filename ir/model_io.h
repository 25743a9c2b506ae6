#ifndef LEMMA_IR_MODEL_IO_H_
#define LEMMA_IR_MODEL_IO_H_

// Reading and writing a model by file name: "*.onnx" is ONNX (with weight
// data), anything else lemma's graph text format (no data; the data of a text
// graph's weights travels in a tensor file, ir/weights.h). The `lemma`
// program's subcommands and the Python binding read and write through these.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/weights.h"

namespace lemma {

enum class ModelFormat : uint8_t { kText, kOnnx };

/// kOnnx for a path ending in ".onnx" (any case), kText for every other.
ModelFormat FormatOfPath(std::string_view path);

/// Reads the model at `path` in the format its name says. A text graph comes
/// with no weight data; when `weights_path` is not empty its tensor file is
/// read too and its entries (weights, or inputs) are checked against the graph.
absl::StatusOr<Model> ReadModel(const std::string& path, const std::string& weights_path = "",
                                const OnnxImportOptions& onnx = {});

/// Writes `model` to `path` in the format its name says (atomically). The text
/// format drops the weight data (write it with WriteTensorFile).
absl::Status WriteModel(const std::string& path, const Model& model,
                        const OnnxExportOptions& onnx = {});

}  // namespace lemma

#endif  // LEMMA_IR_MODEL_IO_H_
