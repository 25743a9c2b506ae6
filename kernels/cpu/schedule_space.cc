#include "kernels/cpu/schedule_space.h"

#include <algorithm>

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

int64_t Below(SplitMix64& rng, int64_t n) { return n <= 1 ? 0 : static_cast<int64_t>(rng.Next() % U(n)); }
bool Chance(SplitMix64& rng, int percent) { return Below(rng, 100) < percent; }

// A divisor of n in [2, n), or 0 when there is none.
int64_t RandomDivisor(SplitMix64& rng, int64_t n) {
  std::vector<int64_t> divisors;
  for (int64_t d = 2; d < n; ++d) {
    if (n % d == 0) divisors.push_back(d);
  }
  return divisors.empty() ? 0 : divisors[U(Below(rng, static_cast<int64_t>(divisors.size())))];
}

std::vector<int64_t> RandomTiles(const LoopNest& nest, int axis, SplitMix64& rng) {
  const int64_t extent = nest.axis(axis).extent;
  const std::vector<int64_t> blocks = RequiredBlocks(nest, axis);
  std::vector<int64_t> tiles;
  if (!blocks.empty()) {
    const int64_t b = blocks.front();
    if (Chance(rng, 50) && b * 2 < extent) tiles.push_back(b * (2 + Below(rng, 3)));
    tiles.push_back(b);
    if (Chance(rng, 50)) {
      if (const int64_t d = RandomDivisor(rng, b); d > 0) tiles.push_back(d);
    }
    return tiles;
  }
  if (extent > 1 && Chance(rng, 60)) {
    tiles.push_back(2 + Below(rng, extent + 1));
    if (Chance(rng, 50)) {
      if (const int64_t d = RandomDivisor(rng, tiles[0]); d > 0) tiles.push_back(d);
    }
  }
  return tiles;
}

}  // namespace

std::vector<int64_t> RequiredBlocks(const LoopNest& nest, int axis) {
  std::vector<int64_t> blocks;
  auto visit = [&](const AffineIndex& index) {
    for (const IndexTerm& t : index.terms) {
      if (t.axis != axis || t.part == AxisPart::kWhole || t.block <= 1) continue;
      if (t.block >= nest.axis(axis).extent) continue;
      if (std::find(blocks.begin(), blocks.end(), t.block) == blocks.end()) {
        blocks.push_back(t.block);
      }
    }
  };
  for (const ExprNode& n : nest.nodes()) {
    if (n.op != ExprOp::kLoad) continue;
    visit(n.index);
    for (const Guard& g : n.guards) visit(g.index);
  }
  visit(nest.out_index());
  std::sort(blocks.rbegin(), blocks.rend());
  return blocks;
}

namespace {

Schedule Draw(const LoopNest& nest, int vector_width, SplitMix64& rng) {
  Schedule s;
  const int axes = nest.num_axes();
  for (int a = 0; a < axes; ++a) s.tiles.push_back(RandomTiles(nest, a, rng));
  std::vector<int> spatial;
  for (int a = 0; a < axes; ++a) {
    if (!nest.axis(a).reduction) spatial.push_back(a);
  }
  if (vector_width > 1 && !spatial.empty() && Chance(rng, 80)) {
    s.vector_axis = spatial[U(Below(rng, static_cast<int64_t>(spatial.size())))];
    s.vector_width = vector_width;
  }
  // A random interleaving of each axis's levels, the vector loop last.
  std::vector<int> next(U(axes), 0);
  std::vector<int> remaining;
  for (int a = 0; a < axes; ++a) {
    for (int l = 0; l < s.Levels(a); ++l) {
      if (a == s.vector_axis && l == s.Levels(a) - 1) continue;
      remaining.push_back(a);
    }
  }
  while (!remaining.empty()) {
    const size_t pick = U(Below(rng, static_cast<int64_t>(remaining.size())));
    const int a = remaining[pick];
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(pick));
    s.order.push_back({a, next[U(a)]++});
  }
  if (s.vector_axis >= 0) s.order.push_back({s.vector_axis, s.Levels(s.vector_axis) - 1});
  for (LoopRef l : s.order) {
    const int64_t outer = l.level == 0 ? nest.axis(l.axis).extent : s.Step(l.axis, l.level - 1);
    int64_t trips = (outer + s.Step(l.axis, l.level) - 1) / s.Step(l.axis, l.level);
    if (l.axis == s.vector_axis && l.level == s.Levels(l.axis) - 1) {
      trips = (trips + vector_width - 1) / vector_width;
    }
    if (trips <= 8 && Chance(rng, 40)) s.unrolled.push_back(l);
  }
  int leading = 0;
  while (leading < static_cast<int>(s.order.size())) {
    const LoopRef l = s.order[U(leading)];
    if (nest.axis(l.axis).reduction || s.IsUnrolled(l) ||
        (l.axis == s.vector_axis && l.level == s.Levels(l.axis) - 1)) {
      break;
    }
    ++leading;
  }
  s.parallel = static_cast<int>(Below(rng, leading + 1));
  if (!s.Validate(nest).ok()) s.unrolled.clear();
  return s;
}

}  // namespace

Schedule RandomSchedule(const LoopNest& nest, int vector_width, SplitMix64& rng) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    Schedule s = Draw(nest, vector_width, rng);
    if (s.Validate(nest).ok()) return s;
  }
  // The untiled schedule, with the tiles that blocks require.
  Schedule s = Schedule::Default(nest);
  s.order.clear();
  for (int a = 0; a < nest.num_axes(); ++a) {
    s.tiles[U(a)] = RequiredBlocks(nest, a);
    for (int l = 0; l < s.Levels(a); ++l) s.order.push_back({a, l});
  }
  return s;
}

}  // namespace lemma::cpu
