#include "optimizer/search_state.h"

#include <algorithm>

#include "ir/hash.h"
#include "ir/strings.h"
#include "optimizer/layout.h"
#include "optimizer/rewrite.h"

namespace lemma {

absl::StatusOr<std::unique_ptr<SearchState>> MakeSearchState(Graph graph, CostModel& model) {
  auto state = std::make_unique<SearchState>();
  state->graph = std::move(graph);
  const Graph& g = state->graph;
  const size_t n = static_cast<size_t>(g.num_nodes());
  state->first_value.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    const Node& node = g.node(static_cast<NodeId>(i));
    for (ValueId in : node.inputs) {
      if (static_cast<size_t>(in.node) >= i) {
        return absl::InternalError(StrCat(g.Describe(static_cast<NodeId>(i)),
                                          ": node order is not topological"));
      }
    }
    state->first_value[i + 1] = state->first_value[i] + node.outputs.size();
  }
  state->precomputed = PrecomputedNodes(g);
  state->value_hash.resize(state->first_value[n]);
  state->shape_hash.resize(state->first_value[n]);
  state->content_hash.resize(n);
  state->node_cost.assign(n, 0.0);
  state->uses.assign(n, 0);
  std::vector<uint64_t> inputs;
  for (size_t i = 0; i < n; ++i) {
    const NodeId id = static_cast<NodeId>(i);
    const Node& node = g.node(id);
    inputs.clear();
    for (ValueId in : node.inputs) {
      inputs.push_back(state->value_hash[state->Flat(in)]);
      ++state->uses[static_cast<size_t>(in.node)];
    }
    state->content_hash[i] = NodeContentHash(node);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const size_t v = state->first_value[i] + k;
      state->shape_hash[v] = ShapeHash(node.outputs[k]);
      state->value_hash[v] =
          ValueHashOf(state->content_hash[i], inputs, static_cast<int>(k), state->shape_hash[v]);
    }
    state->sums.nodes += NodeTerm(state->value_hash[state->first_value[i]]);
    if (!state->precomputed[i]) {
      state->node_cost[i] = NodeCostInGraph(g, id, state->precomputed, model);
      state->cost += state->node_cost[i];
    }
  }
  for (const GraphOutput& o : g.outputs()) {
    ++state->uses[static_cast<size_t>(o.value.node)];
    state->sums.outputs += OutputTerm(o.name, state->value_hash[state->Flat(o.value)]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (state->uses[i] == 0 && g.node(static_cast<NodeId>(i)).op != OpKind::kInput) {
      return absl::InternalError(StrCat(g.Describe(static_cast<NodeId>(i)), " is dead"));
    }
  }
  state->matcher = std::make_unique<Matcher>(state->graph);
  return state;
}

