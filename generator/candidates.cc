#include "generator/candidates.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "generator/parallel.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "kernels/compare.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma {
namespace {

// ---------------------------------------------------------------- analysis

// Universe tensors grouped by symbolic shape: renaming swaps tensors of one
// class.
struct Classes {
  std::vector<int> of;
  std::vector<std::vector<int>> members;
};

Classes MakeClasses(const Universe& u) {
  Classes c;
  std::vector<const SymShape*> shapes;
  for (const UniverseTensor& t : u.tensors) {
    size_t k = 0;
    while (k < shapes.size() && !(*shapes[k] == t.shape)) ++k;
    if (k == shapes.size()) {
      shapes.push_back(&t.shape);
      c.members.emplace_back();
    }
    c.of.push_back(static_cast<int>(k));
    c.members[k].push_back(static_cast<int>(c.of.size()) - 1);
  }
  return c;
}

// One graph, replayed.
struct Side {
  DecodedGraph graph;
  ReplayedGraph replayed;
};

// A candidate, replayed, with its outputs paired up.
struct Analysis {
  Side a, b;
  std::vector<std::pair<int, int>> outs;  // (sink of a, sink of b), in a's sink order
  std::vector<int> used;                  // universe tensors either side reads, sorted
};

int NumUniverse(const SearchSpace& space) { return static_cast<int>(space.universe().tensors.size()); }

absl::StatusOr<Analysis> Analyse(EnumerationWorker& worker, const SearchSpace& space,
                                 GraphCode a, GraphCode b) {
  Analysis an;
  an.a.graph = DecodeGraph(a, space);
  an.b.graph = DecodeGraph(b, space);
  absl::StatusOr<ReplayedGraph> ra = worker.Replay(an.a.graph);
  if (!ra.ok()) return ra.status();
  absl::StatusOr<ReplayedGraph> rb = worker.Replay(an.b.graph);
  if (!rb.ok()) return rb.status();
  an.a.replayed = std::move(*ra);
  an.b.replayed = std::move(*rb);
  const ReplayedGraph& x = an.a.replayed;
  const ReplayedGraph& y = an.b.replayed;
  if (x.sinks.size() != y.sinks.size()) return absl::NotFoundError("the outputs differ in number");
  std::vector<bool> taken(y.sinks.size(), false);
  for (size_t i = 0; i < x.sinks.size(); ++i) {
    size_t j = 0;
    while (j < y.sinks.size() && (taken[j] || y.sink_hashes[j] != x.sink_hashes[i])) ++j;
    if (j == y.sinks.size()) return absl::NotFoundError("the outputs do not pair up");
    taken[j] = true;
    an.outs.emplace_back(x.sinks[i], y.sinks[j]);
  }
  const int num_universe = NumUniverse(space);
  std::set<int> used;
  for (const Side* s : {&an.a, &an.b}) {
    if (s->graph.identity >= 0) used.insert(s->graph.identity);
    for (const GraphOp& op : s->graph.ops) {
      const int arity = space.templates()[static_cast<size_t>(op.tmpl)].arity;
      for (int k = 0; k < arity; ++k) {
        if (op.in[static_cast<size_t>(k)] < num_universe) used.insert(op.in[static_cast<size_t>(k)]);
      }
    }
  }
  an.used.assign(used.begin(), used.end());
  return an;
}

// The text of every tensor of a side: universe tensors by `names`, op
// outputs as template(args); a text found in `subst` is replaced.
using Subst = absl::flat_hash_map<std::string, std::string>;

std::vector<std::string> Expressions(const SearchSpace& space, const Side& s,
                                     std::span<const std::string> names,
                                     const Subst* subst = nullptr) {
  // The substitution replaces values by their text before substitution.
  const std::vector<std::string> original =
      subst != nullptr ? Expressions(space, s, names) : std::vector<std::string>();
  const ReplayedGraph& r = s.replayed;
  std::vector<std::string> e(r.shapes.size());
  const size_t num_universe = names.size();
  for (size_t u = 0; u < num_universe && u < e.size(); ++u) e[u] = names[u];
  const size_t n = s.graph.ops.size();
  for (size_t i = 0; i < n; ++i) {
    const GraphOp& op = s.graph.ops[i];
    const OpTemplate& t = space.templates()[static_cast<size_t>(op.tmpl)];
    // Commutative ops list their arguments sorted: the enumeration orders
    // them by key, which renaming changes.
    std::vector<std::string_view> args;
    for (int k = 0; k < t.arity; ++k) args.push_back(e[static_cast<size_t>(op.in[static_cast<size_t>(k)])]);
    if (t.commutative) std::sort(args.begin(), args.end());
    std::string base = StrCat(t.name, "(", StrJoin(args, ","), ")");
    if (op.choice != 0) StrAppend(&base, "/", op.choice);
    const size_t first = static_cast<size_t>(r.first_output[i]);
    const size_t end = i + 1 < n ? static_cast<size_t>(r.first_output[i + 1]) : r.shapes.size();
    for (size_t slot = first; slot < end; ++slot) {
      e[slot] = end - first > 1 ? StrCat(base, ".", slot - first) : base;
      if (subst != nullptr) {
        auto it = subst->find(original[slot]);
        if (it != subst->end()) e[slot] = it->second;
      }
    }
  }
  return e;
}

uint64_t KeyOfTexts(std::vector<std::string> texts) {
  std::sort(texts.begin(), texts.end());
  return HashBytes(StrJoin(texts, "\n"));
}

// The exact key of a side: its outputs' texts, order forgotten.
uint64_t GraphKey(const Side& s, const std::vector<std::string>& e) {
  std::vector<std::string> texts;
  for (int sink : s.replayed.sinks) texts.push_back(e[static_cast<size_t>(sink)]);
  return KeyOfTexts(std::move(texts));
}

// "a=b|c=d": the pairs of outputs of the two sides.
std::string PairText(const std::vector<std::pair<int, int>>& outs, const std::vector<std::string>& ea,
                     const std::vector<std::string>& eb, bool swapped) {
  std::vector<std::string> items;
  for (const auto& [sa, sb] : outs) {
    items.push_back(swapped ? StrCat(eb[static_cast<size_t>(sb)], "=", ea[static_cast<size_t>(sa)])
                            : StrCat(ea[static_cast<size_t>(sa)], "=", eb[static_cast<size_t>(sb)]));
  }
  std::sort(items.begin(), items.end());
  return StrJoin(items, "|");
}

// Calls f(names, targets) for every renaming of the used tensors: each onto
// a distinct tensor of its class, among the first `used in class` tensors of
// the class (all_targets false) or among all of them. names[u] is the new
// name of tensor u ("" when unused); targets[u] the tensor it becomes.
template <typename F>
void ForEachRenaming(const Universe& universe, const Classes& classes, const std::vector<int>& used,
                     bool all_targets, F f) {
  const size_t num_universe = universe.tensors.size();
  std::vector<std::string> names(num_universe);
  std::vector<int> targets(num_universe, -1);
  std::vector<int> used_in_class(classes.members.size(), 0);
  for (int u : used) ++used_in_class[static_cast<size_t>(classes.of[static_cast<size_t>(u)])];
  std::vector<bool> taken(num_universe, false);
  auto rec = [&](auto& self, size_t i) -> void {
    if (i == used.size()) {
      f(names, targets);
      return;
    }
    const int u = used[i];
    const int c = classes.of[static_cast<size_t>(u)];
    const std::vector<int>& members = classes.members[static_cast<size_t>(c)];
    const size_t limit = all_targets ? members.size()
                                     : static_cast<size_t>(used_in_class[static_cast<size_t>(c)]);
    for (size_t m = 0; m < limit; ++m) {
      const int t = members[m];
      if (taken[static_cast<size_t>(t)]) continue;
      taken[static_cast<size_t>(t)] = true;
      names[static_cast<size_t>(u)] = universe.tensors[static_cast<size_t>(t)].name;
      targets[static_cast<size_t>(u)] = t;
      self(self, i + 1);
      taken[static_cast<size_t>(t)] = false;
    }
    names[static_cast<size_t>(u)].clear();
    targets[static_cast<size_t>(u)] = -1;
  };
  rec(rec, 0);
}

// The renaming that writes a candidate smallest, and that text.
struct Canonical {
  std::string text;
  bool swapped = false;  // the smallest text has b's side first
  std::vector<std::string> names;
  std::vector<int> targets;
};

Canonical Canonicalize(const SearchSpace& space, const Classes& classes, const Analysis& an) {
  Canonical best;
  bool first = true;
  ForEachRenaming(space.universe(), classes, an.used, false,
                  [&](const std::vector<std::string>& names, const std::vector<int>& targets) {
                    const std::vector<std::string> ea = Expressions(space, an.a, names);
                    const std::vector<std::string> eb = Expressions(space, an.b, names);
                    for (bool swapped : {false, true}) {
                      std::string text = PairText(an.outs, ea, eb, swapped);
                      if (first || text < best.text) {
                        best = Canonical{std::move(text), swapped, names, targets};
                        first = false;
                      }
                    }
                  });
  return best;
}

std::vector<std::string> UniverseNames(const SearchSpace& space) {
  std::vector<std::string> names;
  for (const UniverseTensor& t : space.universe().tensors) names.push_back(t.name);
  return names;
}

using KeyPair = std::pair<uint64_t, uint64_t>;

// Index of the op of `side` that produces tensor `slot`.
int ProducerOf(const Side& side, int slot) {
  const std::vector<int>& first = side.replayed.first_output;
  int i = static_cast<int>(first.size()) - 1;
  while (i >= 0 && first[static_cast<size_t>(i)] > slot) --i;
  return i;
}


// The candidate with shared computations taken out: shared outputs dropped
// (first reduction), and then every other shared value that something
// unshared reads made a fresh input of its shape (second reduction, when a
// fresh tensor is left). Empty when nothing is shared.
std::vector<KeyPair> CommonSubgraphReductions(const SearchSpace& space, const Classes& classes,
                                               const Analysis& an,
                                               const std::vector<std::string>& ea,
                                               const std::vector<std::string>& eb) {
  const size_t num_universe = static_cast<size_t>(NumUniverse(space));
  absl::flat_hash_set<std::string> in_a;
  for (size_t s = num_universe; s < ea.size(); ++s) in_a.insert(ea[s]);
  absl::flat_hash_set<std::string> common;
  for (size_t s = num_universe; s < eb.size(); ++s) {
    if (in_a.contains(eb[s])) common.insert(eb[s]);
  }
  std::vector<KeyPair> out;
  if (common.empty()) return out;
  std::vector<std::pair<int, int>> kept_outs;
  bool dropped = false;
  for (const auto& [sa, sb] : an.outs) {
    if (static_cast<size_t>(sa) >= num_universe && ea[static_cast<size_t>(sa)] == eb[static_cast<size_t>(sb)]) {
      dropped = true;
    } else {
      kept_outs.emplace_back(sa, sb);
    }
  }
  if (kept_outs.empty()) return out;
  if (dropped) {
    std::vector<std::string> ta, tb;
    for (const auto& [sa, sb] : kept_outs) {
      ta.push_back(ea[static_cast<size_t>(sa)]);
      tb.push_back(eb[static_cast<size_t>(sb)]);
    }
    out.emplace_back(KeyOfTexts(std::move(ta)), KeyOfTexts(std::move(tb)));
  }
  // Shared values read by an unshared op, or output by a kept pair.
  std::map<std::string, const SymShape*> frontier;
  auto visit = [&](const Side& side, const std::vector<std::string>& e, bool is_a) {
    const ReplayedGraph& r = side.replayed;
    const size_t n = side.graph.ops.size();
    for (size_t i = 0; i < n; ++i) {
      const GraphOp& op = side.graph.ops[i];
      const int arity = space.templates()[static_cast<size_t>(op.tmpl)].arity;
      const bool op_shared = common.contains(e[static_cast<size_t>(r.first_output[i])]);
      if (op_shared) continue;
      for (int k = 0; k < arity; ++k) {
        const size_t x = static_cast<size_t>(op.in[static_cast<size_t>(k)]);
        if (x >= num_universe && common.contains(e[x])) frontier.emplace(e[x], &r.shapes[x]);
      }
    }
    for (const auto& [sa, sb] : kept_outs) {
      const size_t s = static_cast<size_t>(is_a ? sa : sb);
      if (s >= num_universe && common.contains(e[s])) frontier.emplace(e[s], &r.shapes[s]);
    }
  };
  visit(an.a, ea, true);
  visit(an.b, eb, false);
  if (frontier.empty()) return out;
  // The universe tensors and constants the reduced sides still read: their
  // size variables are pinned.
  std::vector<bool> taken(num_universe, false);
  std::set<int> pinned;
  auto walk = [&](const Side& side, const std::vector<std::string>& e, bool is_a) {
    const ReplayedGraph& r = side.replayed;
    std::vector<int> stack;
    for (const auto& [sa, sb] : kept_outs) stack.push_back(is_a ? sa : sb);
    std::vector<bool> seen(r.shapes.size(), false);
    while (!stack.empty()) {
      const int x = stack.back();
      stack.pop_back();
      if (seen[static_cast<size_t>(x)]) continue;
      seen[static_cast<size_t>(x)] = true;
      if (static_cast<size_t>(x) < num_universe) {
        taken[static_cast<size_t>(x)] = true;
        for (const SymSize& d : r.shapes[static_cast<size_t>(x)].dims) {
          for (int k = 0; k < d.num_parts(); ++k) {
            if (d.part(k) >= 0) pinned.insert(d.part(k));
          }
        }
        continue;
      }
      if (frontier.contains(e[static_cast<size_t>(x)])) continue;
      const int i = ProducerOf(side, x);
      const GraphOp& op = side.graph.ops[static_cast<size_t>(i)];
      const OpTemplate& t = space.templates()[static_cast<size_t>(op.tmpl)];
      for (const SymAttr& a : t.symbolic) {
        for (const SymSize& v : a.values) {
          for (int k = 0; k < v.num_parts(); ++k) {
            if (v.part(k) >= 0) pinned.insert(v.part(k));
          }
        }
      }
      for (int k = 0; k < t.arity; ++k) stack.push_back(op.in[static_cast<size_t>(k)]);
    }
  };
  walk(an.a, ea, true);
  walk(an.b, eb, false);
  // Each fresh input is a universe tensor whose shape becomes the shared
  // value's when unpinned size variables take sums of others: the rules
  // kept hold for every size.
  std::map<int, SymSize> sigma;
  auto unify = [&](const SymShape& cls, const SymShape& value, std::map<int, SymSize>& s) {
    if (cls.rank() != value.rank()) return false;
    for (size_t d = 0; d < cls.dims.size(); ++d) {
      const SymSize& c = cls.dims[d];
      if (c.IsConstant()) {
        if (!c.SameSum(value.dims[d])) return false;
        continue;
      }
      const int v = c.part(0);
      auto it = s.find(v);
      if (it != s.end()) {
        if (!it->second.SameSum(value.dims[d])) return false;
        continue;
      }
      if (!c.SameSum(value.dims[d]) && pinned.contains(v)) return false;
      s.emplace(v, value.dims[d]);
    }
    return true;
  };
  Subst subst;
  for (const auto& [text, shape] : frontier) {
    int fresh = -1;
    for (size_t c = 0; c < classes.members.size() && fresh < 0; ++c) {
      const std::vector<int>& members = classes.members[c];
      std::map<int, SymSize> trial = sigma;
      if (!unify(space.universe().tensors[static_cast<size_t>(members[0])].shape, *shape, trial)) continue;
      for (int u : members) {
        if (!taken[static_cast<size_t>(u)]) {
          fresh = u;
          sigma = std::move(trial);
          break;
        }
      }
    }
    if (fresh < 0) return out;
    taken[static_cast<size_t>(fresh)] = true;
    subst.emplace(text, space.universe().tensors[static_cast<size_t>(fresh)].name);
  }
  const std::vector<std::string> names = UniverseNames(space);
  const std::vector<std::string> ra = Expressions(space, an.a, names, &subst);
  const std::vector<std::string> rb = Expressions(space, an.b, names, &subst);
  std::vector<std::string> ta, tb;
  for (const auto& [sa, sb] : kept_outs) {
    ta.push_back(ra[static_cast<size_t>(sa)]);
    tb.push_back(rb[static_cast<size_t>(sb)]);
  }
  out.emplace_back(KeyOfTexts(std::move(ta)), KeyOfTexts(std::move(tb)));
  return out;
}

// When the two sides differ in one output only, made by the same op from
// arguments that differ in one place: the two arguments.
std::optional<KeyPair> CommonSupergraphReduction(const SearchSpace& space, const Analysis& an,
                                                 const std::vector<std::string>& ea,
                                                 const std::vector<std::string>& eb) {
  const int num_universe = NumUniverse(space);
  std::optional<std::pair<int, int>> differing;
  for (const auto& [sa, sb] : an.outs) {
    if (ea[static_cast<size_t>(sa)] == eb[static_cast<size_t>(sb)]) continue;
    if (differing) return std::nullopt;
    differing = std::make_pair(sa, sb);
  }
  if (!differing || differing->first < num_universe || differing->second < num_universe) {
    return std::nullopt;
  }
  const int ia = ProducerOf(an.a, differing->first), ib = ProducerOf(an.b, differing->second);
  if (ia < 0 || ib < 0) return std::nullopt;
  const GraphOp& oa = an.a.graph.ops[static_cast<size_t>(ia)];
  const GraphOp& ob = an.b.graph.ops[static_cast<size_t>(ib)];
  if (oa.tmpl != ob.tmpl || oa.choice != ob.choice) return std::nullopt;
  if (differing->first - an.a.replayed.first_output[static_cast<size_t>(ia)] !=
      differing->second - an.b.replayed.first_output[static_cast<size_t>(ib)]) {
    return std::nullopt;
  }
  const OpTemplate& t = space.templates()[static_cast<size_t>(oa.tmpl)];
  auto arg_a = [&](int k) -> const std::string& { return ea[static_cast<size_t>(oa.in[static_cast<size_t>(k)])]; };
  auto arg_b = [&](int k) -> const std::string& { return eb[static_cast<size_t>(ob.in[static_cast<size_t>(k)])]; };
  if (t.commutative && t.arity == 2) {
    // Arguments as a multiset: one shared, the other two the reduction.
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        if (arg_a(i) == arg_b(j) && arg_a(1 - i) != arg_b(1 - j)) {
          return KeyPair{HashBytes(arg_a(1 - i)), HashBytes(arg_b(1 - j))};
        }
      }
    }
    return std::nullopt;
  }
  int differ_at = -1;
  for (int k = 0; k < t.arity; ++k) {
    if (arg_a(k) == arg_b(k)) continue;
    if (differ_at >= 0) return std::nullopt;
    differ_at = k;
  }
  if (differ_at < 0) return std::nullopt;
  return KeyPair{HashBytes(arg_a(differ_at)), HashBytes(arg_b(differ_at))};
}

