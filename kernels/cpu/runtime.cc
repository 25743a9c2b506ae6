#include "kernels/cpu/runtime.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cpu/compiled_group.h"
#include "kernels/cpu/lowering.h"
#include "kernels/cpu/memory_plan.h"
#include "kernels/cpu/onednn.h"
#include "kernels/cpu/target.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/tuning.h"
#include "kernels/tensor.h"

namespace lemma::cpu {

std::string_view ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kGenerated:
      return "generated";
    case Provider::kInterpreted:
      return "interpreted";
    case Provider::kOneDnn:
      return "onednn";
    case Provider::kBuiltin:
      return "builtin";
  }
  return "?";
}

namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

enum class BufferKind : uint8_t { kInput, kConstant, kArena };

// Storage::buffer of a value with no storage, and of a value whose strides are
// known before its buffer is.
constexpr int kNoBuffer = -1;
constexpr int kProvisional = -2;

// A block of floats the plan reads or writes.
struct Buffer {
  BufferKind kind = BufferKind::kArena;
  int64_t elements = 0;
  std::string input;     // kInput: the input's name
  int constant = -1;     // kConstant: index into the plan's constants
  int first = INT_MAX;   // kArena: first and last step that use it
  int last = -1;
  int64_t offset = 0;    // kArena: offset in the arena, in floats
};

// Where a value lives: a buffer, an offset and a stride per logical dim.
struct Storage {
  int buffer = -1;
  int64_t offset = 0;
  std::vector<int64_t> strides;
};

// Calls f(logical_position, physical_offset) for every element of dims in
// row-major order.
template <typename F>
void ForEachStrided(const Dims& dims, const std::vector<int64_t>& strides, F f) {
  const int64_t n = NumElements(dims);
  if (n == 0) return;
  std::vector<int64_t> index(dims.size(), 0);
  int64_t offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, offset);
    for (size_t d = dims.size(); d-- > 0;) {
      offset += strides[d];
      if (++index[d] < dims[d]) break;
      offset -= strides[d] * dims[d];
      index[d] = 0;
    }
  }
}

bool IsContiguousRowMajor(const Dims& dims, const std::vector<int64_t>& strides) {
  const std::vector<int64_t> rm = RowMajorStrides(dims);
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] != 1 && strides[d] != rm[d]) return false;
  }
  return true;
}

// oneDNN replaces a generated kernel only when its median time is below this
// share of the generated kernel's.
constexpr double kVendorMargin = 0.9;
// A plan with oneDNN steps replaces the generated plan when its median is
// below this share of the generated plan's. Plans are timed in turns on one
// team of threads, where the pool and the OpenMP team ran the same plans
// within 1-3% of each other; Inception-v3's channels-last graph ran 5-12%
// faster with oneDNN wherever it runs a step (2619 / 2735 ms against 2972 /
// 2885, two interleaved rounds) and lost to kVendorMargin.
constexpr double kPlanMargin = 0.97;

// A step of the plan.
struct Step {
  StepInfo info;
  Group group;
  std::vector<ValueId> reads;       // values it reads
  std::vector<int64_t> temp_sizes;  // scratch, in floats
  std::vector<int> temp_buffers;    // their arena buffers
  std::function<void(const std::function<float*(const ArgBinding&)>&, ThreadPool&)> run;
  std::shared_ptr<void> holder;  // what `run` uses
  std::vector<ValueId> uses;     // the values `run` reads or writes through the plan
  int64_t prepared_bytes = 0;    // packed weights `holder` keeps
  // The generated kernels, kept while oneDNN runs the step so that the plan
  // can be timed both ways.
  struct Variant {
    StepInfo info;
    std::function<void(const std::function<float*(const ArgBinding&)>&, ThreadPool&)> run;
    std::shared_ptr<void> holder;
    std::vector<ValueId> uses;
    int64_t prepared_bytes = 0;
  };
  std::optional<Variant> generated;
  // oneDNN's kernel where the generated one won the step on its own, kept
  // until the plan is chosen (ChoosePlanProviders).
  std::optional<Variant> vendor;

  Variant Current() const { return {info, run, holder, uses, prepared_bytes}; }
  void Use(const Variant& v) {
    info = v.info;
    run = v.run;
    holder = v.holder;
    uses = v.uses;
    prepared_bytes = v.prepared_bytes;
  }
};

bool IsUnaryElementwise(OpKind op) {
  return op == OpKind::kRelu || op == OpKind::kSigmoid || op == OpKind::kTanh ||
         op == OpKind::kGelu;
}

// Whether a step computes `op` into storage of its own, into which a fused
// chain can write: not a source (weights and inputs), not a view (transpose,
// slice, split, reshape) and not a concat.
bool WritesOwnOutput(OpKind op) {
  return !GetOpInfo(op).Has(kTraitSource) && op != OpKind::kConcat && op != OpKind::kSplit &&
         op != OpKind::kSlice && op != OpKind::kTranspose && op != OpKind::kReshape;
}

// f(concat(a, b, ...)) = concat(f(a), f(b), ...) for a unary elementwise f
// (relu, sigmoid, tanh, gelu): where a concat's only use is such an op and
// each of its inputs is the sole use of a step's output, f moves onto the
// inputs. There it fuses into each producer's chain, and the concat is then
// written in place, a copy and a pass over the tensor fewer (SqueezeNet's
// fire modules after a rewrite lifts their relus over the concat). The
// rewritten nodes are left dead, so node ids stay. Returns how many concats
// were rewritten.
absl::StatusOr<int> DistributeUnaryOverConcats(Graph& g) {
  int rewritten = 0;
  for (bool changed = true; changed;) {
    changed = false;
    const std::vector<std::vector<NodeId>> users = g.Users();
    const std::vector<bool> live = g.LiveNodes();
    std::vector<bool> is_output(U(g.num_nodes()), false);
    for (const GraphOutput& o : g.outputs()) is_output[U(o.value.node)] = true;
    auto live_users = [&](NodeId id) {
      std::vector<NodeId> out;
      for (NodeId u : users[U(id)]) {
        if (live[U(u)] && std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
      }
      return out;
    };
    for (NodeId id : g.TopologicalOrder()) {
      const Node& concat = g.node(id);
      if (!live[U(id)] || concat.op != OpKind::kConcat || is_output[U(id)]) continue;
      const std::vector<NodeId> cu = live_users(id);
      if (cu.size() != 1) continue;
      const Node& f = g.node(cu[0]);
      if (!IsUnaryElementwise(f.op) || f.inputs.size() != 1 || f.outputs[0] != concat.outputs[0]) {
        continue;
      }
      bool ok = true;
      for (size_t i = 0; i < concat.inputs.size() && ok; ++i) {
        const ValueId in = concat.inputs[i];
        const Node& p = g.node(in.node);
        ok = WritesOwnOutput(p.op) && p.outputs.size() == 1 && !is_output[U(in.node)] &&
             live_users(in.node) == std::vector<NodeId>{id} &&
             std::count(concat.inputs.begin(), concat.inputs.end(), in) == 1;
      }
      if (!ok) continue;
      const NodeId f_id = cu[0];
      const OpKind f_op = f.op;
      const Attributes f_attrs = f.attrs;
      const Attributes concat_attrs = concat.attrs;
      const std::vector<ValueId> concat_inputs = concat.inputs;
      const TensorType out_type = f.outputs[0];
      const std::string f_name = f.names.empty() ? "" : f.names[0];
      std::vector<ValueId> parts;
      for (ValueId in : concat_inputs) {
        absl::StatusOr<NodeId> part = g.AddNode(f_op, f_attrs, {in});
        if (!part.ok()) return part.status();
        if (absl::Status s = g.SetLayout({*part, 0}, g.type(in).layout); !s.ok()) return s;
        parts.push_back({*part, 0});
      }
      absl::StatusOr<NodeId> joined = g.AddNode(OpKind::kConcat, concat_attrs, parts);
      if (!joined.ok()) return joined.status();
      if (absl::Status s = g.SetLayout({*joined, 0}, out_type.layout); !s.ok()) return s;
      if (absl::Status s = g.ReplaceAllUsesWith({f_id, 0}, {*joined, 0}); !s.ok()) return s;
      if (!f_name.empty()) {
        if (absl::Status s = g.SetName({f_id, 0}, ""); !s.ok()) return s;
        if (absl::Status s = g.SetName({*joined, 0}, f_name); !s.ok()) return s;
      }
      ++rewritten;
      changed = true;
      break;  // users and liveness changed
    }
  }
  return rewritten;
}

// A time for the plan's reasons: microseconds below a millisecond.
std::string Duration(double seconds) {
  char buf[32];
  if (seconds < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.1f us", seconds * 1e6);
  } else {
    std::snprintf(buf, sizeof buf, "%.3f ms", seconds * 1e3);
  }
  return std::string(buf);
}

}  // namespace

