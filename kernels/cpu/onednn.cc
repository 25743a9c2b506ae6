#include "kernels/cpu/onednn.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cpu/compiled_group.h"

#ifdef LEMMA_HAS_ONEDNN
#include "oneapi/dnnl/dnnl.hpp"
extern "C" void omp_set_num_threads(int);
#endif

namespace lemma::cpu {

#ifdef LEMMA_HAS_ONEDNN

namespace {

using dt = dnnl::memory::data_type;

dnnl::engine& Engine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

// A memory descriptor of `rank` dims (leading 1s added) with the value's
// strides (those of dims of size 1 made the outermost).
dnnl::memory::desc Desc(const ValueAccess& a, size_t rank) {
  dnnl::memory::dims dims(rank, 1), strides(rank, 0);
  const size_t skip = rank - a.dims.size();
  int64_t outer = 1;
  for (size_t d = 0; d < a.dims.size(); ++d) {
    dims[skip + d] = a.dims[d];
    strides[skip + d] = a.strides[d];
  }
  for (size_t d = 0; d < a.dims.size(); ++d) outer = std::max(outer, a.strides[d] * a.dims[d]);
  for (size_t d = 0; d < skip; ++d) strides[d] = outer;
  // A dim of size 1 may have any stride; lemma's column-major [1, n] has
  // strides (1, 1), which oneDNN accepts at creation but fails to execute.
  for (size_t d = skip; d < rank; ++d) {
    if (dims[d] == 1) strides[d] = outer;
  }
  return dnnl::memory::desc(dims, dt::f32, strides);
}

// Staging buffers of the calling thread, one per slot (a kernel's input,
// output, operands), grown as needed: shared by all kernels, so that one
// step's reordered output is still in cache for the next step's reorder, and
// a plan of many blocked convs holds three or four staging buffers, not
// three or four per conv.
float* Staging(size_t slot, size_t bytes) {
  thread_local std::vector<AlignedBuffer> buffers;
  if (buffers.size() <= slot) buffers.resize(slot + 1);
  AlignedBuffer& b = buffers[slot];
  const int64_t floats = static_cast<int64_t>((bytes + 3) / 4);
  if (b.size() < floats) b = AlignedBuffer(floats);
  return b.data();
}

// A value the primitive reads or writes: `memory` is what the primitive
// takes; when the primitive picked a layout of its own (a blocked one),
// `user` has the value's layout and a reorder copies between the two on
// each run (before for what it reads, after for what it writes), through the
// staging buffer `slot`, unless the value is handed over `direct`ly in the
// primitive's layout.
struct Bound {
  ValueId value;
  dnnl::memory memory;
  dnnl::memory user;  // empty unless the layouts differ
  dnnl::reorder reorder;
  size_t slot = 0;
  std::string hand_off;  // HandOffLayout
  bool direct = false;

  bool staged() const { return static_cast<bool>(user) && !direct; }
  // Sets the value's buffer; returns the memory to give the primitive.
  const dnnl::memory& Bind(float* data) {
    if (!staged()) {
      memory.set_data_handle(data);
    } else {
      user.set_data_handle(data);
      memory.set_data_handle(Staging(slot, memory.get_desc().get_size()));
    }
    return memory;
  }
};

// A key naming layout `md` (its blocking, dims and padding).
std::string LayoutKey(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  std::string key = StrCat(d.ndims, ":", static_cast<int>(d.format_kind), ":", d.offset0);
  for (int i = 0; i < d.ndims; ++i) {
    StrAppend(&key, "/", d.dims[i], ",", d.padded_dims[i], ",", d.padded_offsets[i], ",",
              d.format_desc.blocking.strides[i]);
  }
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  for (int i = 0; i < b.inner_nblks; ++i) StrAppend(&key, "|", b.inner_idxs[i], "x", b.inner_blks[i]);
  return key;
}

// Whether `md` lays its elements out densely, row-major.
bool Dense(const dnnl::memory::desc& md) {
  const dnnl::memory::dims dims = md.dims();
  dnnl::memory::dims strides(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) strides[d - 1] = strides[d] * dims[d];
  return md == dnnl::memory::desc(dims, dt::f32, strides);
}

// Whether `md` (a plain strided layout) leaves no gaps: its elements fill
// the span they cover, in some order of dims. A slice of a larger value (a
// channel range of a merged conv's output, a concat's input written in
// place) is not compact.
bool Compact(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks != 0) return true;
  int64_t span = 1, elements = 1;
  for (int i = 0; i < d.ndims; ++i) {
    span += (d.dims[i] - 1) * d.format_desc.blocking.strides[i];
    elements *= d.dims[i];
  }
  return elements == 0 || span == elements;
}

// The dims of a blocked-kind layout `md`, outermost first (by stride).
std::vector<size_t> DimOrder(const dnnl::memory::desc& md) {
  const int64_t* strides = md.data.format_desc.blocking.strides;
  std::vector<size_t> order(static_cast<size_t>(md.data.ndims));
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return strides[a] > strides[b]; });
  return order;
}

