#include "generator/enumerate.h"

#include <algorithm>

#include "absl/container/node_hash_map.h"
#include "ir/hash.h"
#include "ir/strings.h"
#include "kernels/random.h"
#include "kernels/reference.h"

namespace lemma {
namespace {

constexpr uint64_t kUniverseSalt = 0x756e697665727365ULL;
constexpr uint64_t kOpSalt = 0x6f70657261746f72ULL;
constexpr uint64_t kSinkSalt = 0x73696e6b73756d73ULL;
constexpr int kMaxOutputs = 2;
constexpr int kFieldBits = 5;

uint64_t UniverseKey(int u) { return HashCombine(kUniverseSalt, static_cast<uint64_t>(u)); }

uint64_t OpKey(int tmpl, int choice, std::span<const uint64_t> in_keys) {
  uint64_t h = HashCombine(HashCombine(kOpSalt, static_cast<uint64_t>(tmpl)),
                           static_cast<uint64_t>(choice));
  for (uint64_t k : in_keys) h = HashCombine(h, k);
  return h;
}

uint64_t OutputKey(uint64_t op_key, int j) {
  return HashCombine(op_key, static_cast<uint64_t>(j) + 1);
}

// The term a sink adds to a fingerprint.
uint64_t SinkTerm(uint64_t hash) { return Mix64(hash ^ kSinkSalt); }

uint64_t EncodeOp(const GraphOp& op, int arity) {
  uint64_t f = static_cast<uint64_t>(op.tmpl) + 1;
  if (arity >= 1) f |= static_cast<uint64_t>(op.in[0]) << 6;
  const int second = arity == 2 ? op.in[1] : arity == 1 ? op.choice : 0;
  f |= static_cast<uint64_t>(second) << (6 + kFieldBits);
  return f;
}

}  // namespace

uint64_t TensorHash(const Tensor<uint64_t>& t) {
  uint64_t h = 0x243f6a8885a308d3ULL ^ t.type.dims.size();
  for (int64_t d : t.type.dims) h = HashCombine(h, static_cast<uint64_t>(d));
  for (uint64_t v : t.data) {
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  return Mix64(h);
}

int NumOps(GraphCode code) {
  int n = 0;
  while (n < kMaxGraphOps && ((code >> (16 * n)) & 63) != 0) ++n;
  return n;
}

GraphCode EncodeGraph(const DecodedGraph& graph, const SearchSpace& space) {
  if (graph.identity >= 0) return static_cast<GraphCode>(graph.identity) << 6;
  GraphCode code = 0;
  for (size_t i = 0; i < graph.ops.size(); ++i) {
    const GraphOp& op = graph.ops[i];
    code |= EncodeOp(op, space.templates()[static_cast<size_t>(op.tmpl)].arity) << (16 * i);
  }
  return code;
}

DecodedGraph DecodeGraph(GraphCode code, const SearchSpace& space) {
  DecodedGraph g;
  const int n = NumOps(code);
  if (n == 0) {
    g.identity = static_cast<int>((code >> 6) & 31);
    return g;
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t f = code >> (16 * i);
    GraphOp op;
    op.tmpl = static_cast<int>(f & 63) - 1;
    const int arity = space.templates()[static_cast<size_t>(op.tmpl)].arity;
    const int a = static_cast<int>((f >> 6) & 31), b = static_cast<int>((f >> 11) & 31);
    if (arity >= 1) op.in[0] = a;
    if (arity == 2) op.in[1] = b;
    if (arity == 1) op.choice = b;
    g.ops.push_back(op);
  }
  return g;
}

EnumerationStats& EnumerationStats::operator+=(const EnumerationStats& o) {
  graphs += o.graphs;
  duplicates += o.duplicates;
  dropped += o.dropped;
  evaluations += o.evaluations;
  cache_hits += o.cache_hits;
  return *this;
}

// ---------------------------------------------------------------- worker

class EnumerationWorker::Impl {
 public:
  explicit Impl(const Enumerator& e);

  // Records mode: every graph of the unit into `out`.
  absl::Status Run(const WorkUnit& unit, std::vector<GraphRecord>& out, EnumerationStats& stats,
                   const std::atomic<bool>& stop);
  // Units mode: the graphs of up to `depth` ops as units.
  std::vector<WorkUnit> Units(int depth);
  absl::StatusOr<ReplayedGraph> Replay(const DecodedGraph& graph);

 private:
  struct Slot {
    const Tensor<uint64_t>* value = nullptr;
    ValueId id;
    int shape = -1;
    uint64_t key = 0, hash = 0;
    int producer = -1;  // stack index; -1 for universe tensors
    int uses = 0;
    int depth = 0;      // ops on the longest path from the universe
  };
  struct AppEntry {
    Application app;
    std::vector<int> out_shapes;
  };
  struct CachedEval {
    std::vector<Tensor<uint64_t>> values;
    std::vector<uint64_t> hashes;
  };
  // An op about to be offered: its key, inputs and computed outputs.
  struct Candidate {
    GraphOp op;
    int arity = 0;
    uint64_t key = 0;
    int first = -1;                  // index into first_, for ops over universe tensors
    const AppEntry* app = nullptr;   // for the others
    int num_outputs = 0;
    std::array<const Tensor<uint64_t>*, kMaxOutputs> values = {};
    std::array<uint64_t, kMaxOutputs> hashes = {};
    std::array<int, kMaxOutputs> shapes = {};
    int depth = 1;
    std::vector<Tensor<uint64_t>> owned;  // computed outputs nobody caches
  };
  struct Frame {
    GraphOp op;
    int arity = 0;
    uint64_t key = 0;
    int first_slot = 0;
    int num_outputs = 0;
    bool added_node = false;
    std::vector<Tensor<uint64_t>> owned;
  };

  int Intern(const SymShape& s);
  const AppEntry* ApplyCached(int tmpl, int choice, std::span<const int> shapes);
  const std::vector<int>& Partners(int tmpl, int position, int shape);
  // Fills the key of `c` (op and arity set); false when the op is out of
  // canonical order or repeats an op of the graph.
  bool CanonicalKey(Candidate& c) const;
  // Computes the outputs of a candidate that is not a first op.
  bool Materialize(Candidate& c);
  void SetFirst(Candidate& c, int index) const;
  void Offer(Candidate& c, bool extend);
  void Push(Candidate& c);
  void Pop();
  void Dfs();
  void ConsiderConnected(int tmpl, int choice, int in0, int in1);
  bool ShouldStop();

  const Enumerator& e_;
  const SearchSpace& space_;
  Graph graph_;
  std::vector<Slot> slots_;
  std::vector<Frame> stack_;
  std::vector<std::vector<int>> first_shapes_;
  std::vector<uint64_t> first_keys_;
  absl::flat_hash_map<SymShape, int> shape_ids_;
  std::vector<const SymShape*> shapes_;
  std::vector<std::unique_ptr<SymShape>> shape_storage_;
  absl::flat_hash_map<uint64_t, int> app_index_;
  std::vector<std::unique_ptr<AppEntry>> apps_;
  absl::node_hash_map<uint64_t, std::vector<int>> partners_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<CachedEval>> eval_cache_;

  // The current run.
  int limit_ = 0;
  GraphCode code_ = 0;
  uint64_t sink_sum_ = 0;
  int num_sinks_ = 0;
  std::vector<GraphRecord>* records_ = nullptr;
  EnumerationStats* stats_ = nullptr;
  const std::atomic<bool>* stop_ = nullptr;
  bool stopped_ = false;
  int64_t since_check_ = 0;
  std::vector<WorkUnit>* units_ = nullptr;
};

EnumerationWorker::Impl::Impl(const Enumerator& e)
    : e_(e), space_(e.space()), graph_(e.base_) {
  const int num_universe = static_cast<int>(e.universe_values_.size());
  for (int u = 0; u < num_universe; ++u) {
    Slot s;
    s.value = &e.universe_values_[static_cast<size_t>(u)];
    s.id = ValueId{u, 0};
    s.shape = Intern(space_.universe().tensors[static_cast<size_t>(u)].shape);
    s.key = e.universe_keys_[static_cast<size_t>(u)];
    s.hash = e.universe_hashes_[static_cast<size_t>(u)];
    slots_.push_back(s);
  }
  for (const Enumerator::FirstOp& f : e.first_) {
    std::vector<int> ids;
    for (const SymShape& s : f.shapes) ids.push_back(Intern(s));
    first_shapes_.push_back(std::move(ids));
    first_keys_.push_back(f.key);
  }
  stack_.reserve(kMaxGraphOps + 1);
  slots_.reserve(static_cast<size_t>(num_universe + kMaxOutputs * (kMaxGraphOps + 1)));
}

int EnumerationWorker::Impl::Intern(const SymShape& s) {
  auto it = shape_ids_.find(s);
  if (it != shape_ids_.end()) return it->second;
  const int id = static_cast<int>(shapes_.size());
  shape_storage_.push_back(std::make_unique<SymShape>(s));
  shapes_.push_back(shape_storage_.back().get());
  shape_ids_.emplace(s, id);
  return id;
}

const EnumerationWorker::Impl::AppEntry* EnumerationWorker::Impl::ApplyCached(
    int tmpl, int choice, std::span<const int> shapes) {
  uint64_t key = static_cast<uint64_t>(tmpl) | static_cast<uint64_t>(choice) << 6;
  for (size_t i = 0; i < shapes.size(); ++i) {
    key |= static_cast<uint64_t>(shapes[i] + 1) << (11 + 26 * i);
  }
  auto it = app_index_.find(key);
  if (it != app_index_.end()) return it->second < 0 ? nullptr : apps_[static_cast<size_t>(it->second)].get();
  std::array<const SymShape*, 2> in = {};
  for (size_t i = 0; i < shapes.size(); ++i) in[i] = shapes_[static_cast<size_t>(shapes[i])];
  const std::span<const SymShape* const> inputs(in.data(), shapes.size());
  std::optional<Application> app;
  if (choice < space_.NumChoices(tmpl, inputs)) app = space_.Apply(tmpl, choice, inputs);
  if (!app || static_cast<int>(app->outputs.size()) > kMaxOutputs) {
    app_index_.emplace(key, -1);
    return nullptr;
  }
  std::vector<int> out_shapes;
  for (const SymShape& s : app->outputs) out_shapes.push_back(Intern(s));
  auto entry = std::make_unique<AppEntry>(AppEntry{std::move(*app), std::move(out_shapes)});
  app_index_.emplace(key, static_cast<int>(apps_.size()));
  apps_.push_back(std::move(entry));
  return apps_.back().get();
}

const std::vector<int>& EnumerationWorker::Impl::Partners(int tmpl, int position, int shape) {
  const uint64_t key = static_cast<uint64_t>(tmpl) | static_cast<uint64_t>(position) << 6 |
                       static_cast<uint64_t>(shape) << 7;
  auto it = partners_.find(key);
  if (it != partners_.end()) return it->second;
  std::vector<int> partners;
  const int num_universe = static_cast<int>(e_.universe_values_.size());
  for (int u = 0; u < num_universe; ++u) {
    std::array<int, 2> shapes = {shape, slots_[static_cast<size_t>(u)].shape};
    if (position == 1) std::swap(shapes[0], shapes[1]);
    if (ApplyCached(tmpl, 0, shapes) != nullptr) partners.push_back(u);
  }
  return partners_.emplace(key, std::move(partners)).first->second;
}

bool EnumerationWorker::Impl::CanonicalKey(Candidate& c) const {
  std::array<uint64_t, 2> keys = {};
  int j0 = 0;
  for (int i = 0; i < c.arity; ++i) {
    const Slot& s = slots_[static_cast<size_t>(c.op.in[static_cast<size_t>(i)])];
    keys[static_cast<size_t>(i)] = s.key;
    j0 = std::max(j0, s.producer + 1);
  }
  c.key = OpKey(c.op.tmpl, c.op.choice, std::span<const uint64_t>(keys.data(), static_cast<size_t>(c.arity)));
  for (size_t j = static_cast<size_t>(j0); j < stack_.size(); ++j) {
    if (c.key <= stack_[j].key) return false;
  }
  return true;
}

void EnumerationWorker::Impl::SetFirst(Candidate& c, int index) const {
  const Enumerator::FirstOp& f = e_.first_[static_cast<size_t>(index)];
  c.op = f.op;
  c.arity = space_.templates()[static_cast<size_t>(f.op.tmpl)].arity;
  c.key = f.key;
  c.first = index;
  c.app = nullptr;
  c.num_outputs = static_cast<int>(f.values.size());
  for (int j = 0; j < c.num_outputs; ++j) {
    c.values[static_cast<size_t>(j)] = &f.values[static_cast<size_t>(j)];
    c.hashes[static_cast<size_t>(j)] = f.hashes[static_cast<size_t>(j)];
    c.shapes[static_cast<size_t>(j)] = first_shapes_[static_cast<size_t>(index)][static_cast<size_t>(j)];
  }
  c.depth = 1;
  c.owned.clear();
}

bool EnumerationWorker::Impl::Materialize(Candidate& c) {
  const OpTemplate& t = space_.templates()[static_cast<size_t>(c.op.tmpl)];
  std::array<int, 2> shapes = {};
  std::array<ValueId, 2> ids = {};
  std::array<const Tensor<uint64_t>*, 2> inputs = {};
  bool cacheable = true;
  c.depth = 1;
  for (int i = 0; i < c.arity; ++i) {
    const Slot& s = slots_[static_cast<size_t>(c.op.in[static_cast<size_t>(i)])];
    shapes[static_cast<size_t>(i)] = s.shape;
    ids[static_cast<size_t>(i)] = s.id;
    inputs[static_cast<size_t>(i)] = s.value;
    cacheable = cacheable && s.depth <= 1;
    c.depth = std::max(c.depth, s.depth + 1);
  }
  c.app = ApplyCached(c.op.tmpl, c.op.choice,
                      std::span<const int>(shapes.data(), static_cast<size_t>(c.arity)));
  if (c.app == nullptr) return false;
  c.first = -1;
  c.num_outputs = static_cast<int>(c.app->out_shapes.size());
  for (int j = 0; j < c.num_outputs; ++j) c.shapes[static_cast<size_t>(j)] = c.app->out_shapes[static_cast<size_t>(j)];
  if (cacheable) {
    auto it = eval_cache_.find(c.key);
    if (it != eval_cache_.end()) {
      ++stats_->cache_hits;
      for (int j = 0; j < c.num_outputs; ++j) {
        c.values[static_cast<size_t>(j)] = &it->second->values[static_cast<size_t>(j)];
        c.hashes[static_cast<size_t>(j)] = it->second->hashes[static_cast<size_t>(j)];
      }
      return true;
    }
  }
  absl::StatusOr<NodeId> node = graph_.AddNode(
      t.op, c.app->app.attrs, std::vector<ValueId>(ids.begin(), ids.begin() + c.arity));
  if (!node.ok()) return false;
  absl::StatusOr<std::vector<Tensor<uint64_t>>> out = EvaluateNode<ModP>(
      graph_, *node,
      std::span<const Tensor<uint64_t>* const>(inputs.data(), static_cast<size_t>(c.arity)));
  const absl::Status removed = graph_.RemoveLastNode();
  ++stats_->evaluations;
  if (!out.ok() || !removed.ok() || static_cast<int>(out->size()) != c.num_outputs) return false;
  std::vector<uint64_t> hashes;
  for (const Tensor<uint64_t>& v : *out) hashes.push_back(TensorHash(v));
  if (cacheable) {
    auto entry = std::make_unique<CachedEval>(CachedEval{std::move(*out), hashes});
    CachedEval& stored = *eval_cache_.emplace(c.key, std::move(entry)).first->second;
    for (int j = 0; j < c.num_outputs; ++j) {
      c.values[static_cast<size_t>(j)] = &stored.values[static_cast<size_t>(j)];
      c.hashes[static_cast<size_t>(j)] = hashes[static_cast<size_t>(j)];
    }
    c.owned.clear();
    return true;
  }
  c.owned = std::move(*out);
  for (int j = 0; j < c.num_outputs; ++j) {
    c.values[static_cast<size_t>(j)] = &c.owned[static_cast<size_t>(j)];
    c.hashes[static_cast<size_t>(j)] = hashes[static_cast<size_t>(j)];
  }
  return true;
}

bool EnumerationWorker::Impl::ShouldStop() {
  if (stopped_) return true;
  if (++since_check_ >= 1024) {
    since_check_ = 0;
    if (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) stopped_ = true;
  }
  return stopped_;
}

void EnumerationWorker::Impl::Offer(Candidate& c, bool extend) {
  const int depth = static_cast<int>(stack_.size());
  bool duplicate = false;
  for (int j = 0; j < c.num_outputs; ++j) {
    const uint64_t h = c.hashes[static_cast<size_t>(j)];
    for (int j2 = 0; j2 < j; ++j2) {
      if (c.hashes[static_cast<size_t>(j2)] == h) {
        ++stats_->dropped;
        return;
      }
    }
    for (size_t s = 0; s < slots_.size(); ++s) {
      if (slots_[s].hash != h) continue;
      const bool read_here = (c.arity >= 1 && c.op.in[0] == static_cast<int>(s)) ||
                             (c.arity == 2 && c.op.in[1] == static_cast<int>(s));
      if (slots_[s].producer >= 0 && slots_[s].uses == 0 && !read_here) {
        ++stats_->dropped;  // two sinks would be equal
        return;
      }
      duplicate = true;
    }
  }
  uint64_t fp = sink_sum_;
  int sinks = num_sinks_ + c.num_outputs;
  for (int i = 0; i < c.arity; ++i) {
    const Slot& s = slots_[static_cast<size_t>(c.op.in[static_cast<size_t>(i)])];
    if (s.producer >= 0 && s.uses == 0) {
      fp -= SinkTerm(s.hash);
      --sinks;
    }
  }
  if (duplicate && sinks > 1) {
    // Only a one-output graph that repeats a tensor states a rule (its
    // output is an input or an inner value); the others repeat smaller ones.
    ++stats_->dropped;
    return;
  }
  for (int j = 0; j < c.num_outputs; ++j) fp += SinkTerm(c.hashes[static_cast<size_t>(j)]);
  const GraphCode code = code_ | EncodeOp(c.op, c.arity) << (16 * depth);
  if (units_ != nullptr) {
    WorkUnit unit;
    for (const Frame& f : stack_) unit.prefix.push_back(f.op);
    unit.prefix.push_back(c.op);
    unit.terminal = duplicate || depth + 1 < limit_ || depth + 1 >= e_.max_ops();
    units_->push_back(std::move(unit));
  } else {
    records_->push_back(GraphRecord{fp, code});
    ++stats_->graphs;
    if (duplicate) ++stats_->duplicates;
  }
  if (!extend || duplicate || depth + 1 >= limit_ || ShouldStop()) return;
  Push(c);
  Dfs();
  Pop();
}

void EnumerationWorker::Impl::Push(Candidate& c) {
  const int depth = static_cast<int>(stack_.size());
  Frame f;
  f.op = c.op;
  f.arity = c.arity;
  f.key = c.key;
  f.first_slot = static_cast<int>(slots_.size());
  f.num_outputs = c.num_outputs;
  f.owned = std::move(c.owned);
  c.owned.clear();
  std::array<ValueId, kMaxOutputs> ids = {};
  if (c.first >= 0) {
    const NodeId node = e_.first_[static_cast<size_t>(c.first)].node;
    for (int j = 0; j < c.num_outputs; ++j) ids[static_cast<size_t>(j)] = ValueId{node, j};
  } else {
    std::vector<ValueId> in;
    for (int i = 0; i < c.arity; ++i) in.push_back(slots_[static_cast<size_t>(c.op.in[static_cast<size_t>(i)])].id);
    const OpTemplate& t = space_.templates()[static_cast<size_t>(c.op.tmpl)];
    absl::StatusOr<NodeId> node = graph_.AddNode(t.op, c.app->app.attrs, std::move(in));
    // The same node was added (and taken back) when it was evaluated.
    const NodeId id = node.ok() ? *node : -1;
    f.added_node = node.ok();
    for (int j = 0; j < c.num_outputs; ++j) ids[static_cast<size_t>(j)] = ValueId{id, j};
  }
  for (int i = 0; i < c.arity; ++i) {
    Slot& s = slots_[static_cast<size_t>(c.op.in[static_cast<size_t>(i)])];
    if (s.producer >= 0 && s.uses == 0) {
      sink_sum_ -= SinkTerm(s.hash);
      --num_sinks_;
    }
    ++s.uses;
  }
  stack_.push_back(std::move(f));
  Frame& top = stack_.back();
  for (int j = 0; j < c.num_outputs; ++j) {
    Slot s;
    s.value = top.owned.empty() ? c.values[static_cast<size_t>(j)] : &top.owned[static_cast<size_t>(j)];
    s.id = ids[static_cast<size_t>(j)];
    s.shape = c.shapes[static_cast<size_t>(j)];
    s.key = OutputKey(c.key, j);
    s.hash = c.hashes[static_cast<size_t>(j)];
    s.producer = depth;
    s.depth = c.depth;
    slots_.push_back(s);
    sink_sum_ += SinkTerm(s.hash);
    ++num_sinks_;
  }
  code_ |= EncodeOp(c.op, c.arity) << (16 * depth);
}

void EnumerationWorker::Impl::Pop() {
  Frame& f = stack_.back();
  const int depth = static_cast<int>(stack_.size()) - 1;
  for (int j = f.num_outputs - 1; j >= 0; --j) {
    sink_sum_ -= SinkTerm(slots_.back().hash);
    --num_sinks_;
    slots_.pop_back();
  }
  for (int i = 0; i < f.arity; ++i) {
    Slot& s = slots_[static_cast<size_t>(f.op.in[static_cast<size_t>(i)])];
    --s.uses;
    if (s.producer >= 0 && s.uses == 0) {
      sink_sum_ += SinkTerm(s.hash);
      ++num_sinks_;
    }
  }
  if (f.added_node) {
    const absl::Status s = graph_.RemoveLastNode();
    (void)s;  // the node was added last and nothing refers to it
  }
  code_ &= ~(GraphCode{0xffff} << (16 * depth));
  stack_.pop_back();
}

void EnumerationWorker::Impl::ConsiderConnected(int tmpl, int choice, int in0, int in1) {
  const OpTemplate& t = space_.templates()[static_cast<size_t>(tmpl)];
  if (t.arity == 2 && t.commutative &&
      slots_[static_cast<size_t>(in0)].key >= slots_[static_cast<size_t>(in1)].key) {
    return;
  }
  Candidate c;
  c.op.tmpl = tmpl;
  c.op.choice = choice;
  c.op.in = {in0, t.arity == 2 ? in1 : 0};
  c.arity = t.arity;
  if (!CanonicalKey(c)) return;
  if (!Materialize(c)) return;
  Offer(c, true);
}

void EnumerationWorker::Impl::Dfs() {
  const int depth = static_cast<int>(stack_.size());
  if (depth >= limit_) return;
  // Ops over universe tensors: every producer precedes them, so their key
  // must exceed every key of the graph.
  size_t start = 0;
  if (!stack_.empty()) {
    uint64_t max_key = 0;
    for (const Frame& f : stack_) max_key = std::max(max_key, f.key);
    start = static_cast<size_t>(std::upper_bound(first_keys_.begin(), first_keys_.end(), max_key) -
                                first_keys_.begin());
  }
  for (size_t i = start; i < first_keys_.size(); ++i) {
    if (ShouldStop()) return;
    Candidate c;
    SetFirst(c, static_cast<int>(i));
    Offer(c, true);
  }
  // Ops that read an output of the graph.
  const int num_universe = static_cast<int>(e_.universe_values_.size());
  const int num_slots = static_cast<int>(slots_.size());
  const int num_templates = static_cast<int>(space_.templates().size());
  for (int o = num_universe; o < num_slots; ++o) {
    const int shape = slots_[static_cast<size_t>(o)].shape;
    for (int t = 0; t < num_templates; ++t) {
      if (ShouldStop()) return;
      const OpTemplate& tp = space_.templates()[static_cast<size_t>(t)];
      if (tp.arity == 1) {
        const SymShape* in[1] = {shapes_[static_cast<size_t>(shape)]};
        const int choices = space_.NumChoices(t, in);
        for (int ch = 0; ch < choices; ++ch) ConsiderConnected(t, ch, o, 0);
      } else if (tp.arity == 2) {
        for (int u : Partners(t, 0, shape)) ConsiderConnected(t, 0, o, u);
        for (int u : Partners(t, 1, shape)) ConsiderConnected(t, 0, u, o);
        for (int o2 = num_universe; o2 < num_slots; ++o2) {
          if (o2 != o) ConsiderConnected(t, 0, o, o2);
        }
      }
    }
  }
}

absl::Status EnumerationWorker::Impl::Run(const WorkUnit& unit, std::vector<GraphRecord>& out,
                                          EnumerationStats& stats,
                                          const std::atomic<bool>& stop) {
  records_ = &out;
  stats_ = &stats;
  stop_ = &stop;
  stopped_ = false;
  units_ = nullptr;
  limit_ = e_.max_ops();
  absl::Status status = absl::OkStatus();
  const size_t n = unit.prefix.size();
  for (size_t i = 0; i < n; ++i) {
    Candidate c;
    c.op = unit.prefix[i];
    c.arity = space_.templates()[static_cast<size_t>(c.op.tmpl)].arity;
    bool ok = CanonicalKey(c);
    if (ok) {
      auto it = e_.first_by_key_.find(c.key);
      if (it != e_.first_by_key_.end()) {
        SetFirst(c, it->second);
      } else {
        ok = Materialize(c);
      }
    }
    if (!ok) {
      status = absl::InternalError(StrCat("work unit op ", i, " does not apply"));
      break;
    }
    if (i + 1 < n) {
      Push(c);
    } else {
      Offer(c, !unit.terminal);
    }
  }
  while (!stack_.empty()) Pop();
  return status;
}

absl::StatusOr<ReplayedGraph> EnumerationWorker::Impl::Replay(const DecodedGraph& graph) {
  EnumerationStats stats;
  stats_ = &stats;
  const int num_universe = static_cast<int>(e_.universe_values_.size());
  ReplayedGraph out;
  if (graph.identity >= 0) {
    if (graph.identity >= num_universe || !graph.ops.empty()) {
      return absl::InvalidArgumentError("bad identity graph");
    }
    for (int u = 0; u < num_universe; ++u) out.shapes.push_back(*shapes_[static_cast<size_t>(slots_[static_cast<size_t>(u)].shape)]);
    out.sinks.push_back(graph.identity);
    out.sink_hashes.push_back(slots_[static_cast<size_t>(graph.identity)].hash);
    return out;
  }
  absl::Status status = absl::OkStatus();
  for (size_t i = 0; i < graph.ops.size(); ++i) {
    Candidate c;
    c.op = graph.ops[i];
    if (c.op.tmpl < 0 || c.op.tmpl >= static_cast<int>(space_.templates().size())) {
      status = absl::InvalidArgumentError("unknown template");
      break;
    }
    c.arity = space_.templates()[static_cast<size_t>(c.op.tmpl)].arity;
    bool ok = true;
    for (int k = 0; k < c.arity; ++k) {
      ok = ok && c.op.in[static_cast<size_t>(k)] >= 0 &&
           c.op.in[static_cast<size_t>(k)] < static_cast<int>(slots_.size());
    }
    if (ok) {
      CanonicalKey(c);
      auto it = e_.first_by_key_.find(c.key);
      if (it != e_.first_by_key_.end()) {
        SetFirst(c, it->second);
      } else {
        ok = Materialize(c);
      }
    }
    if (!ok) {
      status = absl::InvalidArgumentError(StrCat("op ", i, " of the graph does not apply"));
      break;
    }
    out.first_output.push_back(static_cast<int>(slots_.size()));
    Push(c);
  }
  if (status.ok()) {
    for (size_t s = 0; s < slots_.size(); ++s) {
      out.shapes.push_back(*shapes_[static_cast<size_t>(slots_[s].shape)]);
      if (slots_[s].producer >= 0 && slots_[s].uses == 0) {
        out.sinks.push_back(static_cast<int>(s));
        out.sink_hashes.push_back(slots_[s].hash);
      }
    }
  }
  while (!stack_.empty()) Pop();
  if (!status.ok()) return status;
  return out;
}

std::vector<WorkUnit> EnumerationWorker::Impl::Units(int depth) {
  std::vector<WorkUnit> units;
  EnumerationStats stats;
  std::atomic<bool> stop{false};
  units_ = &units;
  stats_ = &stats;
  stop_ = &stop;
  stopped_ = false;
  limit_ = std::min(depth, e_.max_ops());
  Dfs();
  units_ = nullptr;
  return units;
}

EnumerationWorker::EnumerationWorker(const Enumerator& e) : impl_(std::make_unique<Impl>(e)) {}

absl::StatusOr<ReplayedGraph> EnumerationWorker::Replay(const DecodedGraph& graph) {
  return impl_->Replay(graph);
}
EnumerationWorker::~EnumerationWorker() = default;

absl::Status EnumerationWorker::Run(const WorkUnit& unit, std::vector<GraphRecord>& out,
                                    EnumerationStats& stats, const std::atomic<bool>& stop) {
  return impl_->Run(unit, out, stats, stop);
}

// ---------------------------------------------------------------- enumerator

absl::StatusOr<std::unique_ptr<Enumerator>> Enumerator::Create(const SearchSpace& space,
                                                               uint64_t seed, int max_ops) {
  if (max_ops < 1 || max_ops > kMaxGraphOps) {
    return absl::InvalidArgumentError(
        StrCat("max_ops must be 1 to ", kMaxGraphOps, ", not ", max_ops));
  }
  std::unique_ptr<Enumerator> e(new Enumerator());
  e->space_ = &space;
  e->seed_ = seed;
  e->max_ops_ = max_ops;
  const std::vector<UniverseTensor>& tensors = space.universe().tensors;
  const int num_universe = static_cast<int>(tensors.size());
  for (int u = 0; u < num_universe; ++u) {
    const UniverseTensor& t = tensors[static_cast<size_t>(u)];
    const TensorType type = space.TypeOf(t.shape, 0);
    absl::StatusOr<ValueId> v = e->base_.AddInput(t.name, type);
    if (!v.ok()) return v.status();
    e->universe_values_.push_back(RandomTensor<ModP>(type, ValueSeed(seed, t.name)));
    e->universe_hashes_.push_back(TensorHash(e->universe_values_.back()));
    e->universe_keys_.push_back(UniverseKey(u));
  }
  // Every op over universe tensors, computed once.
  const int num_templates = static_cast<int>(space.templates().size());
  for (int tmpl = 0; tmpl < num_templates; ++tmpl) {
    const OpTemplate& t = space.templates()[static_cast<size_t>(tmpl)];
    std::vector<std::array<int, 2>> combos;
    if (t.arity == 0) combos.push_back({0, 0});
    for (int i = 0; t.arity >= 1 && i < num_universe; ++i) {
      if (t.arity == 1) {
        combos.push_back({i, 0});
        continue;
      }
      for (int j = 0; j < num_universe; ++j) {
        if (i == j) continue;
        if (t.commutative && e->universe_keys_[static_cast<size_t>(i)] >= e->universe_keys_[static_cast<size_t>(j)]) continue;
        combos.push_back({i, j});
      }
    }
    for (const std::array<int, 2>& in : combos) {
      std::array<const SymShape*, 2> shapes = {};
      std::array<uint64_t, 2> keys = {};
      std::vector<ValueId> ids;
      std::vector<const Tensor<uint64_t>*> values;
      for (int i = 0; i < t.arity; ++i) {
        const int u = in[static_cast<size_t>(i)];
        shapes[static_cast<size_t>(i)] = &tensors[static_cast<size_t>(u)].shape;
        keys[static_cast<size_t>(i)] = e->universe_keys_[static_cast<size_t>(u)];
        ids.push_back(ValueId{u, 0});
        values.push_back(&e->universe_values_[static_cast<size_t>(u)]);
      }
      const std::span<const SymShape* const> inputs(shapes.data(), static_cast<size_t>(t.arity));
      const int choices = space.NumChoices(tmpl, inputs);
      for (int choice = 0; choice < choices; ++choice) {
        std::optional<Application> app = space.Apply(tmpl, choice, inputs);
        if (!app || app->outputs.size() > static_cast<size_t>(kMaxOutputs)) continue;
        absl::StatusOr<NodeId> node = e->base_.AddNode(t.op, app->attrs, ids);
        if (!node.ok()) return node.status();
        absl::StatusOr<std::vector<Tensor<uint64_t>>> out =
            EvaluateNode<ModP>(e->base_, *node, values);
        if (!out.ok()) {
          if (absl::Status s = e->base_.RemoveLastNode(); !s.ok()) return s;
          continue;
        }
        FirstOp f;
        f.op = GraphOp{tmpl, in, choice};
        if (t.arity < 2) f.op.in[1] = 0;
        if (t.arity < 1) f.op.in[0] = 0;
        f.key = OpKey(tmpl, choice, std::span<const uint64_t>(keys.data(), static_cast<size_t>(t.arity)));
        f.node = *node;
        for (const Tensor<uint64_t>& v : *out) f.hashes.push_back(TensorHash(v));
        f.values = std::move(*out);
        f.shapes = std::move(app->outputs);
        e->first_.push_back(std::move(f));
      }
    }
  }
  std::sort(e->first_.begin(), e->first_.end(),
            [](const FirstOp& a, const FirstOp& b) { return a.key < b.key; });
  for (size_t i = 0; i < e->first_.size(); ++i) {
    if (!e->first_by_key_.emplace(e->first_[i].key, static_cast<int>(i)).second) {
      return absl::InternalError("two first ops share a key");
    }
  }
  return e;
}

std::vector<WorkUnit> Enumerator::Units(int unit_depth) const {
  EnumerationWorker::Impl impl(*this);
  return impl.Units(std::max(1, unit_depth));
}

std::vector<GraphRecord> Enumerator::IdentityRecords() const {
  std::vector<GraphRecord> out;
  for (size_t u = 0; u < universe_hashes_.size(); ++u) {
    out.push_back(GraphRecord{SinkTerm(universe_hashes_[u]), static_cast<GraphCode>(u) << 6});
  }
  return out;
}

}  // namespace lemma