struct Executable::Impl : public LoweringContext {
  Graph g;
  RuntimeOptions options;
  int threads = 1;
  WeightCache weight_cache = WeightCache::kWarm;
  // Nodes whose output is a slice of a concat's buffer (ConcatInPlace).
  absl::flat_hash_set<NodeId> in_concat;
  std::vector<Buffer> buffers;
  std::vector<std::vector<Storage>> storage;  // [node][output]
  std::vector<Tensor<float>> constants;
  std::vector<Step> steps;
  std::vector<StepInfo> infos;
  AlignedBuffer arena;
  // Per input buffer: an aligned copy of the feed, when the feed is not
  // 64-byte aligned or not in the declared layout (made on first use).
  std::vector<AlignedBuffer> feeds;
  MemoryStats memory;
  bool profiling = false;
  // Whether Run runs the generated kernels on oneDNN's OpenMP team: in a
  // plan with oneDNN steps, and in every plan ChoosePlanProviders times.
  bool on_openmp = false;

  // ---- LoweringContext.
  const Graph& graph() const override { return g; }
  ValueAccess Access(ValueId v) const override {
    const Storage& s = storage[U(v.node)][U(v.index)];
    ValueAccess a;
    a.dims = g.type(v).dims;
    if (s.buffer < 0) {
      // Not stored (yet): a value inside a fused group, or one being planned.
      a.strides = PhysicalStrides(g.type(v));
      a.elements = g.type(v).num_elements();
      return a;
    }
    const Buffer& b = buffers[U(s.buffer)];
    a.strides = s.strides;
    a.elements = b.elements - s.offset;
    if (b.kind == BufferKind::kConstant) a.constant = constants[U(b.constant)].data.data() + s.offset;
    return a;
  }
  int vector_width() const override { return HostTarget().vector_width; }

  Storage& StorageOf(ValueId v) { return storage[U(v.node)][U(v.index)]; }
  bool Has(ValueId v) const { return storage[U(v.node)][U(v.index)].buffer >= 0; }

  int NewBuffer(Buffer b) {
    buffers.push_back(std::move(b));
    return static_cast<int>(buffers.size()) - 1;
  }
  // Gives `v` a fresh buffer in the arena in its declared layout.
  void Materialize(ValueId v) {
    const TensorType& t = g.type(v);
    Buffer b;
    b.elements = t.num_elements();
    StorageOf(v) = {NewBuffer(b), 0, PhysicalStrides(t)};
  }

  absl::Status Build(const NamedTensors<F32>& weights);
  absl::Status FoldConstants(const NamedTensors<F32>& weights, const std::vector<NodeId>& order,
                             const std::vector<bool>& live, std::vector<bool>& computed);
  bool MakeView(NodeId id);
  void ConcatInPlace(std::vector<Group>& groups, const std::vector<bool>& view);
  std::vector<Group> FormGroups(const std::vector<NodeId>& order, const std::vector<bool>& live,
                                const std::vector<bool>& computed);
  absl::Status LowerStep(Step& step);
  void Builtin(Step& step);
  void PlanMemory();
  void PlaceArena();
  void ReleaseUnusedConstants();
  void ChoosePlanProviders();
  int HandOffBlocked();
  int SumInPlace();
  absl::StatusOr<NamedTensors<F32>> Run(const NamedTensors<F32>& inputs);
};

// Constants that no step reads and no output shows (weights that every
// kernel reads in a packed copy instead) are freed.
void Executable::Impl::ReleaseUnusedConstants() {
  std::vector<bool> used(buffers.size(), false);
  auto mark = [&](ValueId v) {
    const Storage& st = StorageOf(v);
    if (st.buffer >= 0) used[U(st.buffer)] = true;
  };
  for (const Step& step : steps) {
    for (ValueId v : step.uses) mark(v);
  }
  for (const GraphOutput& o : g.outputs()) mark(o.value);
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (buffers[i].kind != BufferKind::kConstant || used[i]) continue;
    std::vector<float>().swap(constants[U(buffers[i].constant)].data);
  }
}

// ---- Constants, views and groups.

absl::Status Executable::Impl::FoldConstants(const NamedTensors<F32>& weights,
                                             const std::vector<NodeId>& order,
                                             const std::vector<bool>& live,
                                             std::vector<bool>& computed) {
  // Constant values as tensors in their declared layouts, by value.
  std::map<std::pair<int, int>, int> constant_of;
  for (NodeId id : order) {
    if (!live[U(id)]) continue;
    const Node& n = g.node(id);
    if (n.op == OpKind::kInput) {
      const TensorType& t = n.outputs[0];
      Buffer b;
      b.kind = BufferKind::kInput;
      b.elements = t.num_elements();
      b.input = n.names[0];
      StorageOf({id, 0}) = {NewBuffer(b), 0, PhysicalStrides(t)};
      continue;
    }
    std::vector<Tensor<float>> values;
    if (n.op == OpKind::kWeight) {
      auto it = weights.find(n.names[0]);
      if (it == weights.end()) {
        return Invalid("no value for weight '", n.names[0], "' (", n.outputs[0].ToString(), ")");
      }
      if (it->second.type.dims != n.outputs[0].dims ||
          static_cast<int64_t>(it->second.data.size()) != n.outputs[0].num_elements()) {
        return Invalid("weight '", n.names[0], "' has dims ", DimsToString(it->second.type.dims),
                       " but the graph declares ", n.outputs[0].ToString());
      }
      values.push_back(it->second.type.layout == n.outputs[0].layout
                           ? it->second
                           : WithLayout(it->second, n.outputs[0].layout));
    } else {
      bool all_constant = true;
      std::vector<const Tensor<float>*> args;
      for (ValueId in : n.inputs) {
        auto it = constant_of.find({in.node, in.index});
        if (it == constant_of.end()) {
          all_constant = false;
          break;
        }
        args.push_back(&constants[U(it->second)]);
      }
      if (!all_constant) {
        computed[U(id)] = true;
        continue;
      }
      absl::StatusOr<std::vector<Tensor<float>>> out = EvaluateNode<F32>(g, id, args);
      if (!out.ok()) return out.status();
      values = *std::move(out);
    }
    for (size_t j = 0; j < values.size(); ++j) {
      constants.push_back(std::move(values[j]));
      const int c = static_cast<int>(constants.size()) - 1;
      constant_of[{id, static_cast<int>(j)}] = c;
      Buffer b;
      b.kind = BufferKind::kConstant;
      b.elements = static_cast<int64_t>(constants[U(c)].data.size());
      b.constant = c;
      StorageOf({id, static_cast<int32_t>(j)}) = {NewBuffer(b), 0, PhysicalStrides(n.outputs[j])};
    }
  }
  return absl::OkStatus();
}