// The compact layout with `md`'s order of dims.
dnnl::memory::desc CompactOf(const dnnl::memory::desc& md) {
  const dnnl::memory::dims dims = md.dims();
  const std::vector<size_t> order = DimOrder(md);
  dnnl::memory::dims compact(dims.size(), 1);
  int64_t stride = 1;
  for (size_t k = order.size(); k-- > 0;) {
    compact[order[k]] = stride;
    stride *= dims[order[k]];
  }
  return dnnl::memory::desc(dims, dt::f32, compact);
}

// oneDNN's name of layout `md`: its dims outermost first, as letters, the
// blocked ones in capitals, then the inner blocks ("acdb" for channels-last,
// "aBcd16b" for 16-channel blocks).
std::string FormatName(const dnnl::memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return "any";
  const dnnl_blocking_desc_t& b = d.format_desc.blocking;
  std::string name;
  for (size_t dim : DimOrder(md)) {
    bool blocked = false;
    for (int k = 0; k < b.inner_nblks; ++k) blocked = blocked || b.inner_idxs[k] == static_cast<int>(dim);
    name.push_back(static_cast<char>((blocked ? 'A' : 'a') + static_cast<int>(dim)));
  }
  for (int k = 0; k < b.inner_nblks; ++k) {
    StrAppend(&name, b.inner_blks[k], std::string(1, static_cast<char>('a' + b.inner_idxs[k])));
  }
  return name;
}

// A bound value in the layout `inner` (the primitive's) for a value whose
// own layout is `user_md`: staged through buffer `slot` when they differ.
Bound Stage(ValueId value, const dnnl::memory::desc& user_md, const dnnl::memory::desc& inner,
            bool read, size_t slot) {
  Bound b;
  b.value = value;
  b.slot = slot;
  b.memory = dnnl::memory(inner, Engine(), DNNL_MEMORY_NONE);
  if (inner == user_md) return b;
  b.user = dnnl::memory(user_md, Engine(), DNNL_MEMORY_NONE);
  b.reorder = read ? dnnl::reorder(b.user, b.memory) : dnnl::reorder(b.memory, b.user);
  if (Dense(user_md) && inner.get_size() == user_md.get_size()) b.hand_off = LayoutKey(inner);
  return b;
}

// One post-op operand: a binary post-op's second input, or (sum) the
// value added to the output in place: copied into the output's memory before
// the primitive runs, unless it is there already (the same buffer).
struct Operand {
  Bound bound;
  int index = 0;  // post-op index
  bool sum = false;
  dnnl::reorder copy;       // bound.memory -> the output's memory (sum)
  dnnl::reorder from_user;  // bound.user -> the output's memory (sum, staged)
};