// ---------------------------------------------------------------- rules

std::string OutputName(size_t k, size_t n) { return n == 1 ? "y" : StrCat("y", k); }

// The pattern of one side: `inputs` (universe indices) as pattern inputs,
// named by `names`; its outputs the tensors `outputs`.
absl::StatusOr<Pattern> BuildPattern(const SearchSpace& space, const Side& side,
                                     const std::vector<int>& inputs,
                                     const std::vector<std::string>& names,
                                     const std::vector<int>& outputs) {
  Pattern p;
  const std::vector<std::string>& vars = space.variable_names();
  std::vector<PatternRef> refs(side.replayed.shapes.size(), PatternRef{-1, 0});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const UniverseTensor& t = space.universe().tensors[static_cast<size_t>(inputs[i])];
    PatternNode in;
    in.op = OpKind::kInput;
    in.name = names[static_cast<size_t>(inputs[i])];
    for (const SymSize& d : t.shape.dims) in.dims.push_back(d.ToDimExpr(vars));
    p.nodes.push_back(std::move(in));
    refs[static_cast<size_t>(inputs[i])] = PatternRef{static_cast<int>(i), 0};
  }
  const size_t n = side.graph.ops.size();
  for (size_t i = 0; i < n; ++i) {
    const GraphOp& op = side.graph.ops[i];
    const OpTemplate& t = space.templates()[static_cast<size_t>(op.tmpl)];
    std::vector<const SymShape*> shapes;
    PatternNode node;
    node.op = t.op;
    for (int k = 0; k < t.arity; ++k) {
      const int x = op.in[static_cast<size_t>(k)];
      if (refs[static_cast<size_t>(x)].node < 0) {
        return absl::InvalidArgumentError("a side reads an input the rule does not declare");
      }
      node.inputs.push_back(refs[static_cast<size_t>(x)]);
      shapes.push_back(&side.replayed.shapes[static_cast<size_t>(x)]);
    }
    std::optional<Application> app = space.Apply(op.tmpl, op.choice, shapes);
    if (!app) return absl::InternalError("a replayed op does not apply");
    node.attrs = space.PatternAttrs(*app);
    node.num_outputs = static_cast<int>(app->outputs.size());
    const int index = static_cast<int>(p.nodes.size());
    for (int j = 0; j < node.num_outputs; ++j) {
      refs[static_cast<size_t>(side.replayed.first_output[i] + j)] = PatternRef{index, j};
    }
    p.nodes.push_back(std::move(node));
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const PatternRef r = refs[static_cast<size_t>(outputs[k])];
    if (r.node < 0) return absl::InvalidArgumentError("an output is an undeclared input");
    p.outputs.push_back(PatternOutput{OutputName(k, outputs.size()), r});
  }
  return p;
}

