#include "optimizer/redundant_rules.h"

#include <algorithm>
#include <bit>
#include <string>
#include <variant>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/hash.h"

namespace lemma {
namespace {

// The most input orders tried for one rule.
constexpr int64_t kMaxOrders = 5040;
// Marks a variable that no input dim binds (hashed by its name).
constexpr uint64_t kUnboundVariable = uint64_t{1} << 63;

// Size variables numbered by first occurrence in the inputs' dims, inputs
// taken in a given order.
// With `anonymous`, every variable gets one id (rules that differ only in
// which sizes are equal then look alike).
class VariableNames {
 public:
  VariableNames(const Pattern& source, std::span<const int> order, bool anonymous = false)
      : anonymous_(anonymous) {
    for (int k : order) {
      for (const DimExpr& d : source.nodes[static_cast<size_t>(k)].dims) {
        if (std::optional<std::string_view> v = d.AsVar()) {
          ids_.try_emplace(std::string(*v), static_cast<uint64_t>(ids_.size()));
        }
      }
    }
  }
  // Names given: variable name -> id.
  explicit VariableNames(absl::flat_hash_map<std::string, uint64_t> ids) : ids_(std::move(ids)) {}

  uint64_t Id(const std::string& name) const {
    if (anonymous_) return kUnboundVariable;
    auto it = ids_.find(name);
    return it != ids_.end() ? it->second : (HashBytes(name) | kUnboundVariable);
  }