class Kernel : public OneDnnKernel {
 public:
  void Run(const std::function<float*(const ArgBinding&)>& resolve) override {
    auto ptr = [&](ValueId v) { return resolve({ArgBinding::Kind::kValue, v, 0}); };
    std::unordered_map<int, dnnl::memory> args;
    omp_set_num_threads(threads_);
    auto read = [&](Bound& b) -> const dnnl::memory& {
      const dnnl::memory& m = b.Bind(ptr(b.value));
      if (b.staged()) b.reorder.execute(stream_, b.user, b.memory);
      return m;
    };
    args[DNNL_ARG_SRC] = read(src_);
    args[DNNL_ARG_DST] = dst_.Bind(ptr(dst_.value));
    if (!weights_constant_) weights_.set_data_handle(ptr(weights_value_));
    args[DNNL_ARG_WEIGHTS] = weights_;
    for (Operand& o : operands_) {
      if (!o.sum) {
        args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(o.index) | DNNL_ARG_SRC_1] = read(o.bound);
        continue;
      }
      // The value to add goes into the output's memory first (in its
      // layout), unless the output is written over it in place.
      float* data = ptr(o.bound.value);
      if (o.bound.staged()) {
        o.bound.user.set_data_handle(data);
        o.from_user.execute(stream_, o.bound.user, dst_.memory);
      } else if (data != dst_.memory.get_data_handle()) {
        o.bound.memory.set_data_handle(data);
        o.copy.execute(stream_, o.bound.memory, dst_.memory);
      }
    }
    primitive_.execute(stream_, args);
    if (dst_.staged()) dst_.reorder.execute(stream_, dst_.memory, dst_.user);
    stream_.wait();
  }
  // The primitive, and for one that runs in layouts of its own how many of
  // its values are reordered on each run and how many handed over.
  std::string Describe() const override {
    int reordered = 0, handed = 0;
    std::string form;  // the layouts oneDNN runs in, where not the values' own
    ForEachBound([&](const Bound& b) {
      if (!b.user) return;
      ++(b.direct ? handed : reordered);
      const std::string name = FormatName(b.memory.get_desc());
      if (form.find(name) == std::string::npos) StrAppend(&form, form.empty() ? "" : ",", name);
    });
    if (reordered + handed == 0) return description_;
    if (handed == 0) return StrCat(description_, " (", form, ", reordered)");
    if (reordered == 0) return StrCat(description_, " (", form, ", handed over)");
    return StrCat(description_, " (", form, ": ", reordered, " reordered, ", handed, " handed over)");
  }
  std::optional<ValueId> InPlaceOperand() const override {
    if (dst_.staged()) return std::nullopt;
    for (const Operand& o : operands_) {
      if (o.sum && !o.bound.staged() && o.bound.memory.get_desc() == dst_.memory.get_desc()) {
        return o.bound.value;
      }
    }
    return std::nullopt;
  }
  int64_t PreparedBytes() const override { return prepared_bytes_; }
  void EvictWeights() const override {
    if (weights_constant_) EvictFromCaches(weights_.get_data_handle(), prepared_bytes_);
  }
  std::string HandOffLayout(ValueId value) const override {
    std::string key;
    bool mixed = false;  // the value bound twice, in two layouts
    ForEachBound([&](const Bound& b) {
      if (b.value != value) return;
      if (b.hand_off.empty() || (!key.empty() && key != b.hand_off)) mixed = true;
      key = b.hand_off;
    });
    return mixed ? std::string() : key;
  }
  void SetHandOff(ValueId value, bool direct) override {
    ForEachBound([&](Bound& b) {
      if (b.value == value && !b.hand_off.empty()) b.direct = direct;
    });
  }
  template <typename F>
  void ForEachBound(F f) { ForEachBoundOf(*this, f); }
  template <typename F>
  void ForEachBound(F f) const { ForEachBoundOf(*this, f); }
  // Kernel or const Kernel.
  template <typename Self, typename F>
  static void ForEachBoundOf(Self& self, F& f) {
    f(self.src_);
    f(self.dst_);
    for (auto& o : self.operands_) f(o.bound);
  }
  std::vector<ValueId> Values() const override {
    std::vector<ValueId> v = {src_.value, dst_.value};
    if (!weights_constant_) v.push_back(weights_value_);
    for (const Operand& o : operands_) v.push_back(o.bound.value);
    return v;
  }

  dnnl::stream stream_{Engine()};
  dnnl::primitive primitive_;
  Bound src_, dst_;
  dnnl::memory weights_;
  ValueId weights_value_;
  bool weights_constant_ = true;
  std::vector<Operand> operands_;
  std::string description_;
  int64_t prepared_bytes_ = 0;
  int threads_ = 1;
};

