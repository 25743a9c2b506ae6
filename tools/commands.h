#ifndef LEMMA_TOOLS_COMMANDS_H_
#define LEMMA_TOOLS_COMMANDS_H_

// Subcommands that live in their own files: each gives its spec (usage,
// options, help) and its entry point, and tools/lemma.cc lists them.

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "ir/graph.h"
#include "optimizer/optimize.h"
#include "rules/rule.h"
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

/// `lemma explore`: rule matches in a model with their cost effect, and a
/// command loop that applies them (tools/explore_cmd.cc).
const CommandSpec& ExploreSpec();
int RunExplore(const Args& args);

/// What `lemma optimize` adds to its report for --explain (the applied steps,
/// with the cost after each, on `report`), --explain-dir DIR (a before/after
/// picture of each rewrite's region: DIR/step-NN-RULE.dot, and .svg when
/// Graphviz is installed) and --json (the report as JSON on standard output,
/// tools/schemas/optimize.schema.json) (tools/explore_cmd.cc).
absl::Status ExplainOptimize(const Args& args, const Graph& input, const RuleSet& rules,
                             const std::string& rules_path, const OptimizeResult& result,
                             std::FILE* report);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_COMMANDS_H_
