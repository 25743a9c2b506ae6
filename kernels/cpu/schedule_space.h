#ifndef LEMMA_KERNELS_CPU_SCHEDULE_SPACE_H_
#define LEMMA_KERNELS_CPU_SCHEDULE_SPACE_H_

// Schedules drawn at random for any loop nest: the generic search space of the
// tuner for nests without a template of their own, and the source of the
// schedules the code generator is tested with.

#include "kernels/cpu/loop_nest.h"
#include "kernels/random.h"

namespace lemma::cpu {

/// The block sizes that quotient and remainder terms of `nest` use on axis
/// `axis` and that are smaller than its extent (each must be a tile size).
std::vector<int64_t> RequiredBlocks(const LoopNest& nest, int axis);

/// A random schedule that passes Schedule::Validate and includes the required
/// blocks as tile sizes: random tiles (dividing the extents or not), a random
/// order of the loops, maybe a vectorized spatial axis of `vector_width`
/// lanes, random unrolled loops and parallel loops.
Schedule RandomSchedule(const LoopNest& nest, int vector_width, SplitMix64& rng);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_SCHEDULE_SPACE_H_