// Post-ops for the root's activation and the chain; fails for what has none.
// A binary operand of the output's dims takes the layout `full` when it is
// given (the output's, which the primitive may have picked blocked: its
// binary post-ops then read operands blocked alike).
absl::Status PostOps(const Group& group, const LoweringContext& c, size_t rank,
                     dnnl::post_ops& ops, std::vector<Operand>& operands,
                     const dnnl::memory::desc* full = nullptr, bool allow_sum = false) {
  const Graph& g = c.graph();
  using alg = dnnl::algorithm;
  const Node& root = g.node(group.root);
  switch (root.attrs.GetEnum<Activation>("activation")) {
    case Activation::kNone: break;
    case Activation::kRelu: ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); break;
    case Activation::kSigmoid: ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); break;
    case Activation::kTanh: ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); break;
  }
  ValueId running{group.root, 0};
  for (NodeId id : group.chain) {
    const Node& n = g.node(id);
    switch (n.op) {
      case OpKind::kRelu: ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); break;
      case OpKind::kSigmoid: ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); break;
      case OpKind::kTanh: ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); break;
      case OpKind::kGelu: ops.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f); break;
      case OpKind::kEwAdd:
      case OpKind::kBroadcastAdd:
      case OpKind::kEwMul:
      case OpKind::kBroadcastMul:
      case OpKind::kScalarMul:
      case OpKind::kBroadcastSub:
      case OpKind::kBroadcastDiv: {
        if (n.inputs[0] == running && n.inputs[1] == running) {
          return absl::UnimplementedError("a binary op of the running value with itself");
        }
        const bool ordered = n.op == OpKind::kBroadcastSub || n.op == OpKind::kBroadcastDiv;
        if (ordered && n.inputs[0] != running) {
          return absl::UnimplementedError("a post-op computes running value op operand only");
        }
        alg algorithm = alg::binary_mul;
        if (n.op == OpKind::kEwAdd || n.op == OpKind::kBroadcastAdd) algorithm = alg::binary_add;
        if (n.op == OpKind::kBroadcastSub) algorithm = alg::binary_sub;
        if (n.op == OpKind::kBroadcastDiv) algorithm = alg::binary_div;
        const ValueId other = n.inputs[0] == running ? n.inputs[1] : n.inputs[0];
        const dnnl::memory::desc user = Desc(c.Access(other), rank);
        // An operand with gaps is read through a compact copy: oneDNN's
        // kernels take binary operands compact, and otherwise fall back to
        // GEMM-based convs with slow post-ops (53 ms against 1.3 for a 1x1
        // conv adding a slice of a merged conv's output, ResNet-50).
        const dnnl::memory::desc md = full != nullptr && user.dims() == full->dims() ? *full
                                      : Compact(user)                                 ? user
                                                                                      : CompactOf(user);
        const int index = ops.len();
        // A full-size add in the output's layout: oneDNN's sum post-op, which
        // its fastest conv kernels take (brgemm ones refuse binary post-ops;
        // a 1x1 512x7x7 -> 2048 conv with the residual added took 1.39 ms
        // with a binary add and 1.06 with sum, cold).
        const bool sum = allow_sum && n.op == OpKind::kEwAdd && full != nullptr && md == *full &&
                         std::none_of(operands.begin(), operands.end(), [](const Operand& o) { return o.sum; });
        if (sum) {
          ops.append_sum(1.f);
        } else {
          ops.append_binary(algorithm, md);
        }
        Operand o;
        o.bound = Stage(other, user, md, /*read=*/true, 2 + operands.size());
        o.index = index;
        o.sum = sum;
        operands.push_back(std::move(o));
        break;
      }
      default:
        return absl::UnimplementedError(StrCat("no oneDNN post-op for ", OpName(n.op)));
    }
    running = ValueId{id, 0};
  }
  return absl::OkStatus();
}

std::string ImplName(const dnnl::primitive_desc_base& pd) {
  const char* name = pd.impl_info_str();
  return name == nullptr ? "?" : name;
}

// oneDNN falls back to its reference implementation (plain loops, "ref:any")
// where no optimized one takes the shapes, layouts and post-ops: 100-2000x
// slower than either provider's kernels (NASNet-A's 7x7/2 stem took 1.29 s
// against 0.61 ms, a 1x1 conv with an add 113 ms against 0.25 ms), so not
// worth timing.
absl::Status RefuseReference(const dnnl::primitive_desc_base& pd) {
  const std::string name = ImplName(pd);
  if (name.rfind("ref", 0) == 0) {
    return absl::UnimplementedError(StrCat("oneDNN has only its reference implementation (", name, ")"));
  }
  return absl::OkStatus();
}

bool IsGemm(const dnnl::primitive_desc_base& pd) {
  return ImplName(pd).find("gemm") != std::string::npos;
}