// The convs and matmuls of a graph: the ops that cost the most.
int CountGemms(const SearchSpace& space, const DecodedGraph& graph) {
  int n = 0;
  for (const GraphOp& op : graph.ops) {
    const OpKind kind = space.templates()[static_cast<size_t>(op.tmpl)].op;
    if (kind == OpKind::kConv2d || kind == OpKind::kMatMul) ++n;
  }
  return n;
}

// The rule source -> target: inputs those the source reads, ordered by
// `targets` (their tensors after renaming), outputs in the source's sink
// order. Fails when the rule does not pass CheckRule.
absl::StatusOr<Rule> MakeRule(const SearchSpace& space, const Side& source, const Side& target,
                              const std::vector<std::pair<int, int>>& outs,
                              const std::vector<std::string>& names,
                              const std::vector<int>& targets, std::string id) {
  const int num_universe = NumUniverse(space);
  std::set<int> read;
  for (const GraphOp& op : source.graph.ops) {
    const int arity = space.templates()[static_cast<size_t>(op.tmpl)].arity;
    for (int k = 0; k < arity; ++k) {
      if (op.in[static_cast<size_t>(k)] < num_universe) read.insert(op.in[static_cast<size_t>(k)]);
    }
  }
  std::vector<int> inputs(read.begin(), read.end());
  std::sort(inputs.begin(), inputs.end(), [&](int x, int y) {
    return targets[static_cast<size_t>(x)] < targets[static_cast<size_t>(y)];
  });
  std::vector<int> src_out, tgt_out;
  for (const auto& [s, t] : outs) {
    src_out.push_back(s);
    tgt_out.push_back(t);
  }
  absl::StatusOr<Pattern> src = BuildPattern(space, source, inputs, names, src_out);
  if (!src.ok()) return src.status();
  absl::StatusOr<Pattern> tgt = BuildPattern(space, target, inputs, names, tgt_out);
  if (!tgt.ok()) return tgt.status();
  Rule rule;
  rule.id = std::move(id);
  rule.source = std::move(*src);
  rule.target = std::move(*tgt);
  rule.status = RuleStatus::kTested;
  const std::span<const int64_t> values = space.values(0);
  const std::vector<std::string>& vars = space.variable_names();
  for (const std::string& v : CollectVariables(rule.source).bound) {
    for (size_t i = 0; i < vars.size(); ++i) {
      if (vars[i] == v) rule.example[v] = values[i];
    }
  }
  if (absl::Status s = CheckRule(rule); !s.ok()) return s;
  return rule;
}

