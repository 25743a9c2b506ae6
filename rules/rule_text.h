#ifndef LEMMA_RULES_RULE_TEXT_H_
#define LEMMA_RULES_RULE_TEXT_H_

// The rule text format: a file of rules, each with its metadata, a source
// pattern and a target pattern. It round-trips exactly: for every rule set s,
// ParseRules(PrintRules(s)) prints back to the same text.
//
//   # two convolutions that share an input merge into one
//   rule r0042 {
//     status proved "lemma-axioms-1"        # tested | proved "AXIOM SET" |
//                                           # unknown "WHY" | refuted "COUNTEREXAMPLE"
//     uses [conv_linear_weight, split_concat]   # axioms the proof used (optional)
//     fingerprint "9f3c0a51d2e47b18"        # the generator's fingerprint (optional)
//     origin "generate max_ops=3 seed=1"    # provenance (optional)
//     example n=2, c=4, h=5, w=5, o1=4, o2=4    # sizes at which it type-checks
//     source {
//       input x: [n, c, h, w]
//       input w1: [o1, c, 3, 3]
//       input w2: [o2, c, 3, 3]
//       %0 = conv2d(x, w1) {padding=same}
//       %1 = conv2d(x, w2) {padding=same}
//       output a = %0
//       output b = %1
//     }
//     target {
//       %0 = concat(w1, w2) {axis=0}
//       %1 = conv2d(x, %0) {padding=same}
//       %2, %3 = split(%1) {axis=1, sizes=[o1, o2]}
//       output a = %2
//       output b = %3
//     }
//   }
//
// Input dims are integers or variables; integer attributes (and list
// elements) are sums of integers and variables (`c1+c2`); enum attributes are
// names as in the graph format; unlisted attributes take their defaults. The
// target uses the source's inputs by name; %K labels are local to one side.
// Metadata lines come in any order before `source`. Errors read
// "FILE:LINE:COL: reason" for syntax and "FILE:LINE:COL: rule ID: reason" for a
// rule that fails CheckRule (the position of its `rule` keyword).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rules/rule.h"

namespace lemma {

/// One rule in the text format, ending with a newline.
std::string PrintRule(const Rule& rule);
/// A header comment (may be empty; each line gets "# ") and every rule.
std::string PrintRules(const RuleSet& rules, std::string_view header = "");

/// Parses a rule file; every rule is checked (CheckRule) and ids must be unique.
absl::StatusOr<RuleSet> ParseRules(std::string_view text, std::string_view filename = "<text>");
absl::StatusOr<RuleSet> ReadRuleFile(const std::string& path);
/// The rules of several files, `paths` separated by commas, in order; ids
/// must be unique across them (a clash names the file).
absl::StatusOr<RuleSet> ReadRuleFiles(std::string_view paths);
/// Writes PrintRules(rules, header) atomically.
absl::Status WriteRuleFile(const std::string& path, const RuleSet& rules,
                           std::string_view header = "");

}  // namespace lemma

#endif  // LEMMA_RULES_RULE_TEXT_H_
