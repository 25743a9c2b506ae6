#include "tools/model_output.h"

#include <string>
#include <vector>

#include "ir/model_io.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "optimizer/optimize_model.h"
#include "tools/common.h"

namespace lemma::cli {

absl::Status WriteDerivedModel(const std::string& path, const Model& input, const Graph& graph) {
  if (FormatOfPath(path) == ModelFormat::kOnnx) {
    const std::vector<std::string> missing = WeightsWithoutData(graph, input.weights);
    if (!missing.empty()) {
      return absl::InvalidArgumentError(
          StrCat(path, ": weight '", missing.front(), "' has no data (", missing.size(),
                 " weights have none; an ONNX output needs them: read an ONNX model, or give a "
                 "text graph's data with --weights FILE)"));
    }
    return WriteModel(path, ModelWithWeights(graph, input.weights));
  }
  return Emit(path, PrintGraph(graph));
}

}  // namespace lemma::cli
