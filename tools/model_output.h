#ifndef LEMMA_TOOLS_MODEL_OUTPUT_H_
#define LEMMA_TOOLS_MODEL_OUTPUT_H_

// Writing a graph that a command derived from a model (the optimized graph of
// `lemma optimize`) in the format its file name says, with the data the model
// holds for the weights it still reads.

#include <string>

#include "absl/status/status.h"
#include "ir/graph.h"
#include "ir/weights.h"

namespace lemma::cli {

/// Writes `graph` to `path`: for "*.onnx" an ONNX model whose initializers are
/// the data `input` holds for `graph`'s weights (a weight without data is an
/// error naming it, e.g. for a text model read without --weights); otherwise
/// lemma's text format, to standard output when `path` is "-".
absl::Status WriteDerivedModel(const std::string& path, const Model& input, const Graph& graph);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_MODEL_OUTPUT_H_
