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

/// A cost model a command owns together with what backs it.
class OwnedCostModel {
 public:
  virtual ~OwnedCostModel() = default;
  /// The model for OptimizeOptions::cost_model.
  virtual CostModel* model() = 0;
  /// After the search: saves the cost cache and says on stderr how many ops
  /// were measured.
  virtual absl::Status Finish() = 0;
};

/// `lemma optimize --cost cuda`: op costs measured on the GPU with CUDA events
/// (the analytical model answers for ops it cannot run), cached in
/// --cost-cache (tools/cuda_cmd.cc). An error without a CUDA build or device.
absl::StatusOr<std::unique_ptr<OwnedCostModel>> MakeCudaOptimizeCosts(const Args& args);

/// The cost model `lemma optimize --cost` selects (tools/cpu_cmd.cc).
struct OptimizeCosts {
  /// The schedules of --tuning-log, which measured kernels use.
  std::unique_ptr<cpu::TuningLog> tuning_log;
  /// --cost measured: op costs measured on this machine (cached in
  /// --cost-cache); null for --cost analytical, the default.
  std::unique_ptr<cpu::OptimizerCosts> measured;
  /// --cost cuda: op costs measured on the GPU.
  std::unique_ptr<OwnedCostModel> gpu;
  /// The model for OptimizeOptions::cost_model (null: the default).
  CostModel* model() const {
    if (measured) return measured->model();
    return gpu ? gpu->model() : nullptr;
  }
};
/// Reads --cost (analytical, measured or cuda), --cost-cache FILE and --tuning-log
/// FILE; errors name the flag or file at fault.
absl::StatusOr<OptimizeCosts> MakeOptimizeCosts(const Args& args);
/// After the search: saves the measured costs' cache and says on stderr how
/// many ops were measured, cached and estimated. Nothing for analytical.
absl::Status FinishOptimizeCosts(const OptimizeCosts& costs);

}  // namespace lemma::cli

#endif  // LEMMA_TOOLS_COMMANDS_H_