 private:
  bool anonymous_ = false;
  absl::flat_hash_map<std::string, uint64_t> ids_;
};

uint64_t DimHash(const DimExpr& d, const VariableNames& names) {
  std::vector<uint64_t> vars;
  for (const std::string& v : d.vars()) vars.push_back(names.Id(v));
  std::sort(vars.begin(), vars.end());
  uint64_t h = HashCombine(0x64696d, static_cast<uint64_t>(d.constant()));
  for (uint64_t v : vars) h = HashCombine(h, v);
  return h;
}

uint64_t AttrHash(const PatternAttrValue& a, const VariableNames& names) {
  uint64_t h = Mix64(a.index() + 1);
  if (const DimExpr* d = std::get_if<DimExpr>(&a)) return HashCombine(h, DimHash(*d, names));
  if (const auto* list = std::get_if<std::vector<DimExpr>>(&a)) {
    h = HashCombine(h, list->size());
    for (const DimExpr& d : *list) h = HashCombine(h, DimHash(d, names));
    return h;
  }
  return HashCombine(h, std::bit_cast<uint64_t>(std::get<double>(a)));
}

// Per node and output of `p`: a hash of the expression it computes, input k
// labelled label[k].
std::vector<std::vector<uint64_t>> ExpressionHashes(const Pattern& p, std::span<const int> label,
                                                    const VariableNames& names) {
  std::vector<std::vector<uint64_t>> values(p.nodes.size());
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const PatternNode& n = p.nodes[i];
    if (n.IsInput()) {
      uint64_t h = HashCombine(0x696e707574, static_cast<uint64_t>(label[i]));
      for (const DimExpr& d : n.dims) h = HashCombine(h, DimHash(d, names));
      values[i].push_back(Mix64(h));
      continue;
    }
    uint64_t h = HashCombine(Mix64(static_cast<uint64_t>(n.op) + 1), static_cast<uint64_t>(n.num_outputs));
    for (const PatternAttrValue& a : n.attrs) h = HashCombine(h, AttrHash(a, names));
    for (const PatternRef& in : n.inputs) {
      h = HashCombine(h, values[static_cast<size_t>(in.node)][static_cast<size_t>(in.index)]);
    }
    for (int j = 0; j < n.num_outputs; ++j) {
      values[i].push_back(Mix64(HashCombine(h, static_cast<uint64_t>(j))));
    }
  }
  return values;
}

// The key of `rule` with input order[l] labelled l.
uint64_t LabelledKey(const Rule& rule, std::span<const int> order, const VariableNames& names) {
  std::vector<int> label(order.size());
  for (size_t l = 0; l < order.size(); ++l) label[static_cast<size_t>(order[l])] = static_cast<int>(l);
  const std::vector<std::vector<uint64_t>> source = ExpressionHashes(rule.source, label, names);
  const std::vector<std::vector<uint64_t>> target = ExpressionHashes(rule.target, label, names);
  std::vector<uint64_t> pairs;
  for (size_t o = 0; o < rule.source.outputs.size() && o < rule.target.outputs.size(); ++o) {
    const PatternRef s = rule.source.outputs[o].value;
    const PatternRef t = rule.target.outputs[o].value;
    pairs.push_back(Mix64(HashCombine(source[static_cast<size_t>(s.node)][static_cast<size_t>(s.index)],
                                      target[static_cast<size_t>(t.node)][static_cast<size_t>(t.index)])));
  }
  std::sort(pairs.begin(), pairs.end());
  uint64_t h = HashCombine(order.size(), rule.source.outputs.size());
  for (uint64_t p : pairs) h = HashCombine(h, p);
  return h;
}

// How input k of `rule` is shaped and used, independent of names: its dims
// (constants, or "a variable"), and the op, slot and arity of each of its
// readers on either side, and whether it is an output there.
uint64_t InputRole(const Rule& rule, int k) {
  uint64_t h = HashCombine(0x726f6c65, rule.source.nodes[static_cast<size_t>(k)].dims.size());
  for (const DimExpr& d : rule.source.nodes[static_cast<size_t>(k)].dims) {
    h = HashCombine(h, d.IsConstant() ? static_cast<uint64_t>(d.constant()) : kUnboundVariable);
  }
  std::vector<uint64_t> uses;
  for (int side = 0; side < 2; ++side) {
    const Pattern& p = side == 0 ? rule.source : rule.target;
    for (const PatternNode& n : p.nodes) {
      for (size_t j = 0; j < n.inputs.size(); ++j) {
        if (n.inputs[j].node != k) continue;
        uses.push_back(HashCombine(HashCombine(static_cast<uint64_t>(side), static_cast<uint64_t>(n.op)),
                                   HashCombine(j, n.inputs.size())));
      }
    }
    for (const PatternOutput& o : p.outputs) {
      if (o.value.node == k) uses.push_back(HashCombine(static_cast<uint64_t>(side), 0x6f7574));
    }
  }
  std::sort(uses.begin(), uses.end());
  for (uint64_t u : uses) h = HashCombine(h, u);
  return h;
}

// The least key of `rule` over the orders of its inputs used alike, and an
// order that gives it (empty: too many orders; the key is then the id's
// hash). With `anonymous`, variables are not told apart.
std::pair<uint64_t, std::vector<int>> CanonicalOrder(const Rule& rule, bool anonymous) {
  const int n = rule.source.num_inputs();
  std::vector<std::pair<uint64_t, int>> roles;
  for (int k = 0; k < n; ++k) roles.emplace_back(InputRole(rule, k), k);
  std::sort(roles.begin(), roles.end());
  // Groups of inputs used alike: [begin, end) ranges of `order`.
  std::vector<int> order;
  std::vector<std::pair<size_t, size_t>> groups;
  int64_t orders = 1;
  for (size_t i = 0; i < roles.size(); ++i) {
    order.push_back(roles[i].second);
    if (i == 0 || roles[i].first != roles[i - 1].first) {
      groups.emplace_back(i, i + 1);
    } else {
      groups.back().second = i + 1;
      orders *= static_cast<int64_t>(groups.back().second - groups.back().first);
      if (orders > kMaxOrders) return {HashBytes(rule.id), {}};
    }
  }
  // Each group starts sorted, so next_permutation visits all its orders.
  for (const auto& [begin, end] : groups) std::sort(order.begin() + begin, order.begin() + end);
  auto key = [&] { return LabelledKey(rule, order, VariableNames(rule.source, order, anonymous)); };
  uint64_t best = key();
  std::vector<int> best_order = order;
  while (true) {
    // Odometer over the groups' permutations.
    size_t g = 0;
    for (; g < groups.size(); ++g) {
      const auto [begin, end] = groups[g];
      if (std::next_permutation(order.begin() + begin, order.begin() + end)) break;
    }
    if (g == groups.size()) break;
    if (const uint64_t k = key(); k < best) {
      best = k;
      best_order = order;
    }
  }
  return {best, best_order};
}

// Whether `general`, its size variables replaced by some of `special`'s,
// is `special`: then it applies wherever `special` does and makes the same
// graph. The inputs correspond by position in the orders given (canonical
// orders of equal anonymous keys).
bool Generalizes(const Rule& general, std::span<const int> general_order, const Rule& special,
                 std::span<const int> special_order) {
  if (general_order.size() != special_order.size()) return false;
  const VariableNames special_names(special.source, special_order);
  absl::flat_hash_map<std::string, std::string> sigma;
  for (size_t l = 0; l < general_order.size(); ++l) {
    const std::vector<DimExpr>& g = general.source.nodes[static_cast<size_t>(general_order[l])].dims;
    const std::vector<DimExpr>& s = special.source.nodes[static_cast<size_t>(special_order[l])].dims;
    if (g.size() != s.size()) return false;
    for (size_t d = 0; d < g.size(); ++d) {
      const std::optional<std::string_view> gv = g[d].AsVar();
      if (!gv.has_value()) {
        if (!(g[d] == s[d])) return false;
        continue;
      }
      const std::optional<std::string_view> sv = s[d].AsVar();
      if (!sv.has_value()) return false;
      auto [it, added] = sigma.try_emplace(std::string(*gv), std::string(*sv));
      if (!added && it->second != *sv) return false;
    }
  }
  absl::flat_hash_map<std::string, uint64_t> ids;
  for (const auto& [from, to] : sigma) ids[from] = special_names.Id(to);
  return LabelledKey(general, general_order, VariableNames(std::move(ids))) ==
         LabelledKey(special, special_order, special_names);
}

}  // namespace