namespace {

// Builds the plan of `rule`'s target on the inputs `match` binds in `state`.
std::unique_ptr<TargetPlan> BuildPlan(const SearchState& state, const Rule& rule,
                                      const Match& match, CostModel& model, bool choose_layouts) {
  auto plan = std::make_unique<TargetPlan>();
  const Graph& p = state.graph;
  const int num_inputs = rule.source.num_inputs();
  auto fail = [&](std::string_view reason) {
    plan->status = absl::FailedPreconditionError(StrCat("rule ", rule.id, ": ", reason));
    return std::move(plan);
  };
  // The target in a scratch graph whose inputs stand for the bound values
  // (node k is pattern input k there).
  Graph s("candidate");
  std::vector<ValueId> s_inputs;
  Flags seeds;
  for (int k = 0; k < num_inputs; ++k) {
    const ValueId bound = match.inputs[static_cast<size_t>(k)];
    absl::StatusOr<ValueId> in = s.AddInput(StrCat("i", k), p.type(bound));
    if (!in.ok()) return fail(ToStd(in.status().message()));
    s_inputs.push_back(*in);
    seeds.push_back(state.precomputed[static_cast<size_t>(bound.node)]);
  }
  const std::vector<ValueId> sources = match.OutputValues(rule);
  absl::StatusOr<std::vector<ValueId>> outs =
      InstantiateInto(rule.target, match.bindings, p.type(sources[0]).dtype, s_inputs, s);
  if (!outs.ok()) return fail(StrCat("target: ", outs.status().message()));
  for (size_t k = 0; k < sources.size(); ++k) {
    const TensorType& a = p.type(sources[k]);
    const TensorType& b = s.type((*outs)[k]);
    if (a.dtype != b.dtype || a.dims != b.dims) {
      return fail(StrCat("output '", rule.source.outputs[k].name, "' is ", a.ToString(),
                         " in the graph but the target makes ", b.ToString()));
    }
  }
  // Replacing values keep the layout of what they replace; they are fixed
  // (outputs of the scratch graph) while the rest is chosen.
  for (size_t k = 0; k < sources.size(); ++k) {
    const ValueId out = (*outs)[k];
    if (out.node >= num_inputs) {
      bool first = true;
      for (size_t j = 0; j < k; ++j) first = first && (*outs)[j] != out;
      const Layout want = p.type(sources[k]).layout;
      if (first && LayoutFitsRank(want, s.type(out).rank())) (void)s.SetLayout(out, want);
    }
    if (absl::Status st = s.AddOutput(StrCat("o", k), out); !st.ok()) return fail(ToStd(st.message()));
  }
  if (choose_layouts) OptimizeLayouts(s, model, seeds);
  seeds.resize(static_cast<size_t>(s.num_nodes()), 0);
  const Flags pre = PrecomputedNodes(s, seeds);
  const std::vector<bool> live = s.LiveNodes();
  plan->input_uses.assign(static_cast<size_t>(num_inputs), 0);
  for (NodeId j = num_inputs; j < s.num_nodes(); ++j) {
    const Node& node = s.node(j);
    for (const TensorType& t : node.outputs) plan->layouts.push_back(t.layout);
    TargetPlan::NewNode& n = plan->nodes.emplace_back();
    n.live = live[static_cast<size_t>(j)];
    n.content = NodeContentHash(node);
    n.inputs = node.inputs;
    for (const TensorType& t : node.outputs) n.shapes.push_back(ShapeHash(t));
    if (!n.live) continue;
    for (ValueId in : node.inputs) {
      if (in.node < num_inputs) ++plan->input_uses[static_cast<size_t>(in.node)];
    }
    if (!pre[static_cast<size_t>(j)]) plan->cost += NodeCostInGraph(s, j, pre, model);
  }
  for (const ValueId out : *outs) {
    plan->outputs.push_back({out, s.type(out), pre[static_cast<size_t>(out.node)] != 0});
  }
  return plan;
}

}  // namespace

