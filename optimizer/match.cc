#include "optimizer/match.h"

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/container/flat_hash_map.h"
#include "ir/strings.h"
#include "ir/text_format.h"

namespace lemma {
namespace {

// A consumer of a pattern node's output: pattern node `node` reads it at
// input slot `slot`.
struct PatternUse {
  int node;
  int slot;
};

// One backtracking search for the matches of a rule rooted at one node.
class Attempt {
 public:
  // With `explain`, failure() says why the furthest attempt failed;
  // otherwise no reasons are written (the search matches far more often
  // than it explains).
  Attempt(const Matcher& matcher, const Rule& rule, int rule_index, std::vector<Match>* out,
          bool explain)
      : m_(matcher),
        g_(matcher.graph()),
        rule_(rule),
        p_(rule.source),
        rule_index_(rule_index),
        num_inputs_(p_.num_inputs()),
        node_of_(p_.nodes.size(), -1),
        swapped_(p_.nodes.size(), 0),
        input_of_(static_cast<size_t>(num_inputs_)),
        uses_(p_.nodes.size()),
        out_(out),
        explain_(explain) {
    for (size_t i = 0; i < p_.nodes.size(); ++i) {
      const std::vector<PatternRef>& ins = p_.nodes[i].inputs;
      for (size_t j = 0; j < ins.size(); ++j) {
        uses_[static_cast<size_t>(ins[j].node)].push_back(
            {static_cast<int>(i), static_cast<int>(j)});
      }
    }
  }

  // Finds the matches rooted at `root`. Every run leaves the attempt as it
  // found it, so one attempt serves every root.
  void Run(NodeId root) {
    failure_ = MatchFailure{};
    const int root_pattern = p_.outputs[0].value.node;
    const OpKind want = p_.nodes[static_cast<size_t>(root_pattern)].op;
    if (g_.node(root).op != want) {
      Fail([&] { return StrCat("the pattern's root is ", OpName(want), " but ", g_.Describe(root), " is ",
                  OpName(g_.node(root).op)); });
      return;
    }
    TryNode(root_pattern, root);
  }

  const MatchFailure& failure() const { return failure_; }

 private:
  // Graph input slot read for pattern slot `slot` of pattern node `pn`.
  int GraphSlot(int pn, int slot) const {
    return swapped_[static_cast<size_t>(pn)] ? 1 - slot : slot;
  }

  // Records why the attempt failed, when asked to explain (`reason` gives
  // the message; it is only called then).
  template <typename Reason>
  void Fail(const Reason& reason) {
    if (explain_ && mapped_ > failure_.matched_ops) {
      failure_.matched_ops = mapped_;
      failure_.reason = reason();
    }
  }

  std::string PatternNodeName(int pn) const {
    return StrCat("pattern node %", pn - num_inputs_, " (",
                  OpName(p_.nodes[static_cast<size_t>(pn)].op), ")");
  }

  // Tries pattern node `pn` at graph node `g` in each input order.
  void TryNode(int pn, NodeId g) {
    const PatternNode& node = p_.nodes[static_cast<size_t>(pn)];
    const bool commutative =
        GetOpInfo(node.op).Has(kTraitCommutative) && node.inputs.size() == 2;
    for (int swap = 0; swap < (commutative ? 2 : 1); ++swap) {
      const size_t mark = bound_.size();
      if (Assign(pn, g, swap != 0, bound_)) {
        ++mapped_;
        Search();
        --mapped_;
      }
      Unassign(pn, mark);
    }
  }