// A conv primitive in the value's own layouts runs only oneDNN's GEMM-based
// implementations on NCHW (an im2col copy, then GEMM); its direct JIT
// kernels take channel-blocked layouts (nChw16c with AVX-512). So the conv
// is also asked for with the layouts left to oneDNN, its input, output and
// full-size post-op operands reordered into and out of staging buffers on
// each run; the blocked form is kept when oneDNN runs it with a direct kernel and
// in the value's layouts only with GEMM (or not at all). The reorders are
// part of what the runtime times against the generated kernel.
absl::StatusOr<std::unique_ptr<OneDnnKernel>> MakeConv(const Group& group, const LoweringContext& c,
                                                       int threads) {
  const Graph& g = c.graph();
  const Node& n = g.node(group.root);
  const ValueAccess x = c.Access(n.inputs[0]), w = c.Access(n.inputs[1]);
  const ValueAccess y = c.Access(group.output(g));
  if (w.constant == nullptr) return absl::UnimplementedError("the weights are not constant");
  absl::StatusOr<Window2d> win = ResolveWindow(x.dims[2], x.dims[3], {w.dims[2], w.dims[3]}, n.attrs);
  if (!win.ok()) return win.status();
  const int64_t groups = n.attrs.GetInt("groups");
  const dnnl::memory::desc src_md = Desc(x, 4), dst_md = Desc(y, 4);
  dnnl::memory::dims wdims = {w.dims[0], w.dims[1], w.dims[2], w.dims[3]};
  dnnl::memory::dims wstrides = {w.strides[0], w.strides[1], w.strides[2], w.strides[3]};
  if (groups > 1) {
    wdims = {groups, w.dims[0] / groups, w.dims[1], w.dims[2], w.dims[3]};
    wstrides = {w.strides[0] * (w.dims[0] / groups), w.strides[0], w.strides[1], w.strides[2],
                w.strides[3]};
  }
  const dnnl::memory::desc user_w(wdims, dt::f32, wstrides);
  const dnnl::memory::desc any_w(wdims, dt::f32, dnnl::memory::format_tag::any);
  const dnnl::memory::dims strides = {win->stride[0], win->stride[1]};
  const dnnl::memory::dims dilates = {win->dilation[0] - 1, win->dilation[1] - 1};
  const dnnl::memory::dims pad_l = {win->pads[0], win->pads[1]};
  const dnnl::memory::dims pad_r = {win->pads[2], win->pads[3]};

  // A primitive descriptor for these layouts of src and dst (and of the
  // full-size post-op operands, `full`), with its operands.
  struct Candidate {
    dnnl::convolution_forward::primitive_desc pd;
    std::vector<Operand> operands;
  };
  auto conv = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& dst) {
    return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                           dnnl::algorithm::convolution_direct, src, any_w, dst,
                                           strides, dilates, pad_l, pad_r);
  };
  auto make_with = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& dst,
                       const dnnl::memory::desc* full, bool sum) -> absl::StatusOr<Candidate> {
    Candidate cand;
    dnnl::post_ops ops;
    if (absl::Status s = PostOps(group, c, 4, ops, cand.operands, full, sum); !s.ok()) return s;
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    cand.pd = dnnl::convolution_forward::primitive_desc(conv(src, dst), attr, Engine(), true);
    if (!cand.pd) return absl::UnimplementedError("oneDNN has no convolution for these layouts");
    if (absl::Status s = RefuseReference(cand.pd); !s.ok()) return s;
    return cand;
  };
  // A residual added as a sum post-op where oneDNN has a direct kernel for
  // that, as a binary one otherwise.
  auto make = [&](const dnnl::memory::desc& src, const dnnl::memory::desc& dst,
                  const dnnl::memory::desc* full) -> absl::StatusOr<Candidate> {
    absl::StatusOr<Candidate> with_sum = make_with(src, dst, full, true);
    const bool summed = with_sum.ok() && std::any_of(with_sum->operands.begin(), with_sum->operands.end(),
                                                     [](const Operand& o) { return o.sum; });
    if (!summed || !IsGemm(with_sum->pd)) return with_sum;
    absl::StatusOr<Candidate> binary = make_with(src, dst, full, false);
    return binary.ok() ? binary : with_sum;
  };
  // In the values' own layouts, full-size operands in the output's (so that
  // a residual can be added as a sum) unless the output has gaps.
  absl::StatusOr<Candidate> plain = make(src_md, dst_md, Compact(dst_md) ? &dst_md : nullptr);
  absl::StatusOr<Candidate> blocked = absl::UnimplementedError("no blocked layout");
  if (!plain.ok() || IsGemm(plain->pd)) {
    const dnnl::memory::desc any(src_md.dims(), dt::f32, dnnl::memory::format_tag::any);
    const dnnl::memory::desc any_dst(dst_md.dims(), dt::f32, dnnl::memory::format_tag::any);
    // The layouts oneDNN picks for the bare conv (post-ops would bind the
    // output's); then the conv with its operands in the output's layout.
    const dnnl::convolution_forward::primitive_desc free(conv(any, any_dst), dnnl::primitive_attr(),
                                                         Engine(), true);
    // Skipped only where it is the plain candidate again (oneDNN may pick
    // channels-last for both; an input in another layout, or with gaps, is
    // then reordered into it).
    if (free && !IsGemm(free) && (free.dst_desc() != dst_md || free.src_desc() != src_md)) {
      const dnnl::memory::desc inner_dst = free.dst_desc();
      blocked = make(free.src_desc(), inner_dst, &inner_dst);
      if (blocked.ok() && IsGemm(blocked->pd)) blocked = absl::UnimplementedError("GEMM only");
    }
  }
  if (!plain.ok() && !blocked.ok()) return plain.status();
  Candidate& chosen = blocked.ok() ? *blocked : *plain;
  const dnnl::convolution_forward::primitive_desc& pd = chosen.pd;

  auto k = std::make_unique<Kernel>();
  k->threads_ = threads;
  k->operands_ = std::move(chosen.operands);
  k->weights_ = dnnl::memory(pd.weights_desc(), Engine());
  dnnl::memory user(user_w, Engine(), const_cast<float*>(w.constant));
  dnnl::reorder(user, k->weights_).execute(k->stream_, user, k->weights_);
  k->stream_.wait();
  k->prepared_bytes_ = static_cast<int64_t>(pd.weights_desc().get_size());
  k->src_ = Stage(n.inputs[0], src_md, pd.src_desc(), /*read=*/true, 0);
  k->dst_ = Stage(group.output(g), dst_md, pd.dst_desc(), /*read=*/false, 1);
  for (Operand& o : k->operands_) {
    if (!o.sum) continue;
    o.copy = dnnl::reorder(o.bound.memory, k->dst_.memory);
    if (o.bound.user) o.from_user = dnnl::reorder(o.bound.user, k->dst_.memory);
  }
  k->primitive_ = dnnl::convolution_forward(pd);
  k->weights_value_ = n.inputs[1];
  k->description_ = StrCat("oneDNN convolution ", ImplName(pd));
  if (std::any_of(k->operands_.begin(), k->operands_.end(), [](const Operand& o) { return o.sum; })) {
    StrAppend(&k->description_, " + sum");
  }
  return std::unique_ptr<OneDnnKernel>(std::move(k));
}