// Makes the outputs of `id` views of its input when the op only moves data
// in a way strides can describe.
bool Executable::Impl::MakeView(NodeId id) {
  const Node& n = g.node(id);
  if (n.inputs.empty() || StorageOf(n.inputs[0]).buffer == kNoBuffer) return false;
  const Storage in = StorageOf(n.inputs[0]);
  const Dims& in_dims = g.type(n.inputs[0]).dims;
  switch (n.op) {
    case OpKind::kTranspose: {
      const std::vector<int64_t>& perm = n.attrs.GetInts("perm");
      Storage out = in;
      for (size_t i = 0; i < perm.size(); ++i) out.strides[i] = in.strides[U(perm[i])];
      StorageOf({id, 0}) = out;
      return true;
    }
    case OpKind::kSlice: {
      absl::StatusOr<std::vector<SliceAxis>> axes = ResolveSlice(in_dims, n.attrs);
      if (!axes.ok()) return false;
      Storage out = in;
      for (const SliceAxis& s : *axes) {
        out.offset += s.start * in.strides[U(s.axis)];
        out.strides[U(s.axis)] *= s.step;
      }
      StorageOf({id, 0}) = out;
      return true;
    }
    case OpKind::kSplit: {
      absl::StatusOr<int> axis = NormalizeAxis(n.attrs.GetInt("axis"), static_cast<int>(in_dims.size()));
      if (!axis.ok()) return false;
      int64_t start = 0;
      for (size_t j = 0; j < n.outputs.size(); ++j) {
        Storage out = in;
        out.offset += start * in.strides[U(*axis)];
        StorageOf({id, static_cast<int32_t>(j)}) = out;
        start += n.outputs[j].dims[U(*axis)];
      }
      return true;
    }
    case OpKind::kReshape: {
      if (!IsContiguousRowMajor(in_dims, in.strides)) return false;
      Storage out = in;
      out.strides = RowMajorStrides(n.outputs[0].dims);
      StorageOf({id, 0}) = out;
      return true;
    }
    default:
      return false;
  }
}

// A concat whose inputs are all written by steps of their own costs nothing:
// its buffer is made at once and each input's step writes its slice of it
// (the concat's strides, offset along the axis), as a split reads slices
// of its input. An input stays a copy source when it is a graph input, a
// constant or a view, when a step's fused chain ends elsewhere, when the
// concat lists it twice, when another concat already holds it, or when a
// view reads it (a reshape needs its own contiguous storage).
void Executable::Impl::ConcatInPlace(std::vector<Group>& groups, const std::vector<bool>& view) {
  absl::flat_hash_map<NodeId, size_t> group_of_output;  // producer node -> group index
  for (size_t i = 0; i < groups.size(); ++i) {
    const Node& root = g.node(groups[i].root);
    if (!groups[i].chain.empty() || root.outputs.size() == 1) {
      group_of_output[groups[i].output(g).node] = i;
    }
  }
  const std::vector<std::vector<NodeId>> users = g.Users();
  absl::flat_hash_set<NodeId> dropped;
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& cg = groups[i];
    const Node& concat = g.node(cg.root);
    if (concat.op != OpKind::kConcat || !cg.chain.empty() || concat.inputs.size() < 2) continue;
    absl::StatusOr<int> axis =
        NormalizeAxis(concat.attrs.GetInt("axis"), static_cast<int>(concat.outputs[0].dims.size()));
    if (!axis.ok()) continue;
    bool ok = true;
    absl::flat_hash_set<NodeId> inputs;
    for (ValueId in : concat.inputs) {
      auto it = group_of_output.find(in.node);
      ok = ok && in.index == 0 && it != group_of_output.end() && groups[it->second].output(g) == in &&
           g.node(groups[it->second].root).op != OpKind::kConcat && inputs.insert(in.node).second &&
           !in_concat.contains(in.node) && !Has(in);
      for (NodeId u : users[U(in.node)]) ok = ok && (u == cg.root || !view[U(u)]);
    }
    if (!ok) continue;
    const ValueId out{cg.root, 0};
    Materialize(out);
    const Storage whole = StorageOf(out);
    int64_t start = 0;
    for (ValueId in : concat.inputs) {
      Storage slice = whole;
      slice.offset += start * whole.strides[U(*axis)];
      StorageOf(in) = slice;
      start += g.type(in).dims[U(*axis)];
      in_concat.insert(in.node);
    }
    dropped.insert(cg.root);
  }
  if (dropped.empty()) return;
  groups.erase(std::remove_if(groups.begin(), groups.end(),
                              [&](const Group& x) { return dropped.contains(x.root); }),
               groups.end());
  memory.concats_in_place = static_cast<int>(dropped.size());
}

