#include "optimizer/optimize.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <queue>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/strings.h"
#include "optimizer/graph_cost.h"
#include "optimizer/layout.h"
#include "optimizer/redundant_rules.h"
#include "optimizer/rewrite.h"
#include "optimizer/search_state.h"

namespace lemma {

std::string_view AppliedStep::KindName(Kind kind) {
  switch (kind) {
    case Kind::kRule:
      return "rule";
    case Kind::kLayouts:
      return "layouts";
    case Kind::kMerged:
      return "merged";
  }
  return "?";
}

namespace {

using Clock = std::chrono::steady_clock;

// Graphs kept built at once, counted in nodes (a graph of the zoo's largest
// models has about 1500).
constexpr int64_t kCacheNodes = 1 << 17;
// Costs closer than this (seconds) are equal.
constexpr double kCostEpsilon = 1e-12;

// A graph of the search, stored as the rewrite that makes it from its parent.
struct Entry {
  int32_t parent = -1;
  int32_t rule = -1;
  uint32_t data = 0;         // offset into the pool: nodes, inputs, layouts
  uint16_t num_layouts = 0;  // layouts of the new values
  double cost = 0;
  uint64_t hash = 0;
};

// Entries' matched nodes, bound inputs and new layouts, end to end.
class EntryPool {
 public:
  uint32_t Add(const Match& m, const std::vector<Layout>& layouts) {
    const uint32_t at = static_cast<uint32_t>(data_.size());
    data_.insert(data_.end(), m.nodes.begin(), m.nodes.end());
    for (ValueId v : m.inputs) {
      data_.push_back(v.node);
      data_.push_back(v.index);
    }
    for (Layout l : layouts) data_.push_back(static_cast<int32_t>(l));
    return at;
  }
  // The match and layouts stored at `at` for a rule of that shape (bindings unset).
  void Get(uint32_t at, const Rule& rule, int num_layouts, Match& m,
           std::vector<Layout>& layouts) const {
    const size_t nodes = rule.source.nodes.size();
    const size_t inputs = static_cast<size_t>(rule.source.num_inputs());
    const int32_t* p = data_.data() + at;
    m.nodes.assign(p, p + nodes);
    p += nodes;
    m.inputs.clear();
    for (size_t k = 0; k < inputs; ++k, p += 2) m.inputs.push_back(ValueId{p[0], p[1]});
    layouts.clear();
    for (int k = 0; k < num_layouts; ++k) layouts.push_back(static_cast<Layout>(p[k]));
  }
  size_t bytes() const { return data_.size() * sizeof(int32_t); }

 private:
  std::vector<int32_t> data_;
};

// Built graphs by entry, least recently used evicted past a node budget. The
// root is never evicted.
class StateCache {
 public:
  std::shared_ptr<const SearchState> Get(int32_t entry) {
    auto it = slots_.find(entry);
    if (it == slots_.end()) return nullptr;
    it->second.last_use = ++clock_;
    return it->second.state;
  }
  void Put(int32_t entry, std::shared_ptr<const SearchState> state) {
    nodes_ += state->graph.num_nodes();
    slots_[entry] = Slot{std::move(state), ++clock_};
    while (nodes_ > kCacheNodes && slots_.size() > 2) {
      auto victim = slots_.end();
      for (auto it = slots_.begin(); it != slots_.end(); ++it) {
        if (it->first == 0) continue;
        if (victim == slots_.end() || it->second.last_use < victim->second.last_use) victim = it;
      }
      nodes_ -= victim->second.state->graph.num_nodes();
      slots_.erase(victim);
    }
  }

