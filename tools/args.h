#ifndef LEMMA_TOOLS_ARGS_H_
#define LEMMA_TOOLS_ARGS_H_

// Command-line parsing for lemma's subcommands: each subcommand declares its
// options, and gets --help and clear errors for free.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace lemma::cli {

struct OptionSpec {
  std::string_view name;        // "--seed"
  std::string_view short_name;  // "-o", or empty
  std::string_view value_name;  // "N"; empty for a switch
  std::string_view help;
};

struct CommandSpec {
  std::string_view name;
  std::string_view summary;  // one line, for `lemma --help`
  std::string_view usage;    // "lemma run FILE [--seed N]"
  std::string_view description;
  std::vector<OptionSpec> options;
  int min_positional = 0;
  int max_positional = 0;
};

/// Parsed arguments of one subcommand.
class Args {
 public:
  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(std::string_view name) const;
  /// The value of an option, or `fallback` when not given.
  std::string Get(std::string_view name, std::string_view fallback = "") const;
  /// An integer option; fails naming the option when the value is not one.
  absl::StatusOr<int64_t> GetInt(std::string_view name, int64_t fallback) const;
  /// A number option; fails naming the option when the value is not one.
  absl::StatusOr<double> GetDouble(std::string_view name, double fallback) const;
  bool help() const { return help_; }

 private:
  friend absl::StatusOr<Args> Parse(const CommandSpec&, const std::vector<std::string>&);
  std::vector<std::string> positional_;
  absl::flat_hash_map<std::string, std::string> values_;
  bool help_ = false;
};

/// Parses `argv` (the words after the subcommand). Unknown options, missing
/// values and a wrong number of positional arguments are errors.
absl::StatusOr<Args> Parse(const CommandSpec& spec, const std::vector<std::string>& argv);
/// The --help text of a subcommand.
std::string HelpText(const CommandSpec& spec);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_ARGS_H_