std::vector<Group> Executable::Impl::FormGroups(const std::vector<NodeId>& order,
                                                const std::vector<bool>& live,
                                                const std::vector<bool>& computed) {
  const std::vector<std::vector<NodeId>> users = g.Users();
  std::vector<bool> is_output(U(g.num_nodes()), false);
  for (const GraphOutput& o : g.outputs()) is_output[U(o.value.node)] = true;
  std::vector<bool> taken(U(g.num_nodes()), false);
  std::vector<int> position(U(g.num_nodes()), 0);
  for (size_t i = 0; i < order.size(); ++i) position[U(order[i])] = static_cast<int>(i);
  std::vector<std::pair<int, Group>> groups;
  for (NodeId id : order) {
    if (!live[U(id)] || !computed[U(id)] || taken[U(id)]) continue;
    Group group;
    group.root = id;
    taken[U(id)] = true;
    int last = position[U(id)];
    const bool fusible_root =
        FusesChain(g.node(id).op) && MakeTemplate(group, *this) != nullptr;
    ValueId running{id, 0};
    while (options.fuse && fusible_root && g.node(running.node).outputs.size() == 1 &&
           !is_output[U(running.node)]) {
      std::vector<NodeId> live_users;
      for (NodeId u : users[U(running.node)]) {
        if (live[U(u)] && std::find(live_users.begin(), live_users.end(), u) == live_users.end()) {
          live_users.push_back(u);
        }
      }
      if (live_users.size() != 1) break;
      const NodeId u = live_users[0];
      if (!computed[U(u)] || taken[U(u)] || !IsFusibleConsumer(g, u, running)) break;
      group.chain.push_back(u);
      taken[U(u)] = true;
      last = std::max(last, position[U(u)]);
      running = ValueId{u, 0};
    }
    groups.push_back({last, std::move(group)});
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Group> out;
  for (auto& [pos, group] : groups) out.push_back(std::move(group));
  return out;
}

// ---- Lowering one step.

// "3x3/2 64x56x56->128x28x28" for a conv, "1024x1024x512" (m x n x k) for a
// matmul, the output dims otherwise.
std::string ShapeText(const Graph& g, NodeId id) {
  const Node& n = g.node(id);
  if (n.op == OpKind::kConv2d) {
    const Dims& x = g.type(n.inputs[0]).dims;
    const Dims& w = g.type(n.inputs[1]).dims;
    const Dims& y = n.outputs[0].dims;
    return StrCat(w[2], "x", w[3], "/", n.attrs.GetInts("stride")[0], " ", x[1], "x", x[2], "x",
                  x[3], "->", y[1], "x", y[2], "x", y[3],
                  n.attrs.GetInt("groups") > 1 ? StrCat(" g", n.attrs.GetInt("groups")) : "");
  }
  if (n.op == OpKind::kMatMul) {
    const Dims& y = n.outputs[0].dims;
    const int64_t batch = NumElements(std::span<const int64_t>(y.data(), y.size() - 2));
    return StrCat(batch > 1 ? StrCat(batch, "x") : "", y[y.size() - 2], "x", y.back(), "x",
                  g.type(n.inputs[0]).dims.back());
  }
  return DimsToString(n.outputs[0].dims);
}

// Runs node `group.root` with the reference kernels on strided buffers.
void Executable::Impl::Builtin(Step& step) {
  const NodeId id = step.group.root;
  step.uses = g.node(id).inputs;
  step.info.provider = Provider::kBuiltin;
  step.info.why = "no template lowers this op";
  step.info.schedule = "reference kernel";
  const Impl* self = this;
  step.run = [self, id](const std::function<float*(const ArgBinding&)>& resolve, ThreadPool&) {
    const Graph& g = self->g;
    const Node& n = g.node(id);
    std::vector<Tensor<float>> inputs;
    for (ValueId in : n.inputs) {
      const Storage& s = self->storage[U(in.node)][U(in.index)];
      Tensor<float> t;
      t.type = TensorType::Make(DType::kF32, g.type(in).dims);
      t.data.resize(U(t.type.num_elements()));
      const float* base = resolve({ArgBinding::Kind::kValue, in, 0});
      ForEachStrided(t.type.dims, s.strides, [&](int64_t i, int64_t off) { t.data[U(i)] = base[off]; });
      inputs.push_back(std::move(t));
    }
    std::vector<const Tensor<float>*> args;
    for (const Tensor<float>& t : inputs) args.push_back(&t);
    absl::StatusOr<std::vector<Tensor<float>>> out = EvaluateNode<F32>(g, id, args);
    if (!out.ok()) return;  // shapes were checked when the plan was made
    for (size_t j = 0; j < out->size(); ++j) {
      const ValueId v{id, static_cast<int32_t>(j)};
      const Storage& s = self->storage[U(id)][j];
      if (s.buffer < 0) continue;
      float* base = resolve({ArgBinding::Kind::kValue, v, 0});
      const std::vector<float> logical = ToLogical((*out)[j]);
      ForEachStrided(g.type(v).dims, s.strides, [&](int64_t i, int64_t off) { base[off] = logical[U(i)]; });
    }
  };
}

absl::Status Executable::Impl::LowerStep(Step& step) {
  const Group& group = step.group;
  step.info.label = StrCat(group.Label(g), " ", ShapeText(g, group.root), " (",
                           g.ValueLabel(group.output(g)), ")");
  step.info.flops = GroupFlops(g, group);
  if (g.type(group.output(g)).num_elements() == 0) {
    step.info.provider = Provider::kBuiltin;
    step.info.why = "the output has no elements";
    step.info.schedule = "nothing to compute";
    step.run = [](const std::function<float*(const ArgBinding&)>&, ThreadPool&) {};
    return absl::OkStatus();
  }
  std::unique_ptr<Template> t = MakeTemplate(group, *this);
  if (t == nullptr) {
    Builtin(step);
    return absl::OkStatus();
  }
  ThreadPool& pool = SharedPool(threads);
  const std::string target = HostTarget().Key(threads);
  const std::string key = ScheduleKey(group, *this, weight_cache);
  // The schedule: from the log, tuned now, or by rules of thumb.
  Config config = t->DefaultConfig();
  std::string origin = "default schedule";
  bool from_log = false;
  const std::vector<Knob> space = t->Space();
  if (options.tuning_log != nullptr) {
    std::optional<TuningRecord> logged = options.tuning_log->Best("schedule", target, key);
    if (!logged) {
      // A step that writes (or reads) a slice of a concat placed in place
      // takes the schedule of the same workload on tensors of their own:
      // only strides differ. Those values' strides are set to their
      // layout's for the key, then restored.
      std::vector<std::pair<ValueId, std::vector<int64_t>>> saved;
      std::vector<ValueId> values = step.reads;
      values.push_back(group.output(g));
      for (ValueId v : values) {
        Storage& st = StorageOf(v);
        if (!in_concat.contains(v.node)) continue;
        std::vector<int64_t> physical = PhysicalStrides(g.type(v));
        if (st.strides == physical) continue;
        saved.push_back({v, st.strides});
        st.strides = std::move(physical);
      }
      if (!saved.empty()) {
        const std::string own = ScheduleKey(group, *this, weight_cache);
        for (auto& [v, strides] : saved) StorageOf(v).strides = std::move(strides);
        logged = options.tuning_log->Best("schedule", target, own);
      }
    }
    if (logged) {
      config = logged->config;
      origin = "tuned schedule (log)";
      from_log = true;
    } else if (options.tune_budget > 0 && !space.empty() && CodegenAvailable()) {
      if (options.tune_deadline && std::chrono::steady_clock::now() >= *options.tune_deadline) {
        origin = "default schedule (not tuned: the time limit was reached)";
      } else {
        TuneOptions to;
        to.budget = options.tune_budget;
        to.deadline = options.tune_deadline;
        to.weights = weight_cache;
        to.on_measure = [&](const Config& c, double seconds, bool) {
          TuningRecord rec;
          rec.target = target;
          rec.workload = key;
          rec.template_name = t->name();
          rec.config = c;
          rec.seconds = seconds;
          rec.gflops = step.info.flops > 0 ? step.info.flops / seconds / 1e9 : 0;
          options.tuning_log->Add(std::move(rec));
        };
        absl::StatusOr<TuneResult> tuned = Tune(*t, *this, pool, to);
        if (tuned.ok()) {
          config = tuned->best;
          origin = StrCat("tuned now (", tuned->measured, " candidates",
                          tuned->out_of_time ? ", stopped at the time limit" : "", ")");
        }
      }
    }
  }
  auto lower_and_compile = [&](const Config& c) -> absl::StatusOr<CompiledGroup> {
    absl::StatusOr<Lowered> lowered = t->Lower(c);
    if (!lowered.ok()) return lowered.status();
    return CompiledGroup::Compile(*std::move(lowered), true);
  };
  absl::StatusOr<CompiledGroup> compiled = lower_and_compile(config);
  if (!compiled.ok() && origin.rfind("default schedule", 0) != 0) {
    origin = StrCat("default schedule (the logged one failed: ", compiled.status().message(), ")");
    from_log = false;
    config = t->DefaultConfig();
    compiled = lower_and_compile(config);
  }
  if (!compiled.ok()) {
    // The default's neighbours (one knob changed) in order, e.g. a window
    // not unrolled where unrolling it makes the body too large.
    const std::string failure(compiled.status().message());
    const Config failed = config;
    for (const Knob& knob : space) {
      for (int64_t value : knob.values) {
        Config c = failed;
        if (c[knob.name] == value) continue;
        c[knob.name] = value;
        absl::StatusOr<CompiledGroup> other = lower_and_compile(c);
        if (!other.ok()) continue;
        config = c;
        compiled = std::move(other);
        origin = StrCat("a neighbour of the default schedule (the default failed: ", failure, ")");
        break;
      }
      if (compiled.ok()) break;
    }
  }
  if (!compiled.ok() && group.chain.empty()) {
    Builtin(step);
    step.info.why = StrCat("the ", t->name(), " template refused it: ", compiled.status().message());
    return absl::OkStatus();
  }
  if (!compiled.ok()) {
    return absl::Status(compiled.status().code(),
                        StrCat(step.info.label, ": ", compiled.status().message()));
  }
  const std::vector<int64_t> temps = compiled->lowered().temps;
  int64_t packed_bytes = 0;
  for (const auto& c : compiled->lowered().constants) packed_bytes += static_cast<int64_t>(c.size()) * 4;
  step.prepared_bytes = packed_bytes;
  auto generated = std::make_shared<CompiledGroup>(*std::move(compiled));
  step.info.provider = generated->generated() ? Provider::kGenerated : Provider::kInterpreted;
  step.info.schedule = StrCat(t->name(), " {", ConfigToString(config), "}");
  step.info.why = origin;
  step.info.workload = key;
  step.info.template_name = t->name();
  step.info.config = config;
  step.info.config_from_log = from_log;
  step.temp_sizes = temps;
  step.holder = generated;
  step.uses.clear();
  for (const Launch& launch : generated->lowered().launches) {
    for (const ArgBinding& arg : launch.args) {
      if (arg.kind == ArgBinding::Kind::kValue) step.uses.push_back(arg.value);
    }
  }
  step.run = [generated](const std::function<float*(const ArgBinding&)>& resolve, ThreadPool& p) {
    generated->Run(resolve, p);
  };

  // The vendor's kernel, when it covers the group: keep the faster.
  if (options.providers == ProviderChoice::kGenerated || !OneDnnAvailable()) {
    return absl::OkStatus();
  }
  if (options.providers == ProviderChoice::kMeasure && step.info.flops < options.onednn_min_flops) {
    step.info.why = StrCat(origin, "; too small to try onednn");
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<OneDnnKernel>> vendor = MakeOneDnnKernel(group, *this, threads);
  if (!vendor.ok()) {
    step.info.why = StrCat(origin, "; not onednn: ", vendor.status().message());
    return absl::OkStatus();
  }
  std::shared_ptr<OneDnnKernel> v = *std::move(vendor);
  // The step run by oneDNN's kernel.
  auto vendor_variant = [&](std::string why) {
    Step::Variant variant = step.Current();
    variant.info.provider = Provider::kOneDnn;
    variant.info.schedule = v->Describe();
    variant.info.why = std::move(why);
    variant.holder = v;
    variant.uses = v->Values();
    variant.prepared_bytes = v->PreparedBytes();
    variant.run = [v](const std::function<float*(const ArgBinding&)>& resolve, ThreadPool& p) {
      p.Park();
      v->Run(resolve);
    };
    return variant;
  };
  std::string why = "oneDNN requested";
  if (options.providers == ProviderChoice::kMeasure) {
    // Medians, not best runs: oneDNN's OpenMP team can stall for long when
    // other work shares the cores, and a plan should not bet on quiet times.
    // oneDNN must also win clearly. Ours runs on oneDNN's OpenMP team too, as
    // in a plan that has oneDNN steps (ThreadPool::SetRunner): the pool's
    // workers timed right after oneDNN shared the cores with its team's
    // still-spinning threads.
    pool.SetRunner(&RunOnOpenMp);
    const Timing ours = TimeGroupCalls(*generated, *this, pool, 0.02, weight_cache);
    pool.SetRunner(nullptr);
    // The pool's threads stop waiting for work first, as before a oneDNN
    // step of a run, so that they do not spin beside oneDNN's OpenMP team.
    pool.Park();
    const Timing theirs = TimeOneDnnCalls(*v, *this, 0.02, weight_cache);
    if (theirs.median >= kVendorMargin * ours.median) {
      step.info.why = StrCat(origin, "; generated ", Duration(ours.median), " vs onednn ",
                             Duration(theirs.median), " (medians)");
      step.vendor = vendor_variant(StrCat("onednn for the whole plan (on its own ",
                                          Duration(theirs.median), " vs generated ",
                                          Duration(ours.median), ", medians)"));
      return absl::OkStatus();
    }
    why = StrCat("onednn ", Duration(theirs.median), " < generated ", Duration(ours.median),
                 " (medians; ", origin, ")");
  }
  step.generated = step.Current();
  step.Use(vendor_variant(why));
  return absl::OkStatus();
}

// ---- Memory.

void Executable::Impl::PlanMemory() {
  const int end = static_cast<int>(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    Step& step = steps[s];
    const int at = static_cast<int>(s);
    Buffer& out = buffers[U(StorageOf(step.group.output(g)).buffer)];
    if (step.group.chain.empty()) {
      // Every output of the root (a multi-output builtin writes them all).
      for (size_t j = 0; j < g.node(step.group.root).outputs.size(); ++j) {
        const Storage& st = storage[U(step.group.root)][j];
        if (st.buffer >= 0) buffers[U(st.buffer)].first = std::min(buffers[U(st.buffer)].first, at);
      }
    }
    out.first = std::min(out.first, at);
    for (ValueId v : step.reads) {
      Buffer& b = buffers[U(StorageOf(v).buffer)];
      b.last = std::max(b.last, at);
    }
    for (int64_t size : step.temp_sizes) {
      Buffer t;
      t.elements = size;
      t.first = t.last = at;
      step.temp_buffers.push_back(NewBuffer(t));
    }
  }
  for (const GraphOutput& o : g.outputs()) {
    Buffer& b = buffers[U(StorageOf(o.value).buffer)];
    b.last = end;
  }
  PlaceArena();
}

// Places the arena's buffers by their lifetimes (set by PlanMemory).
void Executable::Impl::PlaceArena() {
  std::vector<BufferRequest> requests;
  std::vector<int> which;
  for (size_t i = 0; i < buffers.size(); ++i) {
    Buffer& b = buffers[i];
    if (b.kind != BufferKind::kArena || b.elements == 0) continue;  // (0: moved by SumInPlace)
    if (b.first == INT_MAX) b.first = b.last < 0 ? 0 : b.last;
    if (b.last < b.first) b.last = b.first;
    requests.push_back({b.elements * 4, b.first, b.last});
    which.push_back(static_cast<int>(i));
  }
  const MemoryPlacement placement = cpu::PlanMemory(requests);
  for (size_t r = 0; r < which.size(); ++r) buffers[U(which[r])].offset = placement.offsets[r] / 4;
  arena = AlignedBuffer(placement.arena_bytes / 4);
  memory.arena_bytes = placement.arena_bytes;
  memory.naive_bytes = placement.naive_bytes;
  memory.buffers = static_cast<int>(requests.size());
}

absl::Status Executable::Impl::Build(const NamedTensors<F32>& weights) {
  if (absl::Status s = g.Validate(); !s.ok()) return s;
  for (NodeId id = 0; id < g.num_nodes(); ++id) {
    for (const TensorType& t : g.node(id).outputs) {
      if (t.dtype != DType::kF32) {
        return Invalid(g.Describe(id), ": the CPU runtime computes in f32 only, not ",
                       DTypeName(t.dtype));
      }
    }
  }
  // Repeated computations run once (left dead, so node ids stay).
  g.MergeDuplicates();
  if (options.fuse && options.concat_in_place) {
    if (absl::StatusOr<int> n = DistributeUnaryOverConcats(g); !n.ok()) {
      return absl::InternalError(StrCat("moving elementwise ops over concats: ", n.status().message()));
    }
  }
  threads = options.threads > 0 ? options.threads : HostTarget().cores;
  storage.resize(U(g.num_nodes()));
  for (NodeId id = 0; id < g.num_nodes(); ++id) storage[U(id)].resize(g.node(id).outputs.size());
  const std::vector<NodeId> order = g.TopologicalOrder();
  const std::vector<bool> live = g.LiveNodes();
  std::vector<bool> computed(U(g.num_nodes()), false);
  if (absl::Status s = FoldConstants(weights, order, live, computed); !s.ok()) return s;
  for (const Tensor<float>& c : constants) {
    AdviseHugePages(c.data.data(), static_cast<int64_t>(c.data.size()) * 4);
  }
  if (options.weight_cache.has_value()) {
    weight_cache = *options.weight_cache;
  } else {
    int64_t constant_bytes = 0;
    for (const Tensor<float>& c : constants) constant_bytes += static_cast<int64_t>(c.data.size()) * 4;
    weight_cache = constant_bytes > HostTarget().last_level_cache_bytes ? WeightCache::kCold
                                                                        : WeightCache::kWarm;
  }
  // Views: decided in order on strides alone (computed values get their
  // declared strides provisionally), made once every buffer exists.
  std::vector<bool> view(U(g.num_nodes()), false);
  for (NodeId id : order) {
    if (!live[U(id)] || !computed[U(id)]) continue;
    if (MakeView(id)) {
      view[U(id)] = true;
      computed[U(id)] = false;
      continue;
    }
    for (size_t j = 0; j < g.node(id).outputs.size(); ++j) {
      StorageOf({id, static_cast<int32_t>(j)}) = {kProvisional, 0,
                                                  PhysicalStrides(g.node(id).outputs[j])};
    }
  }
  for (auto& outputs : storage) {
    for (Storage& st : outputs) {
      if (st.buffer == kProvisional) st.buffer = kNoBuffer;
    }
  }
  std::vector<Group> groups = FormGroups(order, live, computed);
  if (options.concat_in_place) ConcatInPlace(groups, view);
  for (const Group& group : groups) {
    const Node& root = g.node(group.root);
    if (Has(group.output(g))) continue;  // a slice of a concat, placed above
    if (group.chain.empty()) {
      for (size_t j = 0; j < root.outputs.size(); ++j) Materialize({group.root, static_cast<int32_t>(j)});
    } else {
      Materialize(group.output(g));
    }
  }
  for (NodeId id : order) {
    if (view[U(id)] && !MakeView(id)) {
      return absl::InternalError(StrCat(g.Describe(id), ": a view lost its input"));
    }
  }
  for (const Group& group : groups) {
    Step step;
    step.group = group;
    std::vector<NodeId> nodes = {group.root};
    nodes.insert(nodes.end(), group.chain.begin(), group.chain.end());
    for (NodeId id : nodes) {
      for (ValueId in : g.node(id).inputs) {
        if (std::find(nodes.begin(), nodes.end(), in.node) != nodes.end()) continue;
        if (!Has(in)) {
          return absl::InternalError(StrCat(g.Describe(id), ": input ", g.ValueLabel(in),
                                            " has no storage"));
        }
        step.reads.push_back(in);
      }
    }
    steps.push_back(std::move(step));
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (absl::Status s = LowerStep(steps[i]); !s.ok()) return s;
    if (options.on_step) options.on_step(static_cast<int>(i), static_cast<int>(steps.size()), steps[i].info);
  }
  for (const GraphOutput& o : g.outputs()) {
    if (!Has(o.value)) return absl::InternalError(StrCat("output ", o.name, " has no storage"));
  }
  PlanMemory();
  memory.blocked_hand_offs = HandOffBlocked();
  for (const Step& step : steps) infos.push_back(step.info);
  ChoosePlanProviders();
  memory.sums_in_place = SumInPlace();
  on_openmp = std::any_of(steps.begin(), steps.end(),
                          [](const Step& s) { return s.info.provider == Provider::kOneDnn; });
  ReleaseUnusedConstants();
  for (Step& step : steps) {
    step.generated.reset();
    step.vendor.reset();
  }
  memory.constant_bytes = 0;
  for (const Tensor<float>& c : constants) memory.constant_bytes += static_cast<int64_t>(c.data.size()) * 4;
  for (const Step& step : steps) memory.constant_bytes += step.prepared_bytes;
  return absl::OkStatus();
}

// Where a oneDNN step writes its output in a blocked layout of its own and
// every other step that touches the output's buffer is a oneDNN step reading
// that value in the same layout, the value stays blocked in its buffer: two
// reorders (a pass over the tensor each) fewer per hand-off. ResNet-50's
// convs hand their outputs on this way when oneDNN runs them all. Returns
// how many values are handed over blocked.
int Executable::Impl::HandOffBlocked() {
  std::vector<std::shared_ptr<OneDnnKernel>> kernel(steps.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].info.provider != Provider::kOneDnn) continue;
    kernel[i] = std::static_pointer_cast<OneDnnKernel>(steps[i].holder);
    for (ValueId v : kernel[i]->Values()) kernel[i]->SetHandOff(v, false);
  }
  // Per buffer, the values other steps touch in it and those steps (a view
  // or a concat puts several values in one buffer); a graph output's buffer
  // is read by Run's copy.
  std::vector<std::vector<std::pair<size_t, ValueId>>> touched(buffers.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    for (const std::vector<ValueId>* values : {&steps[s].uses, &steps[s].reads}) {
      for (ValueId u : *values) {
        if (StorageOf(u).buffer >= 0) touched[U(StorageOf(u).buffer)].push_back({s, u});
      }
    }
  }
  std::vector<bool> shown(buffers.size(), false);
  for (const GraphOutput& o : g.outputs()) {
    if (StorageOf(o.value).buffer >= 0) shown[U(StorageOf(o.value).buffer)] = true;
  }
  int handed = 0;
  for (size_t p = 0; p < steps.size(); ++p) {
    if (kernel[p] == nullptr) continue;
    const ValueId v = steps[p].group.output(g);
    const std::string layout = kernel[p]->HandOffLayout(v);
    const int buffer = StorageOf(v).buffer;
    if (layout.empty() || buffer < 0 || shown[U(buffer)]) continue;
    std::vector<size_t> readers;
    bool alone = true;
    for (const auto& [s, u] : touched[U(buffer)]) {
      if (s == p) continue;
      if (u != v || kernel[s] == nullptr || kernel[s]->HandOffLayout(v) != layout) {
        alone = false;
        break;
      }
      readers.push_back(s);
    }
    if (!alone || readers.empty()) continue;
    kernel[p]->SetHandOff(v, true);
    for (size_t r : readers) kernel[r]->SetHandOff(v, true);
    ++handed;
  }
  // The plan says which of a step's values are reordered and which handed over.
  for (size_t i = 0; i < steps.size(); ++i) {
    if (kernel[i] == nullptr) continue;
    steps[i].info.schedule = kernel[i]->Describe();
    if (i < infos.size()) infos[i].schedule = steps[i].info.schedule;
  }
  return handed;
}

