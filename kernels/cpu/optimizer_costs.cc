#include "kernels/cpu/optimizer_costs.h"

#include <vector>

#include "ir/strings.h"
#include "kernels/cpu/target.h"

namespace lemma::cpu {

absl::StatusOr<double> CpuCostMeasurer::Measure(const OpCostKey& key) {
  std::vector<Layout> output_layouts;
  for (const TensorType& t : key.outputs) output_layouts.push_back(t.layout);
  return costs_->OpCostSeconds(
      key.op, key.attrs, key.inputs,
      MeasuredCostModel::TypicalConstantInputs(key.op, static_cast<int>(key.inputs.size())),
      output_layouts);
}

Layout CpuCostMeasurer::PreferredInputLayout(const OpCostKey& key, int index) {
  return layouts_->PreferredInputLayout(key, index);
}

std::string CpuCostMeasurer::Name() const {
  const int threads =
      costs_->options().threads > 0 ? costs_->options().threads : HostTarget().cores;
  return StrCat("cpu ", HostTarget().Key(threads));
}

absl::StatusOr<std::unique_ptr<OptimizerCosts>> OptimizerCosts::Create(CostModelOptions options,
                                                                        MachineSpec spec) {
  options.analytical_fallback = false;
  absl::StatusOr<std::unique_ptr<MeasuredCostModel>> costs = MeasuredCostModel::Create(options);
  if (!costs.ok()) return costs.status();
  return std::unique_ptr<OptimizerCosts>(new OptimizerCosts(*std::move(costs), spec));
}

}  // namespace lemma::cpu