 private:
  struct Slot {
    std::shared_ptr<const SearchState> state;
    uint64_t last_use = 0;
  };
  absl::flat_hash_map<int32_t, Slot> slots_;
  int64_t nodes_ = 0;
  uint64_t clock_ = 0;
};

// Threads kept for the whole search; the caller of For works with them.
// Work is handed out in chunks as threads ask for it, so a thread the
// machine does not schedule holds up no one (the expansions are short, and
// cores are shared).
class WorkerPool {
 public:
  explicit WorkerPool(int threads) {
    for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { Work(t); });
  }
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
  }
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(thread, chunk) for every chunk in [0, chunks), thread being the
  // index (0 for the caller) of the thread that runs it; returns when all ran.
  void For(size_t chunks, const std::function<void(int, size_t)>& fn) {
    if (workers_.empty() || chunks <= 1) {
      for (size_t c = 0; c < chunks; ++c) fn(0, c);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &fn;
      chunks_ = chunks;
      next_ = 0;
      open_ = true;
      ++generation_;
    }
    wake_.notify_all();
    Claim(0);
    std::unique_lock<std::mutex> lock(mu_);
    open_ = false;  // threads not yet in stay out
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
  }

 private:
  void Claim(int thread) {
    for (size_t c = next_++; c < chunks_; c = next_++) (*fn_)(thread, c);
  }
  void Work(int thread) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (!open_) continue;
      ++active_;
      lock.unlock();
      Claim(thread);
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  bool stop_ = false;
  bool open_ = false;
  uint64_t generation_ = 0;
  int active_ = 0;
  const std::function<void(int, size_t)>* fn_ = nullptr;
  size_t chunks_ = 0;
  std::atomic<size_t> next_ = 0;
};

class Search {
 public:
  Search(const RuleSet& rules, const OptimizeOptions& options, CostModel& model,
         std::span<const uint8_t> enabled)
      : rules_(rules), options_(options), model_(model), index_(rules, enabled) {
    const int threads = options.threads > 0
                            ? options.threads
                            : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    workers_ = std::make_unique<WorkerPool>(threads);
  }

  absl::StatusOr<OptimizeResult> Run(const Graph& input);

 private:
  double Elapsed() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }
  bool OutOfTime() const { return Elapsed() >= options_.time_limit.count(); }
  absl::StatusOr<std::shared_ptr<const SearchState>> Build(int32_t entry);
  void Expand(const SearchState& state, int32_t entry);
  absl::Status Describe(int32_t best, OptimizeResult& result);

  const RuleSet& rules_;
  const OptimizeOptions& options_;
  CostModel& model_;
  const RuleIndex index_;
  std::unique_ptr<WorkerPool> workers_;
  Clock::time_point start_ = Clock::now();

  std::vector<Entry> entries_;
  EntryPool pool_;
  StateCache cache_;
  absl::flat_hash_set<uint64_t> seen_;
  TargetPlanCache plans_;
  // Min-heap by (cost, entry): ties go to the entry generated first.
  std::priority_queue<std::pair<double, int32_t>, std::vector<std::pair<double, int32_t>>,
                      std::greater<>>
      queue_;
  double best_cost_ = 0;
  int max_nodes_ = 0;
  bool timed_out_ = false;
  SearchStats stats_;
};

absl::StatusOr<std::shared_ptr<const SearchState>> Search::Build(int32_t entry) {
  if (std::shared_ptr<const SearchState> s = cache_.Get(entry)) return s;
  // Walk up to a built ancestor, then rebuild down.
  std::vector<int32_t> chain;
  std::shared_ptr<const SearchState> state;
  for (int32_t e = entry; !state; e = entries_[static_cast<size_t>(e)].parent) {
    chain.push_back(e);
    state = cache_.Get(entries_[static_cast<size_t>(e)].parent);
  }
  Match match;
  std::vector<Layout> layouts;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const Entry& e = entries_[static_cast<size_t>(*it)];
    const Rule& rule = rules_.rules()[static_cast<size_t>(e.rule)];
    pool_.Get(e.data, rule, e.num_layouts, match, layouts);
    match.rule = e.rule;
    absl::StatusOr<Bindings> b = BindMatch(state->graph, rule, match.nodes, match.inputs);
    if (!b.ok()) return absl::InternalError(StrCat("rebuilding a graph: ", b.status().message()));
    match.bindings = *std::move(b);
    absl::StatusOr<Graph> g = ApplyMatch(state->graph, rule, match, layouts);
    if (!g.ok()) return absl::InternalError(StrCat("rebuilding a graph: ", g.status().message()));
    // The whole graph is laid out again (the rewrite chose layouts for its
    // new values only), so that rewrites and layouts are searched together.
    if (options_.optimize_layouts) OptimizeLayouts(*g, model_);
    absl::StatusOr<std::unique_ptr<SearchState>> next = MakeSearchState(*std::move(g), model_);
    if (!next.ok()) return absl::InternalError(StrCat("rebuilding a graph: ", next.status().message()));
    state = std::shared_ptr<const SearchState>(*std::move(next));
    ++stats_.graphs_built;
    cache_.Put(*it, state);
  }
  return state;
}