// A oneDNN step that adds a residual as its sum post-op copies the residual
// into its output first, unless the output is written over it. Where the
// residual's buffer holds it alone and dies at that step (ResNet's blocks:
// the block's input, last read by the add), the output moves into that
// buffer, and the arena is placed again. Returns how many moved.
int Executable::Impl::SumInPlace() {
  int moved = 0;
  for (size_t p = 0; p < steps.size(); ++p) {
    if (steps[p].info.provider != Provider::kOneDnn) continue;
    const std::optional<ValueId> r =
        std::static_pointer_cast<OneDnnKernel>(steps[p].holder)->InPlaceOperand();
    if (!r) continue;
    const ValueId out = steps[p].group.output(g);
    const Storage& rs = StorageOf(*r);
    const Storage& os = StorageOf(out);
    if (rs.buffer < 0 || os.buffer < 0 || rs.buffer == os.buffer) continue;
    Buffer& rb = buffers[U(rs.buffer)];
    Buffer& ob = buffers[U(os.buffer)];
    const int at = static_cast<int>(p);
    if (rb.kind != BufferKind::kArena || ob.kind != BufferKind::kArena || rb.elements != ob.elements ||
        rb.last != at || ob.first != at || rs.offset != 0 || os.offset != 0 || rs.strides != os.strides) {
      continue;
    }
    // The step reads nothing else in the residual's buffer (the conv's own
    // input may be the residual too).
    int reads = 0;
    for (ValueId u : steps[p].reads) reads += StorageOf(u).buffer == rs.buffer ? 1 : 0;
    if (reads != 1) continue;
    const int from = os.buffer, to = rs.buffer;
    for (std::vector<Storage>& outputs : storage) {
      for (Storage& st : outputs) {
        if (st.buffer == from) st.buffer = to;
      }
    }
    buffers[U(to)].last = buffers[U(from)].last;
    buffers[U(from)].elements = 0;
    ++moved;
  }
  if (moved > 0) PlaceArena();
  return moved;
}