uint64_t RuleRenamingKey(const Rule& rule) { return CanonicalOrder(rule, false).first; }

Flags RedundantRules(const RuleSet& rules, std::span<const uint8_t> enabled) {
  const size_t n = static_cast<size_t>(rules.size());
  Flags redundant(n, 0);
  // Repeats up to renaming: all but the first of each key.
  absl::flat_hash_set<uint64_t> seen;
  std::vector<size_t> kept;
  for (size_t i = 0; i < n; ++i) {
    if (!enabled.empty() && !enabled[i]) continue;
    if (!seen.insert(RuleRenamingKey(rules.rules()[i])).second) {
      redundant[i] = 1;
    } else {
      kept.push_back(i);
    }
  }
  // Special cases: a kept rule that a more general kept rule becomes when
  // some of its sizes are made equal.
  absl::flat_hash_map<uint64_t, std::vector<size_t>> alike;
  std::vector<std::vector<int>> orders(n);
  for (size_t i : kept) {
    auto [key, order] = CanonicalOrder(rules.rules()[i], true);
    if (order.empty() && rules.rules()[i].source.num_inputs() > 0) continue;
    orders[i] = std::move(order);
    alike[key].push_back(i);
  }
  for (size_t i : kept) {
    auto it = alike.find(CanonicalOrder(rules.rules()[i], true).first);
    if (it == alike.end()) continue;
    for (size_t j : it->second) {
      if (j == i || orders[i].size() != orders[j].size()) continue;
      if (Generalizes(rules.rules()[j], orders[j], rules.rules()[i], orders[i])) {
        redundant[i] = 1;
        break;
      }
    }
  }
  return redundant;
}

}  // namespace lemma
