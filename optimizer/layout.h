#ifndef LEMMA_OPTIMIZER_LAYOUT_H_
#define LEMMA_OPTIMIZER_LAYOUT_H_

// Choosing a layout for every tensor. Layouts are how values are stored
// (TensorType::layout); the cost model charges a kernel for reordering any
// input it cannot read in its layout, so the choice matters wherever a
// conv2d or matmul meets its neighbours.
//
// The pass is a deterministic descent: values that a layout-preserving op
// (IsLayoutPreserving) connects form a group that changes layout together
// (an elementwise op between two convs does not want its input and output in
// different layouts); each group in turn takes the layout that makes the
// nodes around it cheapest, until no group can improve. One group rarely
// pays for the reorders at its edges on its own, so the descent runs from
// the graph's layouts, from every 4-d value NHWC and from every one NCHW,
// and the cheapest end is kept. Graph inputs and
// outputs keep their layouts: they are the graph's interface. Precomputed
// values (weights and what is computed from them alone) are stored in the
// layout their first consumer prefers, which is free.

#include <cstdint>
#include <span>

#include "ir/graph.h"
#include "optimizer/cost_model.h"

namespace lemma {

/// Changes layouts of `graph` so that its cost under `model` does not rise
/// (it falls where a conversion can be saved). `precomputed_seeds` is as for
/// PrecomputedNodes. Returns the number of values whose layout changed.
int OptimizeLayouts(Graph& graph, CostModel& model, std::span<const uint8_t> precomputed_seeds = {});

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_LAYOUT_H_