// The same bindings at assignment B.
Bindings SecondSizes(const SearchSpace& space, const Bindings& example) {
  Bindings b;
  const std::vector<std::string>& vars = space.variable_names();
  for (const auto& [name, value] : example) {
    for (size_t i = 0; i < vars.size(); ++i) {
      if (vars[i] == name) b[name] = space.values(1)[i];
    }
  }
  return b;
}

// Both sides in float64 on random inputs of one sign each: input k (by
// name, the first three) made positive when bit k of `signs` is set and
// negative otherwise. Uniform draws miss rules true only for mixed signs: a
// max over a window wide enough to hold a positive value almost surely.
absl::Status CompareSigned(const RuleGraphs& g, uint64_t seed, unsigned signs) {
  NamedTensors<F64> feeds = RandomFeeds<F64>(g.source, seed);
  unsigned bit = 0;
  for (auto& [name, tensor] : feeds) {
    const bool positive = bit < 3 ? ((signs >> bit) & 1u) != 0 : true;
    ++bit;
    for (double& v : tensor.data) v = positive ? std::fabs(v) : -std::fabs(v);
  }
  absl::StatusOr<NamedTensors<F64>> a = Evaluate<F64>(g.source, feeds);
  if (!a.ok()) return a.status();
  absl::StatusOr<NamedTensors<F64>> b = Evaluate<F64>(g.target, feeds);
  if (!b.ok()) return b.status();
  for (const auto& [name, ta] : *a) {
    const std::vector<double> la = ToLogical(ta), lb = ToLogical(b->at(name));
    for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
      if (std::fabs(la[i] - lb[i]) / (1 + std::fabs(lb[i])) > 1e-9) {
        return absl::FailedPreconditionError(StrCat("f64 with input signs ", signs, ": output ",
                                                    name, " element ", i, ": ", la[i], " vs ", lb[i]));
      }
    }
  }
  return absl::OkStatus();
}

