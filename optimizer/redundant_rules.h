#ifndef LEMMA_OPTIMIZER_REDUNDANT_RULES_H_
#define LEMMA_OPTIMIZER_REDUNDANT_RULES_H_

// Rules that repeat another rule up to renaming. The generator emits pairs
// such as
//
//   conv2d(x, p4), conv2d(x, p3) -> split(conv2d(x, concat(p3, p4)))   (g1057)
//   conv2d(x, p4), conv2d(x, p3) -> split(conv2d(x, concat(p4, p3)))   (g1058)
//
// which are the same rule once p3 and p4 (and the outputs and sizes that go
// with them) swap names: wherever one applies, the other applies at the
// match with the two convs exchanged and makes the very same graph. The
// search would evaluate every such graph twice; it drops the repeats.
//
// RuleRenamingKey hashes a rule so that rules equal up to the names of their
// inputs, outputs and size variables and the order of their nodes get the
// same key: each input is labelled by its position in a canonical order
// (inputs are first sorted by how they are used and shaped; the key is the
// least over the orders of inputs used alike), variables by where they first
// occur in the inputs' dims in that order, and the outputs are taken as an
// unordered set of (source expression, target expression) pairs.
//
// The generator also emits special cases of a rule, which make equal sizes
// that the general rule keeps apart:
//
//   matmul(a1, b1), matmul(a1, b2) with b1, b2: [k, k]    (g1150)
//   matmul(a1, b4), matmul(a1, b3) with b3: [k, j], b4: [k, l]   (g1158)
//
// The general rule matches wherever the special one does and makes the same
// graph there, so the special one is dropped too: a rule is a special case
// of another when the other, its size variables replaced by some of the
// first's, is the first up to renaming.

#include <cstdint>
#include <span>

#include "optimizer/graph_cost.h"
#include "rules/rule.h"

namespace lemma {

/// The renaming-independent key of `rule` (see the top of this file). A rule
/// with too many inputs used alike to try their orders gets a key of its own
/// (its id's hash).
uint64_t RuleRenamingKey(const Rule& rule);

/// Per rule of `rules`: 1 when it has the key of an earlier rule or is a
/// special case of another rule that is kept (see the top of this file),
/// counting only rules with enabled[i] != 0 (every rule when `enabled` is
/// empty); 0 otherwise.
Flags RedundantRules(const RuleSet& rules, std::span<const uint8_t> enabled = {});

}  // namespace lemma

#endif  // LEMMA_OPTIMIZER_REDUNDANT_RULES_H_