void Search::Expand(const SearchState& state, int32_t entry) {
  // Match, in parallel over ranges of roots; concatenated in root order.
  const int threads = workers_->threads();
  const NodeId n = state.graph.num_nodes();
  const size_t ranges = threads == 1 ? 1 : static_cast<size_t>(std::min<NodeId>(n, 8 * threads));
  std::vector<std::vector<Match>> parts(ranges);
  workers_->For(ranges, [&](int, size_t c) {
    parts[c] = state.matcher->FindAllRooted(
        index_, static_cast<NodeId>(static_cast<size_t>(n) * c / ranges),
        static_cast<NodeId>(static_cast<size_t>(n) * (c + 1) / ranges));
  });
  std::vector<Match> matches;
  for (std::vector<Match>& part : parts) {
    if (matches.empty()) {
      matches = std::move(part);
    } else {
      std::move(part.begin(), part.end(), std::back_inserter(matches));
    }
  }
  // Evaluate, in parallel over chunks of matches, one evaluator per thread.
  constexpr size_t kChunk = 32;
  std::vector<std::optional<absl::StatusOr<CandidateEval>>> results(matches.size());
  std::vector<std::unique_ptr<CandidateEvaluator>> evaluators(static_cast<size_t>(threads));
  std::atomic<bool> out_of_time = false;
  workers_->For((matches.size() + kChunk - 1) / kChunk, [&](int t, size_t c) {
    if (out_of_time || OutOfTime()) {
      out_of_time = true;
      return;
    }
    std::unique_ptr<CandidateEvaluator>& evaluator = evaluators[static_cast<size_t>(t)];
    if (evaluator == nullptr) {
      evaluator = std::make_unique<CandidateEvaluator>(state, model_, options_.optimize_layouts, &plans_);
    }
    for (size_t i = c * kChunk; i < std::min(matches.size(), (c + 1) * kChunk); ++i) {
      const Match& m = matches[i];
      results[i] = evaluator->Evaluate(rules_.rules()[static_cast<size_t>(m.rule)], m);
    }
  });
  // Keep the candidates in match order, so that the result does not depend
  // on the number of threads.
  for (size_t i = 0; i < matches.size(); ++i) {
    if (!results[i].has_value()) {
      timed_out_ = true;
      return;
    }
    const Match& m = matches[i];
    ++stats_.generated;
    absl::StatusOr<CandidateEval>& eval = *results[i];
    if (!eval.ok()) {
      ++stats_.rejected;
      continue;
    }
    if (seen_.contains(eval->hash)) {
      ++stats_.duplicates_skipped;
      continue;
    }
    if (eval->num_nodes > max_nodes_ || eval->cost >= options_.alpha * best_cost_) {
      ++stats_.pruned;
      continue;
    }
    seen_.insert(eval->hash);
    Entry e;
    e.parent = entry;
    e.rule = m.rule;
    e.data = pool_.Add(m, eval->layouts);
    e.num_layouts = static_cast<uint16_t>(eval->layouts.size());
    e.cost = eval->cost;
    e.hash = eval->hash;
    entries_.push_back(e);
    queue_.emplace(e.cost, static_cast<int32_t>(entries_.size() - 1));
    stats_.max_frontier = std::max<int64_t>(stats_.max_frontier, static_cast<int64_t>(queue_.size()));
  }
}