absl::StatusOr<std::unique_ptr<OneDnnKernel>> MakeMatMul(const Group& group,
                                                         const LoweringContext& c, int threads) {
  const Graph& g = c.graph();
  const Node& n = g.node(group.root);
  const ValueAccess a = c.Access(n.inputs[0]), b = c.Access(n.inputs[1]);
  const ValueAccess y = c.Access(group.output(g));
  const size_t rank = y.dims.size();
  auto k = std::make_unique<Kernel>();
  k->threads_ = threads;
  dnnl::post_ops ops;
  if (absl::Status s = PostOps(group, c, rank, ops, k->operands_); !s.ok()) return s;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  const dnnl::memory::desc src_md = Desc(a, rank), dst_md = Desc(y, rank);
  const dnnl::memory::desc user_w = Desc(b, rank);
  k->weights_constant_ = b.constant != nullptr;
  const dnnl::memory::desc w_md =
      k->weights_constant_ ? dnnl::memory::desc(user_w.dims(), dt::f32, dnnl::memory::format_tag::any)
                           : user_w;
  const dnnl::matmul::desc desc(src_md, w_md, dst_md);
  const dnnl::matmul::primitive_desc pd(desc, attr, Engine());
  if (absl::Status s = RefuseReference(pd); !s.ok()) return s;
  if (k->weights_constant_) {
    k->weights_ = dnnl::memory(pd.weights_desc(), Engine());
    dnnl::memory user(user_w, Engine(), const_cast<float*>(b.constant));
    dnnl::reorder(user, k->weights_).execute(k->stream_, user, k->weights_);
    k->stream_.wait();
    k->prepared_bytes_ = static_cast<int64_t>(pd.weights_desc().get_size());
  } else {
    k->weights_ = dnnl::memory(user_w, Engine(), DNNL_MEMORY_NONE);
  }
  k->src_ = Stage(n.inputs[0], src_md, src_md, /*read=*/true, 0);
  k->dst_ = Stage(group.output(g), dst_md, dst_md, /*read=*/false, 1);
  k->primitive_ = dnnl::matmul(pd);
  k->weights_value_ = n.inputs[1];
  k->description_ = StrCat("oneDNN matmul ", ImplName(pd));
  return std::unique_ptr<OneDnnKernel>(std::move(k));
}

}  // namespace