// Random tests at both assignments, and inputs of each sign; an error names
// what failed.
absl::Status TestRule(const SearchSpace& space, const Rule& rule, uint64_t seed, int modp_draws,
                      int f64_draws) {
  {
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64);
    if (!g.ok()) return g.status();
    const unsigned patterns = 1u << std::min(rule.source.num_inputs(), 3);
    for (unsigned signs = 0; signs < patterns; ++signs) {
      if (absl::Status s = CompareSigned(*g, seed + 2000 + signs, signs); !s.ok()) return s;
    }
  }
  const Bindings second = SecondSizes(space, rule.example);
  for (const Bindings* sizes : {&rule.example, &second}) {
    absl::StatusOr<RuleGraphs> g = InstantiateRule(rule, DType::kF64, sizes);
    if (!g.ok()) return g.status();
    absl::StatusOr<Comparison> m = CompareOnRandomInputs<ModP>(g->source, g->target, seed, modp_draws);
    if (!m.ok()) return m.status();
    if (!m->equal) return absl::FailedPreconditionError(StrCat("modp: ", m->mismatch));
    absl::StatusOr<Comparison> f =
        CompareOnRandomInputs<F64>(g->source, g->target, seed + 1000, f64_draws, 1e-9);
    if (!f.ok()) return f.status();
    if (!f->equal) return absl::FailedPreconditionError(StrCat("f64: ", f->mismatch));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- union-find

class UnionFind {
 public:
  uint64_t Find(uint64_t x) {
    auto it = parent_.find(x);
    if (it == parent_.end()) return x;
    uint64_t root = it->second;
    while (true) {
      auto p = parent_.find(root);
      if (p == parent_.end() || p->second == root) break;
      root = p->second;
    }
    // Path compression.
    while (x != root) {
      auto p = parent_.find(x);
      if (p == parent_.end()) break;
      const uint64_t next = p->second;
      p->second = root;
      x = next;
    }
    return root;
  }
  bool Same(uint64_t x, uint64_t y) { return x == y || Find(x) == Find(y); }
  void Union(uint64_t x, uint64_t y) {
    const uint64_t rx = Find(x), ry = Find(y);
    if (rx == ry) return;
    // The smaller key becomes the root: deterministic.
    if (rx < ry) {
      parent_[ry] = rx;
    } else {
      parent_[rx] = ry;
    }
  }

 private:
  absl::flat_hash_map<uint64_t, uint64_t> parent_;
};

// ---------------------------------------------------------------- processing

enum class Fate : uint8_t {
  kUnmatched,
  kPending,
  kKept,
  kRefuted,
  kUnexpressible,
  kRenaming,
  kCommonSubgraph,
  kCommonSupergraph,
  kTransitive,
};

struct Prepared {
  bool ok = false;
  int level = 0;
  uint64_t canon = 0;
  uint64_t key_a = 0, key_b = 0;
  // Up to two common-subgraph reductions (generator tables stay small).
  std::array<KeyPair, 2> subgraph = {};
  uint8_t num_subgraph = 0;
  std::optional<KeyPair> supergraph;
};

struct Tested {
  Fate fate = Fate::kRefuted;
  Rule rule;
  std::string canon_text;
  std::vector<KeyPair> closure;  // the two sides' keys under every renaming
};

// The edges of the union-find, for explanations: a kept candidate joined
// them (label >= 0) or an implied one did (label = -1 - candidate).
struct Edge {
  uint64_t x, y;
  int64_t label;
};

}  // namespace