// Steps for which oneDNN measured faster on its own may still slow the whole
// plan down (their reorders), and steps that lost on
// their own may win in a plan where oneDNN runs all convs and hands their
// outputs on blocked. So up to three plans are timed: the steps' own picks,
// oneDNN wherever it covers a step, and generated kernels alone; a plan with
// oneDNN steps must beat the generated one by kPlanMargin.
void Executable::Impl::ChoosePlanProviders() {
  if (options.providers != ProviderChoice::kMeasure) return;
  std::vector<size_t> covered;  // steps with both kernels
  bool mixed_has_vendor = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].generated) {
      covered.push_back(i);
      mixed_has_vendor = true;
    } else if (steps[i].vendor) {
      covered.push_back(i);
    }
  }
  if (covered.empty()) return;
  NamedTensors<F32> feeds;
  for (NodeId id : g.InputNodes()) {
    const TensorType& t = g.node(id).outputs[0];
    feeds.emplace(g.node(id).names[0],
                  Tensor<float>{t, std::vector<float>(U(t.num_elements()), 0.5f)});
  }
  // Each covered step's two kernels, and which each plan runs.
  std::vector<Step::Variant> generated_of, vendor_of;
  std::vector<bool> picked;  // the step's own pick was oneDNN
  for (size_t i : covered) {
    Step& st = steps[i];
    picked.push_back(st.generated.has_value());
    generated_of.push_back(st.generated ? *st.generated : st.Current());
    vendor_of.push_back(st.generated ? st.Current() : *st.vendor);
  }
  enum Plan { kPicks, kAllVendor, kGenerated };
  const char* names[] = {"the steps' own picks", "onednn wherever it runs the step",
                         "generated kernels alone"};
  std::vector<Plan> plans = {kGenerated, kAllVendor};
  if (mixed_has_vendor && std::find(picked.begin(), picked.end(), false) != picked.end()) {
    plans.push_back(kPicks);
  }
  auto use = [&](Plan plan) {
    for (size_t k = 0; k < covered.size(); ++k) {
      const bool vendor = plan == kAllVendor || (plan == kPicks && picked[k]);
      steps[covered[k]].Use(vendor ? vendor_of[k] : generated_of[k]);
    }
    return HandOffBlocked();
  };
  // The plans in turns, a run each (after a run of each to warm up), at
  // least 5 rounds and 0.1 s a plan, at most 20 rounds: on a shared machine
  // whose speed drifts, back-to-back blocks of runs compared the drift as
  // much as the plans. Medians of each.
  std::vector<std::vector<double>> times(plans.size());
  std::vector<int> hand_offs(plans.size());
  double total = 0;
  auto once = [&](size_t p) {
    hand_offs[p] = use(plans[p]);
    const auto start = std::chrono::steady_clock::now();
    (void)Run(feeds);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  // Every plan runs on oneDNN's OpenMP team while they are timed: a plan run
  // on the pool right after one with oneDNN steps shares the cores with the
  // team's threads, which spin for about 20 ms after their last step here
  // (SqueezeNet's generated plan measured 10.7 ms that way, and 6.0 ms with
  // libgomp's spin cut to 1000 pauses by GOMP_SPINCOUNT). Blocks of runs
  // with pauses between them measured the two teams within 1-3% of each
  // other on generated plans (ResNet-50, ResNeXt-50, SqueezeNet); the plan
  // kept runs on the pool when it has no oneDNN step.
  on_openmp = true;
  for (size_t p = 0; p < plans.size(); ++p) once(p);
  const double enough = 0.1 * static_cast<double>(plans.size());
  for (int round = 0; round < 20 && (round < 5 || total < enough); ++round) {
    for (size_t p = 0; p < plans.size(); ++p) {
      times[p].push_back(once(p));
      total += times[p].back();
    }
  }
  std::vector<double> median(plans.size());
  for (size_t p = 0; p < plans.size(); ++p) {
    std::sort(times[p].begin(), times[p].end());
    median[p] = times[p][times[p].size() / 2];
  }
  size_t best = 0;  // kGenerated
  for (size_t p = 1; p < plans.size(); ++p) {
    if (median[p] < kPlanMargin * median[0] && median[p] < median[best]) best = p;
  }
  std::string summary;
  for (size_t p = 0; p < plans.size(); ++p) {
    StrAppend(&summary, p == 0 ? "" : ", ", names[plans[p]], " ", Duration(median[p]));
    if (plans[p] != kGenerated && hand_offs[p] > 0) StrAppend(&summary, " (", hand_offs[p], " hand-offs)");
  }
  memory.blocked_hand_offs = use(plans[best]);
  for (size_t k = 0; k < covered.size(); ++k) {
    Step& step = steps[covered[k]];
    step.info.why = StrCat(step.info.why, "; the whole plan took ", summary, ": ",
                           names[plans[best]], " kept");
    infos[covered[k]] = step.info;
  }
}

