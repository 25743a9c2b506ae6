// libFuzzer target for the ONNX importer. Every input must either fail with
// an error whose message starts with the file name, or import to a valid graph
// with consistent weight data that exports to ONNX and imports back with the
// same structural hash, the same weight data and the same printed outputs.
// Anything else aborts: it is a bug.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ir/hash.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "ir/strings.h"
#include "ir/text_format.h"
#include "ir/weights.h"

namespace lemma {
namespace {

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "onnx_import_fuzz: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void CheckError(const absl::Status& s) {
  const std::string_view message = ToStd(s.message());
  const bool user_error = s.code() == absl::StatusCode::kInvalidArgument ||
                          s.code() == absl::StatusCode::kUnimplemented;
  if (!user_error || !message.starts_with("fuzz.onnx: ")) {
    Fail("an import error that is not a user error naming the file", s.ToString());
  }
}

void CheckRoundTrip(const Model& m) {
  if (absl::Status s = m.graph.Validate(); !s.ok()) Fail("imported an invalid graph", ToStd(s.message()));
  if (absl::Status s = CheckWeightValues(m.graph, m.weights); !s.ok()) {
    Fail("weight data does not match the graph", ToStd(s.message()));
  }
  if (!WeightsWithoutData(m.graph, m.weights).empty()) Fail("a weight has no data", PrintGraph(m.graph));
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(m.graph, m.weights);
  if (!bytes.ok()) Fail("the imported graph does not export", ToStd(bytes.status().message()));
  absl::StatusOr<Model> again = ParseOnnxModel(*bytes, "again.onnx");
  if (!again.ok()) Fail("the exported model does not import", ToStd(again.status().message()));
  if (StructuralHash(again->graph) != StructuralHash(m.graph)) {
    Fail("structural hashes differ after export and import",
         StrCat(PrintGraph(m.graph), "---\n", PrintGraph(again->graph)));
  }
  // Compared as bytes: a NaN weight never equals itself.
  if (EncodeTensorFile(again->weights) != EncodeTensorFile(m.weights)) {
    Fail("weight data differs after export and import", PrintGraph(m.graph));
  }
}

}  // namespace
}  // namespace lemma

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  lemma::OnnxImportOptions options;
  options.max_tensor_elements = int64_t{1} << 24;  // keep each run small
  absl::StatusOr<lemma::Model> m = lemma::ParseOnnxModel(bytes, "fuzz.onnx", options);
  if (!m.ok()) {
    lemma::CheckError(m.status());
  } else {
    lemma::CheckRoundTrip(*m);
  }
  return 0;
}
