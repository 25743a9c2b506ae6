#ifndef LEMMA_TOOLS_COMMANDS_H_
#define LEMMA_TOOLS_COMMANDS_H_

// Subcommands that live in their own files: each gives its spec (usage,
// options, help) and its entry point, and tools/lemma.cc lists them.

#include <memory>

#include "absl/status/statusor.h"
#include "kernels/cpu/optimizer_costs.h"
#include "kernels/cpu/tuning.h"
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

/// The cost model `lemma optimize --cost` selects (tools/cpu_cmd.cc).
struct OptimizeCosts {
  /// The schedules of --tuning-log, which measured kernels use.
  std::unique_ptr<cpu::TuningLog> tuning_log;
  /// --cost measured: op costs measured on this machine (cached in
  /// --cost-cache); null for --cost analytical, the default.
  std::unique_ptr<cpu::OptimizerCosts> measured;
  /// The model for OptimizeOptions::cost_model (null: the default).
  CostModel* model() const { return measured ? measured->model() : nullptr; }
};
/// Reads --cost (analytical or measured), --cost-cache FILE and --tuning-log
/// FILE; errors name the flag or file at fault.
absl::StatusOr<OptimizeCosts> MakeOptimizeCosts(const Args& args);
/// After the search: saves the measured costs' cache and says on stderr how
/// many ops were measured, cached and estimated. Nothing for analytical.
absl::Status FinishOptimizeCosts(const OptimizeCosts& costs);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_COMMANDS_H_
