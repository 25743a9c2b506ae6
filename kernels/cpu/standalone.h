#ifndef LEMMA_KERNELS_CPU_STANDALONE_H_
#define LEMMA_KERNELS_CPU_STANDALONE_H_

// One group of a graph taken out to be measured on its own (by the cost model,
// the benchmarks, the tuner's tests): every value it reads gets its own
// contiguous storage in its declared layout, and weights, constant ops and
// what is computed from them alone become constants with random values, as a
// compiled plan would hold them.

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/cpu/lowering.h"
#include "kernels/tensor.h"

namespace lemma::cpu {

class StandaloneGroup : public LoweringContext {
 public:
  /// Takes `group` out of `graph` (which must stay alive). Fails when the
  /// group's values are not f32.
  static absl::StatusOr<std::unique_ptr<StandaloneGroup>> Make(const Graph& graph, Group group);

  const Graph& graph() const override { return graph_; }
  ValueAccess Access(ValueId value) const override;
  int vector_width() const override;
  const Group& group() const { return group_; }

 private:
  StandaloneGroup(const Graph& graph, Group group) : graph_(graph), group_(std::move(group)) {}

  const Graph& graph_;
  Group group_;
  std::map<std::pair<int, int>, Tensor<float>> constants_;
};

/// Whether `value` of `graph` depends on no graph input (weights and constant
/// ops only).
bool IsConstantValue(const Graph& graph, ValueId value);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_STANDALONE_H_
