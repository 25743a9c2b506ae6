#ifndef LEMMA_IR_ONNX_IMPORT_H_
#define LEMMA_IR_ONNX_IMPORT_H_

// ONNX models (opsets kMinOnnxOpset..kMaxOnnxOpset of the default domain) read
// into lemma's IR. Initializers and Constant nodes become weights whose data is
// returned beside the graph (ir/weights.h); every tensor type comes from
// lemma's own shape inference and is checked against the types the model
// declares (graph outputs and value_info). SupportedOnnxOps() lists the op
// types read; how each maps is in the table of README.md ("ONNX").
//
// Names: a value keeps its ONNX name when that is a valid lemma name; other
// characters become '_' ("onnx::Conv_3" -> "onnx__Conv_3"), and a name already
// taken gets a suffix "_1", "_2", ...
//
// Canonical forms, so that export then import reproduces a graph exactly:
// Add and Mul of equal shapes are ewadd and ewmul, Mul by a rank-0 tensor is
// scalar_mul, auto_pad=SAME_UPPER is padding=same, the Erf form of GELU is
// gelu, and (with fuse_activations) a Relu, Sigmoid or Tanh that alone reads a
// bias-free Conv or MatMul becomes that op's fused activation.
//
// Shape computations (Shape, Gather, Cast, Unsqueeze/Concat of shapes,
// ConstantOfShape, Range, ...; ir/onnx_fold.h) are folded into constants at
// import time, since every shape is static: their values become the
// attributes of the ops they feed (the shape of a reshape, ...). A chain that
// depends on a tensor's values is an error naming its node.
//
// Every error is absl::InvalidArgumentError (or NotFound for a missing file)
// whose message starts with the file name and names the node, its op type and
// the opset where a node is at fault. Nothing is allocated from a dimension
// before the bytes that back it have been checked.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ir/weights.h"

namespace lemma {

/// The opsets of the default ONNX domain the importer reads.
inline constexpr int64_t kMinOnnxOpset = 11;
inline constexpr int64_t kMaxOnnxOpset = 21;

struct OnnxImportOptions {
  /// Fuse an activation that is the only reader of a bias-free Conv, MatMul or
  /// plain Gemm into that node's `activation` attribute.
  bool fuse_activations = true;
  /// Values for symbolic input dimensions (dim_param), by name; an input with a
  /// symbolic dimension not listed here is an error.
  std::map<std::string, int64_t, std::less<>> dim_params;
  /// The most elements one tensor (input, weight or any inferred value) may have.
  int64_t max_tensor_elements = int64_t{1} << 32;
};

/// Parses the bytes of an ONNX model. `filename` prefixes every error message.
absl::StatusOr<Model> ParseOnnxModel(std::string_view bytes, std::string_view filename,
                                     const OnnxImportOptions& options = {});

/// Reads and parses the ONNX model at `path`.
absl::StatusOr<Model> ReadOnnxFile(const std::string& path, const OnnxImportOptions& options = {});

/// The ONNX op types the importer reads, sorted.
std::span<const std::string_view> SupportedOnnxOps();

}  // namespace lemma

#endif  // LEMMA_IR_ONNX_IMPORT_H_