const TargetPlan& TargetPlanCache::Get(const SearchState& state, const Rule& rule,
                                       const Match& match, CostModel& model,
                                       bool choose_layouts) {
  // Hash and compare against the state's values first: a key is only built
  // for a new plan.
  const std::vector<PatternOutput>& outputs = rule.source.outputs;
  auto replaced = [&](size_t k) -> const TensorType& {
    const PatternRef r = outputs[k].value;
    return state.graph.type(ValueId{match.nodes[static_cast<size_t>(r.node)], r.index});
  };
  uint64_t h = Mix64(static_cast<uint64_t>(match.rule));
  for (const auto& [name, value] : match.bindings) h = HashCombine(h, static_cast<uint64_t>(value));
  for (ValueId v : match.inputs) {
    h = HashCombine(h, HashTensorType(state.graph.type(v)) +
                           state.precomputed[static_cast<size_t>(v.node)]);
  }
  for (size_t k = 0; k < outputs.size(); ++k) h = HashCombine(h, HashTensorType(replaced(k)));
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<Key, std::unique_ptr<TargetPlan>>>& bucket = plans_[h];
  for (const auto& [key, plan] : bucket) {
    bool same = key.rule == match.rule && key.bindings.size() == match.bindings.size() &&
                key.inputs.size() == match.inputs.size() && key.replaced.size() == outputs.size();
    size_t i = 0;
    for (auto it = match.bindings.begin(); same && it != match.bindings.end(); ++it, ++i) {
      same = key.bindings[i] == it->second;
    }
    for (i = 0; same && i < match.inputs.size(); ++i) {
      const ValueId v = match.inputs[i];
      same = key.inputs[i] == state.graph.type(v) &&
             key.precomputed[i] == state.precomputed[static_cast<size_t>(v.node)];
    }
    for (i = 0; same && i < outputs.size(); ++i) same = key.replaced[i] == replaced(i);
    if (same) return *plan;
  }
  Key key{match.rule, {}, {}, {}, {}};
  for (const auto& [name, value] : match.bindings) key.bindings.push_back(value);
  for (ValueId v : match.inputs) {
    key.inputs.push_back(state.graph.type(v));
    key.precomputed.push_back(state.precomputed[static_cast<size_t>(v.node)]);
  }
  for (size_t k = 0; k < outputs.size(); ++k) key.replaced.push_back(replaced(k));
  bucket.emplace_back(std::move(key), BuildPlan(state, rule, match, model, choose_layouts));
  ++size_;
  return *bucket.back().second;
}

CandidateEvaluator::CandidateEvaluator(const SearchState& state, CostModel& model,
                                       bool choose_layouts, TargetPlanCache* plans)
    : state_(state), model_(model), choose_layouts_(choose_layouts), plans_(plans) {
  const size_t n = static_cast<size_t>(state.graph.num_nodes());
  matched_stamp_.assign(n, 0);
  dead_stamp_.assign(n, 0);
  delta_stamp_.assign(n, 0);
  affected_stamp_.assign(n, 0);
  replaced_stamp_.assign(n, 0);
  delta_uses_.assign(n, 0);
  new_value_hash_.assign(state.value_hash.size(), 0);
  new_precomputed_.assign(n, 0);
  precomputed_changed_.assign(n, 0);
}

const CandidateEvaluator::Replacement* CandidateEvaluator::FindReplacement(ValueId v) const {
  if (replaced_stamp_[static_cast<size_t>(v.node)] != epoch_) return nullptr;
  for (const Replacement& r : replacements_) {
    if (r.from == v) return &r;
  }
  return nullptr;
}