  // Maps pattern node `pn` to graph node `g`; on failure records why. Inputs
  // newly bound are appended to `bound` (undone by Unassign either way).
  bool Assign(int pn, NodeId g, bool swap, std::vector<int>& bound) {
    const PatternNode& node = p_.nodes[static_cast<size_t>(pn)];
    const Node& gn = g_.node(g);
    if (gn.op != node.op) {
      Fail([&] { return StrCat(PatternNodeName(pn), " met ", g_.Describe(g)); });
      return false;
    }
    if (std::find(used_.begin(), used_.end(), g) != used_.end()) {
      Fail([&] { return StrCat(PatternNodeName(pn), " would match ", g_.Describe(g), ", already matched"); });
      return false;
    }
    if (gn.inputs.size() != node.inputs.size() ||
        static_cast<int>(gn.outputs.size()) != node.num_outputs) {
      Fail([&] { return StrCat(PatternNodeName(pn), " has ", node.inputs.size(), " inputs and ",
                  node.num_outputs, " outputs, ", g_.Describe(g), " has ", gn.inputs.size(),
                  " and ", gn.outputs.size()); });
      return false;
    }
    node_of_[static_cast<size_t>(pn)] = g;
    swapped_[static_cast<size_t>(pn)] = swap ? 1 : 0;
    used_.push_back(g);
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      const PatternRef ref = node.inputs[j];
      const ValueId gv = gn.inputs[static_cast<size_t>(GraphSlot(pn, static_cast<int>(j)))];
      if (ref.node < num_inputs_) {
        ValueId& slot = input_of_[static_cast<size_t>(ref.node)];
        if (!slot.valid()) {
          slot = gv;
          bound.push_back(ref.node);
        } else if (slot != gv) {
          Fail([&] { return StrCat("input ", p_.nodes[static_cast<size_t>(ref.node)].name, " is ",
                      g_.ValueLabel(slot), " but ", PatternNodeName(pn), " reads ",
                      g_.ValueLabel(gv), " there"); });
          return false;
        }
      } else if (const NodeId producer = node_of_[static_cast<size_t>(ref.node)]; producer >= 0) {
        if (gv != ValueId{producer, ref.index}) {
          Fail([&] { return StrCat(PatternNodeName(pn), " reads ", g_.ValueLabel(gv), " where the pattern has ",
                      PatternNodeName(ref.node), " output ", ref.index); });
          return false;
        }
      }
    }
    // Consumers matched before must read this node's outputs where the pattern says.
    for (const PatternUse& use : uses_[static_cast<size_t>(pn)]) {
      const NodeId consumer = node_of_[static_cast<size_t>(use.node)];
      if (consumer < 0 || use.node == pn) continue;
      const PatternRef ref = p_.nodes[static_cast<size_t>(use.node)].inputs[static_cast<size_t>(use.slot)];
      const ValueId gv =
          g_.node(consumer).inputs[static_cast<size_t>(GraphSlot(use.node, use.slot))];
      if (gv != ValueId{g, ref.index}) {
        Fail([&] { return StrCat(PatternNodeName(use.node), " does not read ", PatternNodeName(pn),
                    " output ", ref.index, " from ", g_.Describe(g)); });
        return false;
      }
    }
    return true;
  }

  // Undoes Assign, unbinding the inputs bound_ got past `mark`.
  void Unassign(int pn, size_t mark) {
    for (size_t i = mark; i < bound_.size(); ++i) input_of_[static_cast<size_t>(bound_[i])] = ValueId{};
    bound_.resize(mark);
    if (node_of_[static_cast<size_t>(pn)] >= 0) {
      used_.erase(std::find(used_.begin(), used_.end(), node_of_[static_cast<size_t>(pn)]));
    }
    node_of_[static_cast<size_t>(pn)] = -1;
    swapped_[static_cast<size_t>(pn)] = 0;
  }

  // The value a matched node or bound input gives pattern ref `ref`, if any.
  ValueId Resolved(PatternRef ref) const {
    if (ref.node < num_inputs_) return input_of_[static_cast<size_t>(ref.node)];
    const NodeId g = node_of_[static_cast<size_t>(ref.node)];
    return g >= 0 ? ValueId{g, ref.index} : ValueId{};
  }

  void Search() {
    if (mapped_ == p_.num_ops()) {
      Finish();
      return;
    }
    // 1. A node whose output a matched consumer reads: one candidate.
    for (size_t q = static_cast<size_t>(num_inputs_); q < p_.nodes.size(); ++q) {
      if (node_of_[q] >= 0) continue;
      for (const PatternUse& use : uses_[q]) {
        const NodeId consumer = node_of_[static_cast<size_t>(use.node)];
        if (consumer < 0) continue;
        const ValueId gv =
            g_.node(consumer).inputs[static_cast<size_t>(GraphSlot(use.node, use.slot))];
        TryNode(static_cast<int>(q), gv.node);
        return;
      }
    }
    // 2. A node reading a value already known: the users of that value.
    for (size_t q = static_cast<size_t>(num_inputs_); q < p_.nodes.size(); ++q) {
      if (node_of_[q] >= 0) continue;
      for (const PatternRef& ref : p_.nodes[q].inputs) {
        const ValueId v = Resolved(ref);
        if (!v.valid()) continue;
        const OpKind op = p_.nodes[q].op;
        bool any = false;
        for (NodeId u : m_.Users(v.node)) {
          if (g_.node(u).op != op) continue;
          const std::vector<ValueId>& ins = g_.node(u).inputs;
          if (std::find(ins.begin(), ins.end(), v) == ins.end()) continue;
          any = true;
          TryNode(static_cast<int>(q), u);
        }
        if (!any) {
          Fail([&] { return StrCat("no ", OpName(op), " reads ", g_.ValueLabel(v), " for ",
                      PatternNodeName(static_cast<int>(q))); });
        }
        return;
      }
    }
    // 3. A part connected to nothing matched: every node of the op.
    for (size_t q = static_cast<size_t>(num_inputs_); q < p_.nodes.size(); ++q) {
      if (node_of_[q] >= 0) continue;
      for (NodeId g = 0; g < g_.num_nodes(); ++g) {
        if (g_.node(g).op == p_.nodes[q].op) TryNode(static_cast<int>(q), g);
      }
      return;
    }
  }

