#ifndef LEMMA_TOOLS_GENERATE_COMMAND_H_
#define LEMMA_TOOLS_GENERATE_COMMAND_H_

// `lemma generate` and `lemma generate merge`: the rule generator
// (generator/generate.h) on the command line, with a progress line on a
// terminal.

#include "tools/args.h"

namespace lemma::cli {

/// The options and help of `lemma generate`.
CommandSpec GenerateCommandSpec();
/// Runs `lemma generate` (or `lemma generate merge` when the first argument
/// is "merge"); returns the exit code: 0 done, 1 error, 2 bad command line.
int RunGenerateCommand(const Args& args);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_GENERATE_COMMAND_H_
