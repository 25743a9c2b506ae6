#ifndef LEMMA_TESTS_GENERATOR_RULE_KEY_H_
#define LEMMA_TESTS_GENERATOR_RULE_KEY_H_

// A text of a rule that does not depend on the names of its inputs and
// outputs nor on its direction, written from the patterns alone (independent
// of the generator's own canonical forms): two rules state the same identity
// up to renaming exactly when their keys are equal.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ir/strings.h"
#include "rules/pattern.h"
#include "rules/rule.h"

namespace lemma::generator_test {

// The text of every value of `p`, inputs named by `names` (by input index).
inline std::vector<std::vector<std::string>> PatternTexts(const Pattern& p,
                                                          const std::vector<std::string>& names) {
  std::vector<std::vector<std::string>> texts(p.nodes.size());
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const PatternNode& n = p.nodes[i];
    if (n.IsInput()) {
      texts[i] = {names[i]};
      continue;
    }
    const std::span<const AttrSpec> schema = Attributes(n.op).schema();
    std::vector<std::string> attrs;
    for (size_t a = 0; a < n.attrs.size(); ++a) {
      if (IsPatternDTypeAttr(schema[a])) continue;
      attrs.push_back(StrCat(schema[a].name, "=", FormatPatternAttr(n.op, a, n.attrs[a])));
    }
    std::vector<std::string> args;
    for (const PatternRef& r : n.inputs) {
      args.push_back(texts[static_cast<size_t>(r.node)][static_cast<size_t>(r.index)]);
    }
    if (GetOpInfo(n.op).Has(kTraitCommutative)) std::sort(args.begin(), args.end());
    const std::string base = StrCat(OpName(n.op), "{", StrJoin(attrs, ","), "}(", StrJoin(args, ","), ")");
    for (int j = 0; j < n.num_outputs; ++j) {
      texts[i].push_back(n.num_outputs > 1 ? StrCat(base, ".", j) : base);
    }
  }
  return texts;
}

inline std::string RuleKey(const Rule& rule) {
  const int num_inputs = rule.source.num_inputs();
  // Inputs of equal dims may be renamed into one another.
  std::map<std::string, std::vector<int>> classes;
  for (int i = 0; i < num_inputs; ++i) {
    std::vector<std::string> dims;
    for (const DimExpr& d : rule.source.nodes[static_cast<size_t>(i)].dims) dims.push_back(d.ToString());
    classes[StrJoin(dims, ",")].push_back(i);
  }
  std::vector<std::pair<std::string, std::vector<int>>> groups(classes.begin(), classes.end());
  std::vector<std::string> names(static_cast<size_t>(num_inputs));
  std::string best;
  bool first = true;
  auto rec = [&](auto& self, size_t g) -> void {
    if (g == groups.size()) {
      const auto src = PatternTexts(rule.source, names);
      const auto tgt = PatternTexts(rule.target, names);
      for (bool swapped : {false, true}) {
        std::vector<std::string> items;
        for (size_t k = 0; k < rule.source.outputs.size(); ++k) {
          const PatternRef s = rule.source.outputs[k].value, t = rule.target.outputs[k].value;
          const std::string& a = src[static_cast<size_t>(s.node)][static_cast<size_t>(s.index)];
          const std::string& b = tgt[static_cast<size_t>(t.node)][static_cast<size_t>(t.index)];
          items.push_back(swapped ? StrCat(b, " = ", a) : StrCat(a, " = ", b));
        }
        std::sort(items.begin(), items.end());
        std::string key = StrJoin(items, " | ");
        if (first || key < best) best = std::move(key);
        first = false;
      }
      return;
    }
    std::vector<int> members = groups[g].second;
    std::sort(members.begin(), members.end());
    do {
      for (size_t k = 0; k < members.size(); ++k) {
        names[static_cast<size_t>(members[k])] = StrCat("[", groups[g].first, "]#", k);
      }
      self(self, g + 1);
    } while (std::next_permutation(members.begin(), members.end()));
  };
  rec(rec, 0);
  return best;
}

}  // namespace lemma::generator_test

#endif  // LEMMA_TESTS_GENERATOR_RULE_KEY_H_
