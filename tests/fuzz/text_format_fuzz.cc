// libFuzzer target for the graph text parser. Every input must either fail
// with an InvalidArgumentError located in the file, or parse to a valid graph
// that round-trips exactly: print(parse(print(g))) == print(g),
// parse(print(g)) == g (unless an attribute is NaN, which never compares
// equal) and equal structural hashes. Anything else aborts: it is a bug.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "ir/dot.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "ir/text_format.h"

namespace lemma {
namespace {

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "text_format_fuzz: %.*s\n%.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool HasNaN(const Graph& g) {
  for (const Node& n : g.nodes()) {
    for (const std::optional<AttrValue>& v : n.attrs.values()) {
      if (v && std::holds_alternative<double>(*v) && std::isnan(std::get<double>(*v))) return true;
    }
  }
  return false;
}

void CheckError(const absl::Status& s) {
  const std::string_view message = ToStd(s.message());
  if (s.code() != absl::StatusCode::kInvalidArgument || !message.starts_with("fuzz:")) {
    Fail("a parse error that is not InvalidArgument at a location", message);
  }
}

void CheckRoundTrip(const Graph& g) {
  if (absl::Status s = g.Validate(); !s.ok()) Fail("parsed an invalid graph", ToStd(s.message()));
  const std::string printed = PrintGraph(g);
  absl::StatusOr<Graph> again = ParseGraph(printed, "printed");
  if (!again.ok()) Fail("the printed graph does not parse", ToStd(again.status().message()));
  if (PrintGraph(*again) != printed) Fail("print(parse(print(g))) != print(g)", printed);
  if (!HasNaN(g) && !(*again == g)) Fail("parse(print(g)) != g", printed);
  if (StructuralHash(*again) != StructuralHash(g)) Fail("structural hashes differ", printed);
  if (WriteDot(g).empty()) Fail("empty DOT output", printed);
}

}  // namespace
}  // namespace lemma

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<lemma::Graph> g = lemma::ParseGraph(text, "fuzz");
  if (!g.ok()) {
    lemma::CheckError(g.status());
  } else {
    lemma::CheckRoundTrip(*g);
  }
  return 0;
}