  // Whether the sizes and attributes of the structural match in hand surely
  // do not bind: a constant differs, or a variable meets two values. Far
  // cheaper than BindPattern, which writes out the reason of each failure.
  bool SurelyUnbound() {
    vars_.clear();
    auto dim = [&](const DimExpr& e, int64_t actual) {
      if (e.IsConstant()) return e.constant() == actual;
      const std::optional<std::string_view> var = e.AsVar();
      if (!var) return true;  // an expression: left to BindPattern
      for (const auto& [name, value] : vars_) {
        if (name == *var) return value == actual;
      }
      vars_.emplace_back(*var, actual);
      return true;
    };
    for (int k = 0; k < num_inputs_; ++k) {
      const std::vector<DimExpr>& dims = p_.nodes[static_cast<size_t>(k)].dims;
      const TensorType& type = g_.type(input_of_[static_cast<size_t>(k)]);
      if (type.dims.size() != dims.size()) return true;
      for (size_t d = 0; d < dims.size(); ++d) {
        if (!dim(dims[d], type.dims[d])) return true;
      }
    }
    for (size_t i = static_cast<size_t>(num_inputs_); i < p_.nodes.size(); ++i) {
      const PatternNode& node = p_.nodes[i];
      const Attributes& attrs = g_.node(node_of_[i]).attrs;
      for (size_t a = 0; a < node.attrs.size() && a < attrs.values().size(); ++a) {
        const std::optional<AttrValue>& actual = attrs.values()[a];
        if (!actual || IsPatternDTypeAttr(attrs.schema()[a])) continue;
        if (const auto* e = std::get_if<DimExpr>(&node.attrs[a])) {
          const auto* v = std::get_if<int64_t>(&*actual);
          if (v == nullptr || !dim(*e, *v)) return true;
        } else if (const auto* list = std::get_if<std::vector<DimExpr>>(&node.attrs[a])) {
          const auto* v = std::get_if<std::vector<int64_t>>(&*actual);
          if (v == nullptr || v->size() != list->size()) return true;
          for (size_t j = 0; j < list->size(); ++j) {
            if (!dim((*list)[j], (*v)[j])) return true;
          }
        }
      }
    }
    return false;
  }

  void Finish() {
    if (!explain_ && (SurelyUnbound() || !CheckOutsideUses() || !CheckConvex())) return;
    std::vector<TensorType> types;
    for (const ValueId& v : input_of_) types.push_back(g_.type(v));
    std::vector<const Attributes*> attrs(p_.nodes.size(), nullptr);
    for (size_t i = static_cast<size_t>(num_inputs_); i < p_.nodes.size(); ++i) {
      attrs[i] = &g_.node(node_of_[i]).attrs;
    }
    absl::StatusOr<Bindings> bindings = BindPattern(p_, types, attrs);
    if (!bindings.ok()) {
      Fail([&] { return std::string(ToStd(bindings.status().message())); });
      return;
    }
    if (explain_ && (!CheckOutsideUses() || !CheckConvex())) return;
    out_->push_back(Match{rule_index_, node_of_, input_of_, *std::move(bindings)});
  }

  bool IsMatched(NodeId g) const { return std::find(used_.begin(), used_.end(), g) != used_.end(); }