absl::StatusOr<NamedTensors<F32>> Executable::Impl::Run(const NamedTensors<F32>& inputs) {
  Impl& m = *this;
  std::vector<float*> base(m.buffers.size(), nullptr);
  for (size_t i = 0; i < m.buffers.size(); ++i) {
    const Buffer& b = m.buffers[i];
    switch (b.kind) {
      case BufferKind::kArena:
        base[i] = m.arena.data() + b.offset;
        break;
      case BufferKind::kConstant:
        base[i] = m.constants[U(b.constant)].data.data();
        break;
      case BufferKind::kInput: {
        auto it = inputs.find(b.input);
        if (it == inputs.end()) return Invalid("no feed for input '", b.input, "'");
        const std::optional<ValueId> v = m.g.FindValue(b.input);
        const TensorType& declared = m.g.type(*v);
        if (it->second.type.dims != declared.dims ||
            static_cast<int64_t>(it->second.data.size()) != declared.num_elements()) {
          return Invalid("feed '", b.input, "' has dims ", DimsToString(it->second.type.dims),
                         " but the graph declares ", declared.ToString());
        }
        const Tensor<float>& feed = it->second;
        const bool convert = feed.type.layout != declared.layout;
        if (!convert && reinterpret_cast<uintptr_t>(feed.data.data()) % 64 == 0) {
          base[i] = const_cast<float*>(feed.data.data());
          break;
        }
        // Kernels read feeds with whole vectors: one that straddles two cache
        // lines on every load, in a buffer made afresh for each run, made a
        // 7x7/2 depthwise conv 5x slower than on the arena. Such a feed is
        // copied (converted on the way) into an aligned buffer kept between runs.
        if (m.feeds.size() < m.buffers.size()) m.feeds.resize(m.buffers.size());
        AlignedBuffer& copy = m.feeds[i];
        if (copy.size() != b.elements) copy = AlignedBuffer(b.elements);
        if (convert) {
          const std::vector<int64_t> from = PhysicalOffsets(feed.type);
          const std::vector<int64_t> to = PhysicalOffsets(declared);
          for (size_t e = 0; e < from.size(); ++e) copy.data()[to[e]] = feed.data[U(from[e])];
        } else {
          std::memcpy(copy.data(), feed.data.data(), static_cast<size_t>(b.elements) * 4);
        }
        base[i] = copy.data();
        break;
      }
    }
  }
  ThreadPool& pool = SharedPool(m.threads);
  pool.SetRunner(m.on_openmp ? &RunOnOpenMp : nullptr);
  for (size_t s = 0; s < m.steps.size(); ++s) {
    const Step& step = m.steps[s];
    auto resolve = [&](const ArgBinding& arg) -> float* {
      if (arg.kind == ArgBinding::Kind::kTemp) return base[U(step.temp_buffers[U(arg.index)])];
      const Storage& st = m.storage[U(arg.value.node)][U(arg.value.index)];
      return base[U(st.buffer)] + st.offset;
    };
    if (m.profiling) {
      const auto start = std::chrono::steady_clock::now();
      step.run(resolve, pool);
      m.infos[s].seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } else {
      step.run(resolve, pool);
    }
  }
  pool.SetRunner(nullptr);
  NamedTensors<F32> out;
  for (const GraphOutput& o : m.g.outputs()) {
    const Storage& st = m.storage[U(o.value.node)][U(o.value.index)];
    const TensorType& type = m.g.type(o.value);
    const float* data = base[U(st.buffer)] + st.offset;
    const size_t n = U(type.num_elements());
    if (st.strides == PhysicalStrides(type)) {
      // Stored as the output's layout stores it: one copy.
      out.emplace(o.name, Tensor<float>{type, std::vector<float>(data, data + n)});
      continue;
    }
    std::vector<float> logical(n);
    ForEachStrided(type.dims, st.strides, [&](int64_t i, int64_t off) { logical[U(i)] = data[off]; });
    out.emplace(o.name, FromLogical(type, std::move(logical)));
  }
  return out;
}

