#ifndef LEMMA_IR_TEXT_FORMAT_H_
#define LEMMA_IR_TEXT_FORMAT_H_

// The graph text format: readable, diffable, and exact — for every graph g,
// ParseGraph(PrintGraph(g)) == g and PrintGraph(ParseGraph(PrintGraph(g))) ==
// PrintGraph(g), byte for byte.
//
//   # comments run to the end of the line
//   graph resnext_block {
//     input x: f32[1,256,56,56]
//     weight w1: f32[128,256,1,1]
//     weight w2: f32[128,4,3,3]
//     conv1 = conv2d(x, w1) {activation=relu} : f32[1,128,56,56]
//     %0 = conv2d(conv1, w2) {padding=same, groups=32, activation=relu} : f32[1,128,56,56]
//     %1, %2 = split(%0) {axis=1, sizes=[64,64]} : f32[1,64,56,56], f32[1,64,56,56]
//     %3 = transpose(w1) {perm=[1,0,2,3]} : f32[256,128,1,1]@nhwc
//     output y = %0
//     output z = %2
//   }
//
// Statements, one per line as printed (the parser only needs whitespace
// between tokens):
//   input NAME: TYPE                       a graph input
//   weight NAME: TYPE                      a weight
//   RESULTS = OP(ARGS) [{ATTRS}] [: TYPES] a node; RESULTS and ARGS are values
//   output NAME = VALUE                    a graph output
// Statements appear in node order (sources are nodes too), then the outputs.
// A graph whose node order is not topological (after
// Graph::ReplaceAllUsesWith) prints in Graph::TopologicalOrder(), which is
// node order for every other graph.
//
// TYPE is DTYPE[DIMS] with "@LAYOUT" appended when the layout is not
// DefaultLayout(rank), exactly as TensorType::ToString writes it: f32[] is a
// scalar, f32[2,3]@col_major a column-major matrix.
//
// A VALUE is a name (ir/graph.h IsValidName) or "%K" for an anonymous value.
// The printer numbers anonymous values 0, 1, 2, ... in print order; the parser
// accepts any digits after '%' as a label local to the file and never stores
// it as a name. Keywords (graph, input, weight, output) are not reserved: a
// statement is a declaration when the keyword is followed by a name.
//
// ATTRS are "name=value" separated by commas. The printer writes them in
// schema order and only those that differ from their default; the parser
// accepts any order and fills in defaults. Values: integers (-3), lists of
// integers ([1,2], []), numbers (0.1, 1e-05, -inf, nan; integers are accepted
// for them too) and enum names (relu).
//
// The ": TYPES" annotation (one per output) is always printed. When parsing it
// is optional; if present, its dtype and dims must match shape inference and
// its layout is applied (layouts are not inferred).
//
// The graph's name prints bare when it is a valid name and otherwise as a
// double-quoted string in which '"' and '\' are escaped with '\' and bytes
// below 0x20 and 0x7f are written \xHH.
//
// Every malformed input gives absl::InvalidArgumentError with the message
// "FILE:LINE:COL: reason" (1-based; columns count bytes). To bound memory on
// untrusted input the parser rejects tensors of rank above kMaxParseRank and
// shapes of more than 2^40 elements.

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace lemma {

/// The largest rank ParseGraph accepts for a declared or inferred type.
inline constexpr int kMaxParseRank = 32;

/// The text form of `graph`, ending with a newline. Never fails.
std::string PrintGraph(const Graph& graph);

/// The label PrintGraph gives each value, by node then output: its name, or
/// "%K" for the K-th anonymous value in print order. Tools name values to
/// users by these labels.
std::vector<std::vector<std::string>> PrintedValueLabels(const Graph& graph);

/// Parses the text form of one graph. Errors are InvalidArgumentError reading
/// "FILENAME:LINE:COL: reason".
absl::StatusOr<Graph> ParseGraph(std::string_view text, std::string_view filename = "<text>");

/// Reads and parses the file at `path`; parse errors are prefixed with `path`,
/// read errors name it.
absl::StatusOr<Graph> ReadGraphFile(const std::string& path);

/// Writes PrintGraph(graph) to `path` atomically (see WriteFileAtomically).
absl::Status WriteGraphFile(const std::string& path, const Graph& graph);

}  // namespace lemma

#endif  // LEMMA_IR_TEXT_FORMAT_H_