  // Values computed inside the match may be used outside only as pattern outputs.
  bool CheckOutsideUses() {
    for (size_t q = static_cast<size_t>(num_inputs_); q < p_.nodes.size(); ++q) {
      const NodeId g = node_of_[q];
      for (int k = 0; k < static_cast<int>(g_.node(g).outputs.size()); ++k) {
        const ValueId v{g, k};
        bool is_output = false;
        for (const PatternOutput& o : p_.outputs) {
          is_output = is_output || (o.value.node == static_cast<int>(q) && o.value.index == k);
        }
        if (is_output) continue;
        for (NodeId u : m_.Users(g)) {
          if (IsMatched(u)) continue;
          const std::vector<ValueId>& ins = g_.node(u).inputs;
          if (std::find(ins.begin(), ins.end(), v) != ins.end()) {
            Fail([&] { return StrCat(g_.ValueLabel(v), " (", PatternNodeName(static_cast<int>(q)),
                        ") is used outside the match by ", g_.Describe(u)); });
            return false;
          }
        }
        for (const GraphOutput& o : g_.outputs()) {
          if (o.value == v) {
            Fail([&] { return StrCat(g_.ValueLabel(v), " (", PatternNodeName(static_cast<int>(q)),
                        ") is the graph output '", o.name, "', which the pattern does not output"); });
            return false;
          }
        }
      }
    }
    return true;
  }