// ---- Executable.

Executable::Executable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Executable::~Executable() = default;

absl::StatusOr<std::unique_ptr<Executable>> Executable::Compile(const Graph& graph,
                                                                const NamedTensors<F32>& weights,
                                                                const RuntimeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->g = graph;
  impl->options = options;
  if (absl::Status s = impl->Build(weights); !s.ok()) {
    return absl::Status(s.code(), StrCat("compiling '", graph.name(), "' for the CPU: ", s.message()));
  }
  return std::unique_ptr<Executable>(new Executable(std::move(impl)));
}

absl::StatusOr<NamedTensors<F32>> Executable::Run(const NamedTensors<F32>& inputs) {
  return impl_->Run(inputs);
}

void Executable::set_profiling(bool on) { impl_->profiling = on; }
const std::vector<StepInfo>& Executable::steps() const { return impl_->infos; }
MemoryStats Executable::memory() const { return impl_->memory; }
int Executable::threads() const { return impl_->threads; }
WeightCache Executable::weight_cache() const { return impl_->weight_cache; }

std::string MemoryText(const MemoryStats& m) {
  char line[256];
  std::snprintf(line, sizeof line,
                "memory: arena %.2f MB in %d buffers (%.2f MB without reuse), constants %.2f MB; "
                "%d concats written in place",
                m.arena_bytes / 1e6, m.buffers, m.naive_bytes / 1e6, m.constant_bytes / 1e6, m.concats_in_place);
  std::string out = line;
  if (m.blocked_hand_offs > 0) {
    StrAppend(&out, "; ", m.blocked_hand_offs, " values handed between oneDNN steps in oneDNN's layouts");
  }
  if (m.sums_in_place > 0) StrAppend(&out, "; ", m.sums_in_place, " residuals summed in place");
  return out;
}

std::string Executable::PlanText() const {
  const Impl& m = *impl_;
  std::string out = StrCat("plan of ", m.g.name(), ": ", m.infos.size(), " steps on ", m.threads,
                           " threads, ", HostTarget().Describe(), "; weights timed ",
                           WeightCacheName(m.weight_cache), "\n");
  for (size_t i = 0; i < m.infos.size(); ++i) {
    const StepInfo& s = m.infos[i];
    StrAppend(&out, "  [", i, "] ", s.label, "\n      ", ProviderName(s.provider), ": ", s.schedule,
              "\n      why: ", s.why, "\n");
  }
  StrAppend(&out, MemoryText(m.memory), "\n");
  return out;
}

}  // namespace lemma::cpu
