#ifndef LEMMA_TOOLS_COMMANDS_H_
#define LEMMA_TOOLS_COMMANDS_H_

// Subcommands that live in their own files: each gives its spec (usage,
// options, help) and its entry point, and tools/lemma.cc lists them.

#include "tools/args.h"

namespace lemma::cli {

/// `lemma rules list|show|stats`: browse a rule set (tools/rules_cmd.cc).
const CommandSpec& RulesSpec();
int RunRules(const Args& args);

/// `lemma tune` and `lemma bench`: the CPU backend (tools/cpu_cmd.cc).
const CommandSpec& TuneSpec();
int RunTuneCommand(const Args& args);
const CommandSpec& BenchSpec();
int RunBenchCommand(const Args& args);
/// `lemma bench --device cuda`: the CUDA backend (tools/cuda_cmd.cc); without
/// a device or a CUDA build, an error and a non-zero exit.
int RunCudaBench(const Args& args);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_COMMANDS_H_
