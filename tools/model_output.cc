#include "tools/model_output.h"

#include "ir/model_io.h"
#include "ir/text_format.h"
#include "optimizer/optimize_model.h"
#include "tools/common.h"

namespace lemma::cli {

absl::Status WriteDerivedModel(const std::string& path, const Model& input, const Graph& graph) {
  if (FormatOfPath(path) == ModelFormat::kOnnx) {
    return WriteModel(path, ModelWithWeights(graph, input.weights));
  }
  return Emit(path, PrintGraph(graph));
}

}  // namespace lemma::cli