absl::StatusOr<CandidateEval> CandidateEvaluator::Evaluate(const Rule& rule, const Match& match) {
  const Graph& p = state_.graph;
  const int num_inputs = rule.source.num_inputs();
  const TargetPlan& plan = plans_->Get(state_, rule, match, model_, choose_layouts_);
  if (!plan.status.ok()) return plan.status;
  ++epoch_;
  const uint32_t epoch = epoch_;

  CandidateEval eval;
  eval.layouts = plan.layouts;
  CanonicalHashSums sums = state_.sums;
  double cost = state_.cost + plan.cost;
  int num_nodes = p.num_nodes();
  for (size_t i = static_cast<size_t>(num_inputs); i < match.nodes.size(); ++i) {
    matched_stamp_[static_cast<size_t>(match.nodes[i])] = epoch;
  }
  auto matched = [&](NodeId id) { return matched_stamp_[static_cast<size_t>(id)] == epoch; };
  auto add_use = [&](NodeId id, int delta) {
    const size_t i = static_cast<size_t>(id);
    if (delta_stamp_[i] != epoch) {
      delta_stamp_[i] = epoch;
      delta_uses_[i] = 0;
    }
    delta_uses_[i] += delta;
    touched_.push_back(id);
  };
  touched_.clear();

  // New nodes: their hashes, and the uses they add to bound values.
  new_hashes_.resize(plan.nodes.size());
  auto hash_of = [&](ValueId v) {
    if (v.node < num_inputs) {
      return state_.value_hash[state_.Flat(match.inputs[static_cast<size_t>(v.node)])];
    }
    return new_hashes_[static_cast<size_t>(v.node - num_inputs)][static_cast<size_t>(v.index)];
  };
  for (size_t j = 0; j < plan.nodes.size(); ++j) {
    const TargetPlan::NewNode& n = plan.nodes[j];
    new_hashes_[j].clear();
    if (!n.live) continue;
    in_hashes_.clear();
    for (ValueId in : n.inputs) in_hashes_.push_back(hash_of(in));
    for (size_t k = 0; k < n.shapes.size(); ++k) {
      new_hashes_[j].push_back(ValueHashOf(n.content, in_hashes_, static_cast<int>(k), n.shapes[k]));
    }
    sums.nodes += NodeTerm(new_hashes_[j][0]);
    ++num_nodes;
  }
  for (int k = 0; k < num_inputs; ++k) {
    if (plan.input_uses[static_cast<size_t>(k)] > 0) {
      add_use(match.inputs[static_cast<size_t>(k)].node, plan.input_uses[static_cast<size_t>(k)]);
    }
  }

  // What replaces each source output.
  replacements_.clear();
  const std::vector<ValueId> sources = match.OutputValues(rule);
  for (size_t k = 0; k < sources.size(); ++k) {
    const TargetPlan::Replacement& out = plan.outputs[k];
    replaced_stamp_[static_cast<size_t>(sources[k].node)] = epoch;
    if (out.value.node < num_inputs) {
      const ValueId v = match.inputs[static_cast<size_t>(out.value.node)];
      replacements_.push_back({sources[k], state_.value_hash[state_.Flat(v)], &p.type(v),
                               state_.precomputed[static_cast<size_t>(v.node)] != 0});
      // Every use of the source output outside the match now uses v.
      int outside = 0;
      for (NodeId u : state_.matcher->Users(sources[k].node)) {
        if (matched(u)) continue;
        for (ValueId in : p.node(u).inputs) outside += in == sources[k] ? 1 : 0;
      }
      for (const GraphOutput& o : p.outputs()) outside += o.value == sources[k] ? 1 : 0;
      add_use(v.node, outside);
    } else {
      replacements_.push_back({sources[k], hash_of(out.value), &out.type, out.precomputed});
    }
  }

  // Dead nodes: the matched ones, and those left without uses.
  dead_.clear();
  for (size_t i = static_cast<size_t>(num_inputs); i < match.nodes.size(); ++i) {
    const NodeId m = match.nodes[i];
    dead_stamp_[static_cast<size_t>(m)] = epoch;
    dead_.push_back(m);
    for (ValueId in : p.node(m).inputs) {
      if (!matched(in.node)) add_use(in.node, -1);
    }
  }
  for (size_t t = 0; t < touched_.size(); ++t) {
    const NodeId h = touched_[t];
    const size_t i = static_cast<size_t>(h);
    if (dead_stamp_[i] == epoch || p.node(h).op == OpKind::kInput) continue;
    if (state_.uses[i] + delta_uses_[i] != 0) continue;
    dead_stamp_[i] = epoch;
    dead_.push_back(h);
    for (ValueId in : p.node(h).inputs) add_use(in.node, -1);
  }
  for (NodeId d : dead_) {
    sums.nodes -= NodeTerm(state_.value_hash[state_.first_value[static_cast<size_t>(d)]]);
    cost -= state_.node_cost[static_cast<size_t>(d)];
    --num_nodes;
  }

  // Downstream of the rewrite: new hashes, and new costs where an input's
  // layout or precomputed status changed.
  NodeId start = p.num_nodes();
  for (size_t i = static_cast<size_t>(num_inputs); i < match.nodes.size(); ++i) {
    start = std::min(start, match.nodes[i]);
  }
  for (NodeId id = start; id < p.num_nodes(); ++id) {
    const size_t i = static_cast<size_t>(id);
    if (dead_stamp_[i] == epoch) continue;
    const Node& node = p.node(id);
    bool any = false, direct = false, input_pre_changed = false;
    for (ValueId in : node.inputs) {
      const size_t src = static_cast<size_t>(in.node);
      if (affected_stamp_[src] == epoch) {
        any = true;
        input_pre_changed = input_pre_changed || precomputed_changed_[src];
      } else if (replaced_stamp_[src] == epoch && FindReplacement(in) != nullptr) {
        any = direct = true;
      }
    }
    if (!any) continue;
    affected_stamp_[i] = epoch;
    in_hashes_.clear();
    bool all_pre = true;
    for (ValueId in : node.inputs) {
      const size_t src = static_cast<size_t>(in.node);
      if (affected_stamp_[src] == epoch) {
        in_hashes_.push_back(new_value_hash_[state_.Flat(in)]);
        all_pre = all_pre && new_precomputed_[src];
      } else if (const Replacement* r = FindReplacement(in)) {
        in_hashes_.push_back(r->hash);
        all_pre = all_pre && r->precomputed;
      } else {
        in_hashes_.push_back(state_.value_hash[state_.Flat(in)]);
        all_pre = all_pre && state_.precomputed[src];
      }
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      const size_t v = state_.first_value[i] + k;
      new_value_hash_[v] =
          ValueHashOf(state_.content_hash[i], in_hashes_, static_cast<int>(k), state_.shape_hash[v]);
    }
    new_precomputed_[i] = all_pre ? 1 : 0;
    precomputed_changed_[i] = new_precomputed_[i] != state_.precomputed[i] ? 1 : 0;
    const size_t v0 = state_.first_value[i];
    sums.nodes += NodeTerm(new_value_hash_[v0]) - NodeTerm(state_.value_hash[v0]);
    if (direct || precomputed_changed_[i] || input_pre_changed) {
      in_types_.clear();
      in_pre_.clear();
      for (ValueId in : node.inputs) {
        const size_t src = static_cast<size_t>(in.node);
        if (affected_stamp_[src] == epoch) {
          in_types_.push_back(&p.type(in));
          in_pre_.push_back(new_precomputed_[src]);
        } else if (const Replacement* r = FindReplacement(in)) {
          in_types_.push_back(r->type);
          in_pre_.push_back(r->precomputed);
        } else {
          in_types_.push_back(&p.type(in));
          in_pre_.push_back(state_.precomputed[src]);
        }
      }
      const double c = all_pre ? 0.0 : NodeCost(node, in_types_, in_pre_, model_);
      cost += c - state_.node_cost[i];
    }
  }
  for (const GraphOutput& o : p.outputs()) {
    uint64_t now;
    if (affected_stamp_[static_cast<size_t>(o.value.node)] == epoch) {
      now = new_value_hash_[state_.Flat(o.value)];
    } else if (const Replacement* r = FindReplacement(o.value)) {
      now = r->hash;
    } else {
      continue;
    }
    sums.outputs += OutputTerm(o.name, now) - OutputTerm(o.name, state_.value_hash[state_.Flat(o.value)]);
  }
  eval.cost = cost;
  eval.hash = sums.hash();
  eval.num_nodes = num_nodes;
  return eval;
}

absl::StatusOr<std::unique_ptr<SearchState>> ApplyToState(const SearchState& parent,
                                                          const Rule& rule, const Match& match,
                                                          std::span<const Layout> layouts,
                                                          CostModel& model) {
  absl::StatusOr<Graph> g = ApplyMatch(parent.graph, rule, match, layouts);
  if (!g.ok()) return g.status();
  return MakeSearchState(*std::move(g), model);
}

}  // namespace lemma
