#ifndef LEMMA_TOOLS_COMMON_H_
#define LEMMA_TOOLS_COMMON_H_

// What every lemma subcommand shares: exit codes, error reporting, writing
// outputs, rendering pictures, and where the shipped rule set lives.

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lemma::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // bad input: a malformed file, an impossible shape, ...
inline constexpr int kExitUsage = 2;  // bad command line

/// Prints "lemma COMMAND: message" to stderr and returns kExitError.
int Fail(std::string_view command, const absl::Status& status);

/// Writes `text` to `path` atomically, or to stdout when path is empty or "-".
absl::Status Emit(const std::string& path, const std::string& text);

/// Renders DOT text to SVG with Graphviz's `dot`.
absl::StatusOr<std::string> RenderSvg(const std::string& dot);

/// Writes `dot` to `dot_path` (when not empty) and its SVG rendering to
/// `svg_path` (when not empty).
absl::Status WritePicture(const std::string& dot, const std::string& dot_path,
                          const std::string& svg_path);

/// rules/default.rules: in the working directory when there, else in the
/// source tree lemma was built from.
std::string DefaultRulesPath();

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_COMMON_H_
