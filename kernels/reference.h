#ifndef LEMMA_KERNELS_REFERENCE_H_
#define LEMMA_KERNELS_REFERENCE_H_

// The reference evaluator: the one definition of what every op means. Simple
// and obviously right, not fast. Every op is a kernel template over an
// arithmetic domain (kernels/arith.h: F64, F32, ModP), found through a table
// indexed by OpKind that is checked complete at start-up.
//
// Kernels compute on logical row-major arrays: the evaluator reads each input
// through its layout and writes each output in the layout the graph gives it,
// so a graph whose values are NHWC computes the same logical results as the
// NCHW one. The domain, not a value's dtype, decides the arithmetic: an f32
// graph evaluated in F64 computes in double.
//
//   NamedTensors<F64> feeds = RandomFeeds<F64>(graph, /*seed=*/1);
//   absl::StatusOr<NamedTensors<F64>> out = Evaluate<F64>(graph, feeds);

#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"
#include "kernels/arith.h"
#include "kernels/tensor.h"

namespace lemma {

/// Tensors by name: feeds (by input or weight name) and results (by output
/// name). Ordered, so iteration is deterministic.
template <typename A>
using NamedTensors = std::map<std::string, Tensor<typename A::T>, std::less<>>;

/// Whether the reference kernel table has an entry for `op` in every domain.
/// Sources have an entry that refuses to run (they are fed, not computed).
bool HasReferenceKernel(OpKind op);

/// Computes the outputs of node `id` of `g` from `inputs` (one per node input,
/// in order, each in any layout whose dims match the graph's). Each output has
/// the type, layout included, that the graph gives it. Errors, prefixed with
/// the node's description: a source node, wrong input count or dims, or a value
/// the domain cannot represent (a fractional pad value in ModP).
template <typename A>
absl::StatusOr<std::vector<Tensor<typename A::T>>> EvaluateNode(
    const Graph& g, NodeId id, std::span<const Tensor<typename A::T>* const> inputs);

/// Evaluates `g` on `feeds`, which hold every input and weight by name and
/// nothing else (a feed may have any layout; its dims must match). Returns the
/// graph outputs by output name, each in its value's layout. Nodes run in
/// g.TopologicalOrder(); only nodes some output depends on run, and a value is
/// freed once its last user has run. Errors name the offending feed or node.
template <typename A>
absl::StatusOr<NamedTensors<A>> Evaluate(const Graph& g, const NamedTensors<A>& feeds);

extern template absl::StatusOr<std::vector<Tensor<double>>> EvaluateNode<F64>(
    const Graph&, NodeId, std::span<const Tensor<double>* const>);
extern template absl::StatusOr<std::vector<Tensor<float>>> EvaluateNode<F32>(
    const Graph&, NodeId, std::span<const Tensor<float>* const>);
extern template absl::StatusOr<std::vector<Tensor<uint64_t>>> EvaluateNode<ModP>(
    const Graph&, NodeId, std::span<const Tensor<uint64_t>* const>);
extern template absl::StatusOr<NamedTensors<F64>> Evaluate<F64>(const Graph&,
                                                                const NamedTensors<F64>&);
extern template absl::StatusOr<NamedTensors<F32>> Evaluate<F32>(const Graph&,
                                                                const NamedTensors<F32>&);
extern template absl::StatusOr<NamedTensors<ModP>> Evaluate<ModP>(const Graph&,
                                                                  const NamedTensors<ModP>&);

}  // namespace lemma

#endif  // LEMMA_KERNELS_REFERENCE_H_