absl::Status Search::Describe(int32_t best, OptimizeResult& result) {
  std::vector<int32_t> path;
  for (int32_t e = best; e > 0; e = entries_[static_cast<size_t>(e)].parent) path.push_back(e);
  std::reverse(path.begin(), path.end());
  Match match;
  std::vector<Layout> layouts;
  for (int32_t e : path) {
    const Entry& entry = entries_[static_cast<size_t>(e)];
    absl::StatusOr<std::shared_ptr<const SearchState>> parent = Build(entry.parent);
    if (!parent.ok()) return parent.status();
    absl::StatusOr<std::shared_ptr<const SearchState>> self = Build(e);
    if (!self.ok()) return self.status();
    const Rule& rule = rules_.rules()[static_cast<size_t>(entry.rule)];
    pool_.Get(entry.data, rule, entry.num_layouts, match, layouts);
    const Graph& before = (*parent)->graph;
    AppliedStep step{AppliedStep::Kind::kRule, rule.id, DescribeMatch(before, rule, match),
                     (*self)->cost};
    step.nodes = MatchNodeLabels(before, NodeLabels(before), match);
    if (absl::StatusOr<Bindings> b = BindMatch(before, rule, match.nodes, match.inputs); b.ok()) {
      match.bindings = *std::move(b);
      if (absl::StatusOr<RewriteRegion> r = MatchRegion(before, rule, match, layouts); r.ok()) {
        step.region = *std::move(r);
      }
    }
    result.steps.push_back(std::move(step));
  }
  return absl::OkStatus();
}

absl::StatusOr<OptimizeResult> Search::Run(const Graph& input) {
  OptimizeResult result;
  result.cost_model = model_.Name();
  result.cost_before = ComputeGraphCost(input, model_).total;

  Graph root = input;
  root.RemoveDeadCode();
  // Repeated computations (NASNet-A's cells pool the same input twice) are
  // merged before the search: the same value, computed once.
  if (const int merged = root.MergeDuplicates(); merged > 0) {
    root.RemoveDeadCode();
    result.steps.push_back({AppliedStep::Kind::kMerged, "",
                            StrCat(merged, merged == 1 ? " repeated op" : " repeated ops", " merged"),
                            ComputeGraphCost(root, model_).total});
  }
  int root_layouts = 0;
  if (options_.optimize_layouts) root_layouts = OptimizeLayouts(root, model_);
  absl::StatusOr<std::unique_ptr<SearchState>> root_state = MakeSearchState(std::move(root), model_);
  if (!root_state.ok()) return root_state.status();
  std::shared_ptr<const SearchState> root_shared(*std::move(root_state));
  if (root_layouts > 0 && root_shared->cost < result.cost_before - kCostEpsilon) {
    result.steps.push_back({AppliedStep::Kind::kLayouts, "",
                            StrCat(root_layouts, " values laid out"), root_shared->cost});
  }
  max_nodes_ = static_cast<int>(options_.max_node_ratio * root_shared->graph.num_nodes());
  entries_.push_back(Entry{-1, -1, 0, 0, root_shared->cost, root_shared->hash()});
  seen_.insert(root_shared->hash());
  cache_.Put(0, root_shared);
  queue_.emplace(root_shared->cost, 0);
  stats_.max_frontier = 1;
  best_cost_ = root_shared->cost;
  int32_t best = 0;

  stats_.stop = StopReason::kExhausted;
  while (!queue_.empty()) {
    if (stats_.explored >= options_.budget) {
      stats_.stop = StopReason::kBudget;
      break;
    }
    if (timed_out_ || OutOfTime()) {
      stats_.stop = StopReason::kTimeLimit;
      break;
    }
    const auto [estimate, entry] = queue_.top();
    if (estimate > options_.alpha * best_cost_ + kCostEpsilon) {
      break;  // every graph left is outside alpha of the best
    }
    queue_.pop();
    absl::StatusOr<std::shared_ptr<const SearchState>> state = Build(entry);
    if (!state.ok()) return state.status();
    if ((*state)->cost < best_cost_ - kCostEpsilon) {
      best_cost_ = (*state)->cost;
      best = entry;
    }
    ++stats_.explored;
    Expand(**state, entry);
    if (options_.progress) {
      options_.progress({stats_.explored, stats_.generated, static_cast<int64_t>(queue_.size()),
                         best_cost_, Elapsed()});
    }
  }
  if (timed_out_) stats_.stop = StopReason::kTimeLimit;
  // A queued graph may beat every expanded one.
  if (!queue_.empty() && queue_.top().first < best_cost_ - kCostEpsilon) {
    absl::StatusOr<std::shared_ptr<const SearchState>> state = Build(queue_.top().second);
    if (!state.ok()) return state.status();
    if ((*state)->cost < best_cost_ - kCostEpsilon) {
      best_cost_ = (*state)->cost;
      best = queue_.top().second;
    }
  }

  if (absl::Status s = Describe(best, result); !s.ok()) return s;
  absl::StatusOr<std::shared_ptr<const SearchState>> best_state = Build(best);
  if (!best_state.ok()) return best_state.status();
  Graph out = (*best_state)->graph;
  if (options_.optimize_layouts) {
    const int changed = OptimizeLayouts(out, model_);
    const double cost = ComputeGraphCost(out, model_).total;
    if (changed > 0 && cost < best_cost_ - kCostEpsilon) {
      result.steps.push_back(
          {AppliedStep::Kind::kLayouts, "", StrCat(changed, " values laid out"), cost});
    }
  }
  if (result.steps.empty()) {
    result.graph = input;
    result.cost_after = result.cost_before;
  } else {
    result.graph = std::move(out);
  }
  const GraphCost final_cost = ComputeGraphCost(result.graph, model_);
  result.cost_after = final_cost.total;
  result.precomputed_ops = final_cost.precomputed_ops;
  result.charged_ops = final_cost.charged_ops;
  stats_.seconds = Elapsed();
  result.stats = stats_;
  return result;
}

}  // namespace

