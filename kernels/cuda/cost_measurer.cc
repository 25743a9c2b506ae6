#include "kernels/cuda/cost_measurer.h"

#include <vector>

#include "ir/strings.h"
#include "kernels/cpu/cost_model.h"

namespace lemma::cuda {

absl::StatusOr<double> CostMeasurer::Measure(const OpCostKey& key) {
  const std::vector<bool> constant =
      cpu::MeasuredCostModel::TypicalConstantInputs(key.op, static_cast<int>(key.inputs.size()));
  std::vector<Layout> layouts;
  for (const TensorType& t : key.outputs) layouts.push_back(t.layout);
  return model_->OpCostSeconds(key.op, key.attrs, key.inputs, constant, layouts);
}

Layout CostMeasurer::PreferredInputLayout(const OpCostKey& key, int index) {
  return DefaultLayout(key.inputs[static_cast<size_t>(index)].rank());
}

std::string CostMeasurer::Name() const { return StrCat("cuda ", model_->device().Describe()); }

}  // namespace lemma::cuda