void CandidateCollector::Add(const GraphRecord& record) {
  if (records_ > 0 && record.fingerprint == fingerprint_) {
    if (group_.back() != record.code) group_.push_back(record.code);
  } else {
    Close();
    fingerprint_ = record.fingerprint;
    group_.assign(1, record.code);
    ++distinct_;
  }
  ++records_;
}

void CandidateCollector::Close() {
  if (group_.size() < 2) return;
  const auto rep = std::min_element(group_.begin(), group_.end(), [](GraphCode x, GraphCode y) {
    const int nx = NumOps(x), ny = NumOps(y);
    return nx != ny ? nx < ny : x < y;
  });
  for (GraphCode c : group_) {
    if (c != *rep) pairs_.push_back(CandidatePair{fingerprint_, *rep, c});
  }
  group_.clear();
}

void CandidateCollector::Finish() { Close(); }

std::string_view PruneReasonName(PruneReason reason) {
  switch (reason) {
    case PruneReason::kRenaming:
      return "renaming";
    case PruneReason::kCommonSubgraph:
      return "common subgraph";
    case PruneReason::kCommonSupergraph:
      return "common supergraph";
    case PruneReason::kTransitive:
      return "transitivity";
  }
  return "?";
}

absl::StatusOr<Rule> RuleFromGraphs(const Enumerator& e, const DecodedGraph& source,
                                    const DecodedGraph& target, std::string id) {
  const SearchSpace& space = e.space();
  EnumerationWorker worker(e);
  absl::StatusOr<Analysis> an =
      Analyse(worker, space, EncodeGraph(source, space), EncodeGraph(target, space));
  if (!an.ok()) return an.status();
  const std::vector<std::string> names = UniverseNames(space);
  std::vector<int> identity(names.size());
  for (size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int>(i);
  return MakeRule(space, an->a, an->b, an->outs, names, identity, std::move(id));
}

absl::StatusOr<CandidateResult> ProcessCandidates(const Enumerator& e,
                                                  std::vector<CandidatePair> pairs,
                                                  const CandidateOptions& options) {
  const SearchSpace& space = e.space();
  const Classes classes = MakeClasses(space.universe());
  const int threads = std::max(1, options.threads);
  CandidateResult result;
  result.stats.candidates = static_cast<int64_t>(pairs.size());
  std::sort(pairs.begin(), pairs.end(), [](const CandidatePair& x, const CandidatePair& y) {
    return std::tie(x.a, x.b, x.fingerprint) < std::tie(y.a, y.b, y.fingerprint);
  });

  std::vector<std::unique_ptr<EnumerationWorker>> workers;
  for (int t = 0; t < threads; ++t) workers.push_back(std::make_unique<EnumerationWorker>(e));
  const std::vector<std::string> names = UniverseNames(space);
  const int64_t n = static_cast<int64_t>(pairs.size());
  std::atomic<int64_t> done{0}, total{n};
  std::string_view stage = "candidates";
  auto poll = [&] {
    if (options.progress) options.progress(stage, done.load(), total.load());
  };

  // Replay every candidate, pair its outputs, and compute its keys.
  std::vector<Prepared> prepared(static_cast<size_t>(n));
  ParallelFor(
      n, threads,
      [&](int64_t i, int thread) {
        const CandidatePair& p = pairs[static_cast<size_t>(i)];
        Prepared& out = prepared[static_cast<size_t>(i)];
        absl::StatusOr<Analysis> an = Analyse(*workers[static_cast<size_t>(thread)], space, p.a, p.b);
        done.fetch_add(1);
        if (!an.ok()) return;
        out.ok = true;
        out.level = NumOps(p.a) + NumOps(p.b);
        out.canon = HashBytes(Canonicalize(space, classes, *an).text);
        const std::vector<std::string> ea = Expressions(space, an->a, names);
        const std::vector<std::string> eb = Expressions(space, an->b, names);
        out.key_a = GraphKey(an->a, ea);
        out.key_b = GraphKey(an->b, eb);
        const std::vector<KeyPair> reductions = CommonSubgraphReductions(space, classes, *an, ea, eb);
        for (const KeyPair& r : reductions) {
          if (out.num_subgraph < out.subgraph.size()) out.subgraph[out.num_subgraph++] = r;
        }
        out.supergraph = CommonSupergraphReduction(space, *an, ea, eb);
      },
      options.progress ? std::function<void()>(poll) : nullptr);

  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
    const Prepared& px = prepared[static_cast<size_t>(x)];
    const Prepared& py = prepared[static_cast<size_t>(y)];
    return std::tie(px.level, px.canon, x) < std::tie(py.level, py.canon, y);
  });

  std::vector<Fate> fate(static_cast<size_t>(n), Fate::kUnmatched);
  std::vector<int64_t> renaming_of(static_cast<size_t>(n), -1);
  std::vector<std::unique_ptr<Tested>> tested(static_cast<size_t>(n));
  UnionFind uf;
  std::vector<Edge> edges;
  absl::flat_hash_map<uint64_t, int64_t> first_of_canon;
  size_t pos = 0;
  while (pos < order.size()) {
    const int level = prepared[static_cast<size_t>(order[pos])].level;
    size_t end = pos;
    while (end < order.size() && prepared[static_cast<size_t>(order[end])].level == level) ++end;
    std::vector<int64_t> pending;
    for (size_t k = pos; k < end; ++k) {
      const int64_t i = order[k];
      const Prepared& p = prepared[static_cast<size_t>(i)];
      Fate& f = fate[static_cast<size_t>(i)];
      if (!p.ok) {
        f = Fate::kUnmatched;
        continue;
      }
      auto [it, inserted] = first_of_canon.emplace(p.canon, i);
      if (!inserted) {
        f = Fate::kRenaming;
        renaming_of[static_cast<size_t>(i)] = it->second;
        continue;
      }
      if (uf.Same(p.key_a, p.key_b)) {
        f = Fate::kTransitive;
      } else if (std::any_of(p.subgraph.begin(), p.subgraph.begin() + p.num_subgraph,
                             [&](const KeyPair& r) { return uf.Same(r.first, r.second); })) {
        f = Fate::kCommonSubgraph;
      } else if (p.supergraph && uf.Same(p.supergraph->first, p.supergraph->second)) {
        f = Fate::kCommonSupergraph;
      } else {
        f = Fate::kPending;
        pending.push_back(i);
        continue;
      }
      uf.Union(p.key_a, p.key_b);
      if (options.explain) edges.push_back(Edge{p.key_a, p.key_b, -1 - i});
    }
    // Confirm the candidates nothing implies.
    done.store(0);
    const int64_t num_pending = static_cast<int64_t>(pending.size());
    total.store(num_pending);
    stage = "tests";
    ParallelFor(num_pending, threads, [&](int64_t k, int thread) {
      const int64_t i = pending[static_cast<size_t>(k)];
      const CandidatePair& p = pairs[static_cast<size_t>(i)];
      auto t = std::make_unique<Tested>();
      absl::StatusOr<Analysis> an = Analyse(*workers[static_cast<size_t>(thread)], space, p.a, p.b);
      if (!an.ok()) {
        t->fate = Fate::kUnmatched;
        tested[static_cast<size_t>(i)] = std::move(t);
        done.fetch_add(1);
        return;
      }
      const Canonical canon = Canonicalize(space, classes, *an);
      t->canon_text = canon.text;
      // The side with more convs and matmuls is the source (merging two
      // convs that read one input into one conv of concatenated weights is
      // the rewrite worth making, although it adds a concat and a split);
      // then the side with more ops; on a tie, the one the canonical text
      // writes first.
      const int gemms_a = CountGemms(space, an->a.graph);
      const int gemms_b = CountGemms(space, an->b.graph);
      const int ops_a = static_cast<int>(an->a.graph.ops.size());
      const int ops_b = static_cast<int>(an->b.graph.ops.size());
      bool a_first = gemms_a != gemms_b ? gemms_a > gemms_b
                     : ops_a != ops_b   ? ops_a > ops_b
                                        : !canon.swapped;
      std::vector<std::pair<int, int>> flipped;
      for (const auto& [sa, sb] : an->outs) flipped.emplace_back(sb, sa);
      absl::StatusOr<Rule> rule = a_first ? MakeRule(space, an->a, an->b, an->outs, canon.names, canon.targets, "candidate")
                                          : MakeRule(space, an->b, an->a, flipped, canon.names, canon.targets, "candidate");
      if (!rule.ok()) {
        rule = a_first ? MakeRule(space, an->b, an->a, flipped, canon.names, canon.targets, "candidate")
                       : MakeRule(space, an->a, an->b, an->outs, canon.names, canon.targets, "candidate");
      }
      if (!rule.ok()) {
        t->fate = Fate::kUnexpressible;
        tested[static_cast<size_t>(i)] = std::move(t);
        done.fetch_add(1);
        return;
      }
      rule->fingerprint = p.fingerprint;
      rule->origin = options.origin;
      const uint64_t seed = HashCombine(options.seed, 0x636f6e6669726dULL);
      if (!TestRule(space, *rule, seed, options.modp_draws, options.f64_draws).ok()) {
        t->fate = Fate::kRefuted;
        tested[static_cast<size_t>(i)] = std::move(t);
        done.fetch_add(1);
        return;
      }
      t->fate = Fate::kKept;
      t->rule = std::move(*rule);
      ForEachRenaming(space.universe(), classes, an->used, true,
                      [&](const std::vector<std::string>& renamed, const std::vector<int>&) {
                        t->closure.emplace_back(GraphKey(an->a, Expressions(space, an->a, renamed)),
                                                GraphKey(an->b, Expressions(space, an->b, renamed)));
                      });
      tested[static_cast<size_t>(i)] = std::move(t);
      done.fetch_add(1);
    }, options.progress ? std::function<void()>(poll) : nullptr);
    for (int64_t i : pending) {
      Tested& t = *tested[static_cast<size_t>(i)];
      fate[static_cast<size_t>(i)] = t.fate;
      if (t.fate != Fate::kKept) continue;
      for (const auto& [x, y] : t.closure) {
        uf.Union(x, y);
        if (options.explain) edges.push_back(Edge{x, y, i});
      }
    }
    pos = end;
  }

  // Renamings share the fate of the first candidate of their text.
  for (int64_t i = 0; i < n; ++i) {
    if (fate[static_cast<size_t>(i)] != Fate::kRenaming) continue;
    const Fate first = fate[static_cast<size_t>(renaming_of[static_cast<size_t>(i)])];
    const bool holds = first == Fate::kKept || first == Fate::kTransitive ||
                       first == Fate::kCommonSubgraph || first == Fate::kCommonSupergraph ||
                       first == Fate::kRenaming;
    if (!holds) fate[static_cast<size_t>(i)] = first == Fate::kUnmatched ? Fate::kUnmatched : first;
  }

  // Kept rules, fewest ops first, then by canonical text.
  std::vector<int64_t> kept;
  for (int64_t i : order) {
    if (fate[static_cast<size_t>(i)] == Fate::kKept) kept.push_back(i);
  }
  std::stable_sort(kept.begin(), kept.end(), [&](int64_t x, int64_t y) {
    const int lx = prepared[static_cast<size_t>(x)].level, ly = prepared[static_cast<size_t>(y)].level;
    if (lx != ly) return lx < ly;
    return tested[static_cast<size_t>(x)]->canon_text < tested[static_cast<size_t>(y)]->canon_text;
  });
  const int width = std::max<int>(4, static_cast<int>(StrCat(kept.size()).size()));
  absl::flat_hash_map<int64_t, std::string> id_of;
  for (size_t k = 0; k < kept.size(); ++k) {
    std::string number = StrCat(k + 1);
    std::string id = StrCat("g", std::string(static_cast<size_t>(width) - number.size(), '0'), number);
    Rule rule = std::move(tested[static_cast<size_t>(kept[k])]->rule);
    rule.id = id;
    id_of[kept[k]] = id;
    if (absl::Status s = result.rules.Add(std::move(rule)); !s.ok()) return s;
  }

  CandidateStats& st = result.stats;
  for (int64_t i = 0; i < n; ++i) {
    switch (fate[static_cast<size_t>(i)]) {
      case Fate::kUnmatched: ++st.unmatched; break;
      case Fate::kKept: ++st.tested; break;
      case Fate::kRefuted:
        ++st.refuted;
        if (tested[static_cast<size_t>(i)] != nullptr) ++st.tested;
        break;
      case Fate::kUnexpressible: ++st.unexpressible; break;
      case Fate::kRenaming: ++st.pruned_renaming; break;
      case Fate::kCommonSubgraph: ++st.pruned_common_subgraph; break;
      case Fate::kCommonSupergraph: ++st.pruned_common_supergraph; break;
      case Fate::kTransitive: ++st.pruned_transitive; break;
      case Fate::kPending: break;
    }
  }
  st.rules = result.rules.size();

  if (options.explain) {
    // Each pruned candidate: the kept rules on a path between the two
    // graphs its reason names (expanding implied candidates' own paths).
    absl::flat_hash_map<uint64_t, std::vector<size_t>> adjacent;
    for (size_t k = 0; k < edges.size(); ++k) {
      adjacent[edges[k].x].push_back(k);
      adjacent[edges[k].y].push_back(k);
    }
    std::map<int64_t, std::set<std::string>> memo;
    auto path = [&](uint64_t from, uint64_t to) {
      std::vector<size_t> out;
      absl::flat_hash_map<uint64_t, size_t> via;
      std::deque<uint64_t> queue = {from};
      via[from] = edges.size();
      while (!queue.empty() && !via.contains(to)) {
        const uint64_t x = queue.front();
        queue.pop_front();
        for (size_t k : adjacent[x]) {
          const uint64_t y = edges[k].x == x ? edges[k].y : edges[k].x;
          if (via.emplace(y, k).second) queue.push_back(y);
        }
      }
      if (!via.contains(to)) return out;
      for (uint64_t x = to; x != from;) {
        const size_t k = via[x];
        out.push_back(k);
        x = edges[k].x == x ? edges[k].y : edges[k].x;
      }
      return out;
    };
    std::function<std::set<std::string>(int64_t)> implied_by = [&](int64_t i) {
      auto it = memo.find(i);
      if (it != memo.end()) return it->second;
      memo[i] = {};  // breaks cycles
      const Prepared& p = prepared[static_cast<size_t>(i)];
      std::set<std::string> ids;
      KeyPair claim{p.key_a, p.key_b};
      const Fate f = fate[static_cast<size_t>(i)];
      if (f == Fate::kCommonSubgraph) {
        for (int k = 0; k < p.num_subgraph; ++k) {
          const KeyPair& r = p.subgraph[static_cast<size_t>(k)];
          if (uf.Same(r.first, r.second)) {
            claim = r;
            break;
          }
        }
      }
      if (f == Fate::kCommonSupergraph) claim = *p.supergraph;
      if (f == Fate::kRenaming) {
        const int64_t first = renaming_of[static_cast<size_t>(i)];
        if (fate[static_cast<size_t>(first)] == Fate::kKept) {
          ids.insert(id_of[first]);
        } else {
          ids = implied_by(first);
        }
      } else {
        for (size_t k : path(claim.first, claim.second)) {
          const int64_t label = edges[k].label;
          if (label >= 0) {
            ids.insert(id_of[label]);
          } else if (-1 - label != i) {
            const std::set<std::string> more = implied_by(-1 - label);
            ids.insert(more.begin(), more.end());
          }
        }
      }
      memo[i] = ids;
      return ids;
    };
    for (int64_t i : order) {
      Fate f = fate[static_cast<size_t>(i)];
      // A renaming of a pruned candidate is implied as that one is.
      if (f == Fate::kRenaming) {
        const Fate first = fate[static_cast<size_t>(renaming_of[static_cast<size_t>(i)])];
        if (first != Fate::kKept) f = first;
      }
      PruneReason reason;
      if (f == Fate::kRenaming) {
        reason = PruneReason::kRenaming;
      } else if (f == Fate::kCommonSubgraph) {
        reason = PruneReason::kCommonSubgraph;
      } else if (f == Fate::kCommonSupergraph) {
        reason = PruneReason::kCommonSupergraph;
      } else if (f == Fate::kTransitive) {
        reason = PruneReason::kTransitive;
      } else {
        continue;
      }
      const std::set<std::string> ids = implied_by(i);
      result.pruned.push_back(PrunedCandidate{pairs[static_cast<size_t>(i)], reason, {ids.begin(), ids.end()}});
    }
  }
  return result;
}

}  // namespace lemma