bool RuleStatusAllowed(RuleStatus status, RuleStatus min_status) {
  if (status == RuleStatus::kProved) return true;
  return status == RuleStatus::kTested && min_status == RuleStatus::kTested;
}

absl::StatusOr<OptimizeResult> Optimize(const Graph& graph, const RuleSet& rules,
                                        const OptimizeOptions& options) {
  if (!(options.alpha >= 1.0)) {
    return absl::InvalidArgumentError(StrCat("alpha must be at least 1, not ", options.alpha));
  }
  if (options.budget < 0) {
    return absl::InvalidArgumentError(StrCat("the budget must not be negative, not ", options.budget));
  }
  if (!(options.time_limit.count() >= 0)) {
    return absl::InvalidArgumentError("the time limit must not be negative");
  }
  if (options.min_status != RuleStatus::kProved && options.min_status != RuleStatus::kTested) {
    return absl::InvalidArgumentError(StrCat("rules that are ", RuleStatusName(options.min_status),
                                             " are never applied; min_status must be proved or tested"));
  }
  if (!(options.max_node_ratio >= 1.0)) {
    return absl::InvalidArgumentError("max_node_ratio must be at least 1");
  }
  if (absl::Status s = graph.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(StrCat("graph ", graph.name(), ": ", s.message()));
  }
  Flags enabled(static_cast<size_t>(rules.size()), 0);
  int used = 0;
  for (int i = 0; i < rules.size(); ++i) {
    if (RuleStatusAllowed(rules.rules()[static_cast<size_t>(i)].status, options.min_status)) {
      enabled[static_cast<size_t>(i)] = 1;
      ++used;
    }
  }
  // A rule that repeats an earlier one up to renaming makes the same graphs.
  const Flags redundant = RedundantRules(rules, enabled);
  int dropped = 0;
  for (size_t i = 0; i < enabled.size(); ++i) {
    if (redundant[i]) {
      enabled[i] = 0;
      ++dropped;
    }
  }
  AnalyticalCostModel analytical;
  CachedCostModel cached(options.cost_model != nullptr ? options.cost_model : &analytical);
  Search search(rules, options, cached, enabled);
  absl::StatusOr<OptimizeResult> result = search.Run(graph);
  if (result.ok()) {
    result->rules_used = used;
    result->rules_redundant = dropped;
  }
  return result;
}

}  // namespace lemma