  // No pattern input may be computed from a matched node.
  bool CheckConvex() {
    int lowest = m_.TopoPosition(used_[0]);
    for (NodeId g : used_) lowest = std::min(lowest, m_.TopoPosition(g));
    std::vector<NodeId> stack;
    std::vector<NodeId> seen;
    for (int k = 0; k < num_inputs_; ++k) {
      const ValueId v = input_of_[static_cast<size_t>(k)];
      stack.assign(1, v.node);
      while (!stack.empty()) {
        const NodeId n = stack.back();
        stack.pop_back();
        if (m_.TopoPosition(n) < lowest) continue;
        if (std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
        seen.push_back(n);
        if (IsMatched(n)) {
          Fail([&] { return StrCat("input ", p_.nodes[static_cast<size_t>(k)].name, " = ", g_.ValueLabel(v),
                      " is computed from the match itself"); });
          return false;
        }
        for (ValueId in : g_.node(n).inputs) stack.push_back(in.node);
      }
    }
    return true;
  }

  const Matcher& m_;
  const Graph& g_;
  const Rule& rule_;
  const Pattern& p_;
  const int rule_index_;
  const int num_inputs_;
  std::vector<NodeId> node_of_;
  std::vector<uint8_t> swapped_;
  std::vector<ValueId> input_of_;
  std::vector<std::vector<PatternUse>> uses_;
  std::vector<NodeId> used_;
  // Pattern inputs bound by the nodes assigned so far, in order.
  std::vector<int> bound_;
  // SurelyUnbound's variables and their values.
  std::vector<std::pair<std::string_view, int64_t>> vars_;
  int mapped_ = 0;
  std::vector<Match>* out_;
  const bool explain_;
  MatchFailure failure_;
};

}  // namespace

std::vector<ValueId> Match::OutputValues(const Rule& rule) const {
  std::vector<ValueId> out;
  for (const PatternOutput& o : rule.source.outputs) {
    out.push_back(ValueId{nodes[static_cast<size_t>(o.value.node)], o.value.index});
  }
  return out;
}

Matcher::Matcher(const Graph& graph) : graph_(graph) {
  const size_t n = static_cast<size_t>(graph.num_nodes());
  std::vector<std::vector<NodeId>> users(n);
  for (NodeId id = 0; id < graph.num_nodes(); ++id) {
    for (ValueId in : graph.node(id).inputs) {
      std::vector<NodeId>& u = users[static_cast<size_t>(in.node)];
      if (u.empty() || u.back() != id) u.push_back(id);
    }
  }
  user_begin_.reserve(n + 1);
  for (const std::vector<NodeId>& u : users) {
    user_begin_.push_back(static_cast<int>(users_.size()));
    users_.insert(users_.end(), u.begin(), u.end());
  }
  user_begin_.push_back(static_cast<int>(users_.size()));
  topo_pos_.assign(n, 0);
  const std::vector<NodeId> order = graph.TopologicalOrder();
  for (size_t i = 0; i < order.size(); ++i) topo_pos_[static_cast<size_t>(order[i])] = static_cast<int>(i);
}

std::span<const NodeId> Matcher::Users(NodeId node) const {
  const size_t i = static_cast<size_t>(node);
  return std::span<const NodeId>(users_).subspan(
      static_cast<size_t>(user_begin_[i]), static_cast<size_t>(user_begin_[i + 1] - user_begin_[i]));
}

std::vector<Match> Matcher::MatchAt(const Rule& rule, int rule_index, NodeId root,
                                    MatchFailure* failure) const {
  std::vector<Match> matches;
  Attempt attempt(*this, rule, rule_index, &matches, failure != nullptr);
  attempt.Run(root);
  if (matches.empty() && failure != nullptr) *failure = attempt.failure();
  return matches;
}

std::vector<Match> Matcher::FindAll(const RuleSet& rules, std::span<const uint8_t> enabled) const {
  return FindAllRooted(rules, enabled, 0, graph_.num_nodes());
}

std::vector<Match> Matcher::FindAllRooted(const RuleSet& rules, std::span<const uint8_t> enabled,
                                          NodeId begin, NodeId end) const {
  return FindAllRooted(RuleIndex(rules, enabled), begin, end);
}

bool Matcher::PassesFilter(const RuleIndex& index, const RuleIndex::Filter& f, const Node& node,
                           bool swap) const {
  auto slot = [&](int j) { return static_cast<size_t>(swap ? 1 - j : j); };
  for (int j = 1; j < std::min(f.arity, RuleIndex::kSlots); ++j) {
    if (f.same_as[j] >= 0 && node.inputs[slot(f.same_as[j])] != node.inputs[slot(j)]) return false;
  }
  for (int c = f.begin; c < f.end; ++c) {
    const RuleIndex::Check& check = index.checks_[static_cast<size_t>(c)];
    const Node* n = &node;
    ValueId v;
    for (int d = 0; d < check.depth; ++d) {
      v = n->inputs[d == 0 ? slot(check.path[0]) : static_cast<size_t>(check.path[d])];
      n = &graph_.node(v.node);
    }
    if (n->op != check.op || v.index != check.index ||
        static_cast<int>(n->inputs.size()) != check.arity ||
        static_cast<int>(n->outputs.size()) != check.outputs) {
      return false;
    }
  }
  return true;
}

std::vector<Match> Matcher::FindAllRooted(const RuleIndex& index, NodeId begin, NodeId end) const {
  const RuleSet& rules = index.rules();
  std::vector<Match> all;
  std::vector<std::unique_ptr<Attempt>> attempts(static_cast<size_t>(rules.size()));
  // Per filter: the node it was last tested at, and whether it passed there.
  std::vector<NodeId> tested_at(index.filters_.size(), -1);
  std::vector<uint8_t> passed(index.filters_.size(), 0);
  for (NodeId id = begin; id < end; ++id) {
    const Node& node = graph_.node(id);
    for (const RuleIndex::Entry& e : index.by_op_[static_cast<size_t>(node.op)]) {
      const size_t fi = static_cast<size_t>(e.filter);
      if (tested_at[fi] != id) {
        const RuleIndex::Filter& f = index.filters_[fi];
        tested_at[fi] = id;
        passed[fi] = static_cast<int>(node.inputs.size()) == f.arity &&
                     static_cast<int>(node.outputs.size()) == f.outputs &&
                     (PassesFilter(index, f, node, false) ||
                      (f.commutative && PassesFilter(index, f, node, true)));
      }
      if (!passed[fi]) continue;
      std::unique_ptr<Attempt>& attempt = attempts[static_cast<size_t>(e.rule)];
      if (attempt == nullptr) {
        attempt = std::make_unique<Attempt>(*this, rules.rules()[static_cast<size_t>(e.rule)],
                                            e.rule, &all, false);
      }
      attempt->Run(id);
    }
  }
  return all;
}

void RuleIndex::AddChecks(const Pattern& p, int pn, std::vector<int8_t>& path) {
  const PatternNode& node = p.nodes[static_cast<size_t>(pn)];
  for (size_t j = 0; j < node.inputs.size() && j < 128; ++j) {
    const PatternRef ref = node.inputs[j];
    const PatternNode& producer = p.nodes[static_cast<size_t>(ref.node)];
    if (producer.IsInput()) continue;
    path.push_back(static_cast<int8_t>(j));
    Check c;
    std::copy(path.begin(), path.end(), c.path);
    c.depth = static_cast<int8_t>(path.size());
    c.op = producer.op;
    c.index = ref.index;
    c.arity = static_cast<int>(producer.inputs.size());
    c.outputs = producer.num_outputs;
    checks_.push_back(c);
    // Below a commutative op the pattern's slots may be the graph's swapped.
    const bool commutative = GetOpInfo(producer.op).Has(kTraitCommutative);
    if (path.size() < static_cast<size_t>(kDepth) && !commutative) AddChecks(p, ref.node, path);
    path.pop_back();
  }
}

RuleIndex::RuleIndex(const RuleSet& rules, std::span<const uint8_t> enabled) : rules_(rules) {
  by_op_.resize(kNumOpKinds);
  std::vector<int8_t> path;
  // Filters by what they check, to share them.
  absl::flat_hash_map<std::vector<int>, int> ids;
  std::vector<int> key;
  for (size_t op = 0; op < static_cast<size_t>(kNumOpKinds); ++op) {
    for (int r : rules.RootedAt(static_cast<OpKind>(op))) {
      if (!enabled.empty() && !enabled[static_cast<size_t>(r)]) continue;
      const Pattern& p = rules.rules()[static_cast<size_t>(r)].source;
      const int root_pn = p.outputs[0].value.node;
      const PatternNode& root = p.nodes[static_cast<size_t>(root_pn)];
      Filter f;
      f.arity = static_cast<int>(root.inputs.size());
      f.outputs = root.num_outputs;
      f.commutative = GetOpInfo(root.op).Has(kTraitCommutative) && root.inputs.size() == 2;
      for (int j = 0; j < std::min(f.arity, kSlots); ++j) {
        f.same_as[j] = -1;
        for (int k = 0; k < j && f.same_as[j] < 0; ++k) {
          if (root.inputs[static_cast<size_t>(k)] == root.inputs[static_cast<size_t>(j)]) f.same_as[j] = k;
        }
      }
      f.begin = static_cast<int>(checks_.size());
      AddChecks(p, root_pn, path);
      f.end = static_cast<int>(checks_.size());
      key.assign({static_cast<int>(op), f.arity, f.outputs, f.commutative ? 1 : 0});
      key.insert(key.end(), f.same_as, f.same_as + kSlots);
      for (int c = f.begin; c < f.end; ++c) {
        const Check& check = checks_[static_cast<size_t>(c)];
        key.insert(key.end(), check.path, check.path + kDepth);
        key.insert(key.end(), {check.depth, static_cast<int>(check.op), check.index, check.arity,
                               check.outputs});
      }
      auto [it, added] = ids.try_emplace(key, static_cast<int>(filters_.size()));
      if (added) {
        filters_.push_back(f);
      } else {
        checks_.resize(static_cast<size_t>(f.begin));
      }
      by_op_[op].push_back(Entry{r, it->second});
    }
  }
}

absl::StatusOr<Bindings> BindMatch(const Graph& graph, const Rule& rule,
                                   std::span<const NodeId> nodes, std::span<const ValueId> inputs) {
  const Pattern& p = rule.source;
  if (nodes.size() != p.nodes.size() || static_cast<int>(inputs.size()) != p.num_inputs()) {
    return absl::InvalidArgumentError(StrCat("rule ", rule.id, ": the match does not fit the pattern"));
  }
  std::vector<TensorType> types;
  for (ValueId v : inputs) {
    if (!graph.IsValue(v)) return absl::InvalidArgumentError("the match refers to no value");
    types.push_back(graph.type(v));
  }
  std::vector<const Attributes*> attrs(p.nodes.size(), nullptr);
  for (size_t i = static_cast<size_t>(p.num_inputs()); i < p.nodes.size(); ++i) {
    if (nodes[i] < 0 || nodes[i] >= graph.num_nodes()) {
      return absl::InvalidArgumentError("the match refers to no node");
    }
    attrs[i] = &graph.node(nodes[i]).attrs;
  }
  return BindPattern(p, types, attrs);
}

std::string DescribeMatch(const Graph& graph, const Rule& rule, const Match& match) {
  return DescribeMatch(graph, PrintedValueLabels(graph), rule, match);
}

std::string DescribeMatch(const Graph& graph, std::span<const std::vector<std::string>> labels,
                          const Rule& rule, const Match& match) {
  std::vector<std::string> parts;
  std::vector<NodeId> seen;
  for (ValueId v : match.OutputValues(rule)) {
    if (std::find(seen.begin(), seen.end(), v.node) != seen.end()) continue;
    seen.push_back(v.node);
    const Node& n = graph.node(v.node);
    std::vector<std::string> args;
    for (ValueId in : n.inputs) {
      const size_t node = static_cast<size_t>(in.node), index = static_cast<size_t>(in.index);
      args.push_back(node < labels.size() && index < labels[node].size() ? labels[node][index]
                                                                         : graph.ValueLabel(in));
    }
    parts.push_back(StrCat(OpName(n.op), "(", StrJoin(args, ", "), ")"));
  }
  return StrJoin(parts, " + ");
}

}  // namespace lemma
