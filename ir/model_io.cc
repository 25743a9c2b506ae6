#include "ir/model_io.h"

#include <cctype>

#include "ir/strings.h"
#include "ir/text_format.h"

namespace lemma {

ModelFormat FormatOfPath(std::string_view path) {
  constexpr std::string_view kExt = ".onnx";
  if (path.size() < kExt.size()) return ModelFormat::kText;
  const std::string_view tail = path.substr(path.size() - kExt.size());
  for (size_t i = 0; i < kExt.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(tail[i])) != kExt[i]) return ModelFormat::kText;
  }
  return ModelFormat::kOnnx;
}

absl::StatusOr<Model> ReadModel(const std::string& path, const std::string& weights_path,
                                const OnnxImportOptions& onnx) {
  Model model;
  if (FormatOfPath(path) == ModelFormat::kOnnx) {
    absl::StatusOr<Model> m = ReadOnnxFile(path, onnx);
    if (!m.ok()) return m.status();
    model = *std::move(m);
  } else {
    absl::StatusOr<Graph> g = ReadGraphFile(path);
    if (!g.ok()) return g.status();
    model.graph = *std::move(g);
  }
  if (weights_path.empty()) return model;
  absl::StatusOr<WeightValues> data = ReadTensorFile(weights_path);
  if (!data.ok()) return data.status();
  if (absl::Status s = CheckWeightValues(model.graph, *data, /*allow_inputs=*/false); !s.ok()) {
    return absl::InvalidArgumentError(StrCat(weights_path, ": ", s.message()));
  }
  for (auto& [name, value] : *data) model.weights.insert_or_assign(name, std::move(value));
  return model;
}

absl::Status WriteModel(const std::string& path, const Model& model,
                        const OnnxExportOptions& onnx) {
  if (FormatOfPath(path) == ModelFormat::kOnnx) {
    return WriteOnnxFile(path, model.graph, model.weights, onnx);
  }
  return WriteGraphFile(path, model.graph);
}

}  // namespace lemma