bool OneDnnAvailable() { return true; }

void RunOnOpenMp(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  const int64_t chunks = std::min<int64_t>(n, 8 * threads);
  std::atomic<int64_t> next{0};
#pragma omp parallel num_threads(threads)
  for (int64_t c = next.fetch_add(1); c < chunks; c = next.fetch_add(1)) {
    const int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    if (begin < end) fn(begin, end);
  }
}

absl::StatusOr<std::unique_ptr<OneDnnKernel>> MakeOneDnnKernel(const Group& group,
                                                               const LoweringContext& context,
                                                               int threads) {
  const OpKind op = context.graph().node(group.root).op;
  try {
    if (op == OpKind::kConv2d) return MakeConv(group, context, threads);
    if (op == OpKind::kMatMul) return MakeMatMul(group, context, threads);
  } catch (const dnnl::error& e) {
    return absl::UnimplementedError(StrCat("oneDNN: ", e.what()));
  }
  return absl::UnimplementedError(StrCat("oneDNN provides no ", OpName(op)));
}

double TimeOneDnn(OneDnnKernel& kernel, const LoweringContext& context, double min_seconds) {
  return TimeOneDnnCalls(kernel, context, min_seconds).fastest;
}

Timing TimeOneDnnCalls(OneDnnKernel& kernel, const LoweringContext& context, double min_seconds,
                       WeightCache weights) {
  std::vector<std::pair<ValueId, AlignedBuffer>> buffers;
  std::vector<std::pair<ValueId, const float*>> constants;
  for (ValueId v : kernel.Values()) {
    const ValueAccess a = context.Access(v);
    if (a.constant != nullptr) {
      constants.push_back({v, a.constant});
    } else {
      buffers.push_back({v, AlignedBuffer(a.elements)});
    }
  }
  auto resolve = [&](const ArgBinding& arg) -> float* {
    for (auto& [v, data] : constants) {
      if (v == arg.value) return const_cast<float*>(data);
    }
    for (auto& [v, buffer] : buffers) {
      if (v == arg.value) return buffer.data();
    }
    return nullptr;
  };
  try {
    std::function<void()> before;
    if (weights == WeightCache::kCold) {
      before = [&] {
        kernel.EvictWeights();
        for (const auto& [v, data] : constants) EvictFromCaches(data, context.Access(v).elements * 4);
      };
    }
    return TimeCalls([&] { kernel.Run(resolve); }, 3, min_seconds, 1000, before);
  } catch (const dnnl::error&) {
    // A primitive that does not execute never wins a comparison.
    const double never = std::numeric_limits<double>::infinity();
    return Timing{never, never};
  }
}

#else  // !LEMMA_HAS_ONEDNN

bool OneDnnAvailable() { return false; }

void RunOnOpenMp(int, int64_t n, const std::function<void(int64_t, int64_t)>& fn) { fn(0, n); }

absl::StatusOr<std::unique_ptr<OneDnnKernel>> MakeOneDnnKernel(const Group&,
                                                               const LoweringContext&, int) {
  return absl::UnimplementedError("lemma was built without oneDNN (LEMMA_ONEDNN=OFF)");
}

double TimeOneDnn(OneDnnKernel&, const LoweringContext&, double) { return 0; }

Timing TimeOneDnnCalls(OneDnnKernel&, const LoweringContext&, double, WeightCache) { return {}; }

#endif  // LEMMA_HAS_ONEDNN

}  // namespace lemma::cpu
