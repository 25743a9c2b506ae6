#include "kernels/cuda/plan.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <map>
#include <numeric>
#include <optional>
#include <utility>

#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "ir/status_macros.h"
#include "kernels/tensor.h"

namespace lemma::cuda {
namespace {

using Strides = std::vector<int64_t>;

// The op of an elementwise node in a generated program, if it has one.
std::optional<EwOp> ElementwiseOp(OpKind op) {
  switch (op) {
    case OpKind::kEwAdd:
    case OpKind::kBroadcastAdd:
      return EwOp::kAdd;
    case OpKind::kEwMul:
    case OpKind::kBroadcastMul:
    case OpKind::kScalarMul:
      return EwOp::kMul;
    case OpKind::kBroadcastSub:
      return EwOp::kSub;
    case OpKind::kBroadcastDiv:
      return EwOp::kDiv;
    case OpKind::kRelu:
      return EwOp::kRelu;
    case OpKind::kSigmoid:
      return EwOp::kSigmoid;
    case OpKind::kTanh:
      return EwOp::kTanh;
    case OpKind::kGelu:
      return EwOp::kGelu;
    default:
      return std::nullopt;
  }
}

bool IsUnary(EwOp op) { return op == EwOp::kRelu || op == EwOp::kSigmoid || op == EwOp::kTanh || op == EwOp::kGelu; }

std::optional<EwOp> ActivationOp(const Attributes& attrs) {
  switch (attrs.GetEnum<Activation>("activation")) {
    case Activation::kRelu: return EwOp::kRelu;
    case Activation::kSigmoid: return EwOp::kSigmoid;
    case Activation::kTanh: return EwOp::kTanh;
    case Activation::kNone: break;
  }
  return std::nullopt;
}

// Strides of `t` read along the dims `out` (numpy broadcasting: dims aligned
// at the right, 0 where `t` has size 1 or no dim).
Strides BroadcastStrides(const TensorType& t, const Dims& out) {
  const Strides phys = PhysicalStrides(t);
  const int r = static_cast<int>(out.size()), tr = t.rank();
  Strides s(out.size(), 0);
  for (int d = 0; d < r; ++d) {
    const int j = d - (r - tr);
    if (j >= 0 && t.dims[static_cast<size_t>(j)] != 1) s[static_cast<size_t>(d)] = phys[static_cast<size_t>(j)];
  }
  return s;
}

struct Operand {
  BufferRef buffer;
  int64_t offset = 0;
  Strides strides;  // one per logical iteration dim
};

class Planner {
 public:
  Planner(const Graph& g, const PlanOptions& options) : g_(g), options_(options) {}
  absl::StatusOr<Plan> Build();

 private:
  absl::Status PlanNode(NodeId id);
  std::vector<NodeId> Chain(NodeId root);
  BufferRef Write(ValueId v);
  BufferRef Scratch(const TensorType& t);
  absl::StatusOr<BufferRef> Read(ValueId v);
  int Source(std::string source);
  absl::StatusOr<KernelLaunch> EwLaunch(const EwProgram& program, const Dims& dims, Layout order,
                                       const Operand& out, const std::vector<Operand>& in);
  absl::Status Copy(Step& step, NodeId id, const BufferRef& out);
  absl::Status RowOp(Step& step, NodeId id, const BufferRef& out);
  absl::Status CheckLibraryOp(NodeId id);
  absl::Status PadExplicitly(Step& step);
  template <typename Why>
  std::string Error(NodeId id, const Why& why) const {
    return StrCat(g_.Describe(id), ": ", why);
  }

  const Graph& g_;
  PlanOptions options_;
  Plan plan_;
  std::vector<bool> live_, constant_, absorbed_;
  std::vector<std::vector<NodeId>> users_;
  std::map<std::string, int, std::less<>> source_index_;
  int step_ = 0;  // the step being planned
};

BufferRef Planner::Write(ValueId v) {
  const TensorType& t = g_.type(v);
  plan_.buffers.push_back({.bytes = t.num_elements() * 4, .first = step_, .last = step_});
  const BufferRef ref{BufferRef::Where::kArena, static_cast<int>(plan_.buffers.size()) - 1};
  plan_.value_buffers[v] = ref;
  return ref;
}

BufferRef Planner::Scratch(const TensorType& t) {
  plan_.buffers.push_back({.bytes = t.num_elements() * 4, .first = step_, .last = step_});
  return {BufferRef::Where::kArena, static_cast<int>(plan_.buffers.size()) - 1};
}

absl::StatusOr<BufferRef> Planner::Read(ValueId v) {
  auto it = plan_.value_buffers.find(v);
  if (it == plan_.value_buffers.end()) {
    return absl::InternalError(StrCat("cuda plan: value ", g_.ValueLabel(v), " is read before it is written"));
  }
  if (it->second.where == BufferRef::Where::kArena) {
    cpu::BufferRequest& r = plan_.buffers[static_cast<size_t>(it->second.index)];
    r.last = std::max(r.last, step_);
  }
  return it->second;
}

int Planner::Source(std::string source) {
  auto it = source_index_.find(source);
  if (it != source_index_.end()) return it->second;
  const int index = static_cast<int>(plan_.sources.size());
  source_index_.emplace(source, index);
  plan_.sources.push_back(std::move(source));
  return index;
}

// A launch over `dims`, iterated in the physical order of `order` (the
// output's layout, so that the stores are contiguous).
absl::StatusOr<KernelLaunch> Planner::EwLaunch(const EwProgram& program, const Dims& dims, Layout order,
                                              const Operand& out, const std::vector<Operand>& in) {
  const int rank = static_cast<int>(dims.size());
  if (rank > kMaxRank) return absl::UnimplementedError(StrCat("rank ", rank, " above ", kMaxRank));
  if (static_cast<int>(in.size()) > kMaxInputs) {
    return absl::UnimplementedError(StrCat(in.size(), " inputs above ", kMaxInputs));
  }
  const std::vector<int> perm =
      LayoutFitsRank(order, rank) ? LayoutPermutation(order, rank) : LayoutPermutation(DefaultLayout(rank), rank);
  KernelLaunch l;
  l.source = Source(EwKernelSource(program, rank));
  l.what = StrCat("ew: ", EwProgramText(program));
  l.out = out.buffer;
  l.ew.n = NumElements(dims);
  l.ew.rank = rank;
  l.ew.out_offset = out.offset;
  for (int i = 0; i < rank; ++i) {
    const size_t p = static_cast<size_t>(perm[static_cast<size_t>(i)]);
    l.ew.dims[i] = dims[p];
    l.ew.out_strides[i] = out.strides[p];
    for (size_t k = 0; k < in.size(); ++k) l.ew.in_strides[k][i] = in[k].strides[p];
  }
  for (size_t k = 0; k < in.size(); ++k) {
    l.ew.in_offset[k] = in[k].offset;
    l.in.push_back(in[k].buffer);
  }
  return l;
}

// The elementwise consumers fused after `root`: each the only user of the
// value before it, of the same dims, and not a graph output's producer.
std::vector<NodeId> Planner::Chain(NodeId root) {
  std::vector<NodeId> chain;
  if (!options_.fuse || g_.node(root).outputs.size() != 1) return chain;
  std::vector<bool> is_output(static_cast<size_t>(g_.num_nodes()), false);
  for (const GraphOutput& o : g_.outputs()) is_output[static_cast<size_t>(o.value.node)] = true;
  NodeId cur = root;
  int inputs = static_cast<int>(g_.node(root).inputs.size());
  while (!is_output[static_cast<size_t>(cur)]) {
    std::vector<NodeId> users = users_[static_cast<size_t>(cur)];
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    if (users.size() != 1) break;
    const NodeId u = users[0];
    const Node& n = g_.node(u);
    if (!ElementwiseOp(n.op) || constant_[static_cast<size_t>(u)] || !live_[static_cast<size_t>(u)]) break;
    if (n.outputs[0].dims != g_.node(cur).outputs[0].dims) break;
    // Its other operands must exist when the root runs.
    const bool ready = std::all_of(n.inputs.begin(), n.inputs.end(), [&](ValueId v) {
      return v.node == cur || plan_.value_buffers.contains(v);
    });
    if (!ready) break;
    inputs += static_cast<int>(n.inputs.size()) - 1;
    if (inputs > kMaxInputs) break;
    chain.push_back(u);
    cur = u;
  }
  return chain;
}

absl::Status Planner::CheckLibraryOp(NodeId id) {
  const Node& n = g_.node(id);
  if (n.op == OpKind::kConv2d || n.op == OpKind::kAvgPool2d || n.op == OpKind::kMaxPool2d) {
    const TensorType& x = g_.type(n.inputs[0]);
    std::array<int64_t, 2> kernel;
    if (n.op == OpKind::kConv2d) {
      const TensorType& w = g_.type(n.inputs[1]);
      kernel = {w.dim(2), w.dim(3)};
    } else {
      kernel = {n.attrs.GetInts("kernel")[0], n.attrs.GetInts("kernel")[1]};
    }
    absl::StatusOr<Window2d> win = ResolveWindow(x.dim(2), x.dim(3), kernel, n.attrs);
    if (!win.ok()) return absl::InvalidArgumentError(Error(id, win.status().message()));
    const bool symmetric = win->pads[0] == win->pads[2] && win->pads[1] == win->pads[3];
    if (!symmetric && n.op == OpKind::kAvgPool2d && n.attrs.GetInt("count_include_pad") == 0) {
      return absl::UnimplementedError(Error(
          id, StrCat("cuDNN pads symmetrically and an average pool that excludes padding cannot be padded "
                     "explicitly; pads are [", win->pads[0], ",", win->pads[1], ",", win->pads[2], ",",
                     win->pads[3], "]")));
    }
    // With explicit padding the window sees pads 0 on a larger input.
    const int64_t h = symmetric ? x.dim(2) + 2 * win->pads[0] : x.dim(2) + win->pads[0] + win->pads[2];
    const int64_t w = symmetric ? x.dim(3) + 2 * win->pads[1] : x.dim(3) + win->pads[1] + win->pads[3];
    if (n.op != OpKind::kConv2d && (win->out[0] != (h - kernel[0]) / win->stride[0] + 1 ||
                                    win->out[1] != (w - kernel[1]) / win->stride[1] + 1)) {
      return absl::UnimplementedError(Error(id, "the pool's output size differs from cuDNN's"));
    }
  }
  if (n.op == OpKind::kBatchNorm && g_.type(n.inputs[0]).rank() != 4) {
    return absl::UnimplementedError(Error(id, "cuDNN batchnorm needs a rank-4 input"));
  }
  if (n.op == OpKind::kMatMul) {
    const TensorType& a = g_.type(n.inputs[0]);
    const TensorType& b = g_.type(n.inputs[1]);
    const Dims& o = n.outputs[0].dims;
    for (const TensorType* t : {&a, &b}) {
      const int64_t tb = NumElements(std::span(t->dims).first(t->dims.size() - 2));
      const bool same = t->rank() == static_cast<int>(o.size()) &&
                        std::equal(t->dims.begin(), t->dims.end() - 2, o.begin());
      if (tb != 1 && !same) {
        return absl::UnimplementedError(
            Error(id, StrCat("cuBLASLt batches need operand batch dims equal to the output's or all 1; got ",
                             t->ToString(), " for output ", n.outputs[0].ToString())));
      }
    }
  }
  return absl::OkStatus();
}

// Conv and pools with asymmetric padding read an explicitly padded copy.
absl::Status Planner::PadExplicitly(Step& step) {
  const Node& n = g_.node(step.node);
  if (n.op != OpKind::kConv2d && n.op != OpKind::kAvgPool2d && n.op != OpKind::kMaxPool2d) {
    return absl::OkStatus();
  }
  const TensorType& xt = g_.type(n.inputs[0]);
  const std::array<int64_t, 2> kernel =
      n.op == OpKind::kConv2d ? std::array<int64_t, 2>{g_.type(n.inputs[1]).dim(2), g_.type(n.inputs[1]).dim(3)}
                              : std::array<int64_t, 2>{n.attrs.GetInts("kernel")[0], n.attrs.GetInts("kernel")[1]};
  absl::StatusOr<Window2d> win = ResolveWindow(xt.dim(2), xt.dim(3), kernel, n.attrs);
  if (!win.ok()) return absl::InvalidArgumentError(Error(step.node, win.status().message()));
  if (win->pads[0] == win->pads[2] && win->pads[1] == win->pads[3]) return absl::OkStatus();
  TensorType padded = xt;
  padded.dims[2] += win->pads[0] + win->pads[2];
  padded.dims[3] += win->pads[1] + win->pads[3];
  const BufferRef scratch = Scratch(padded);
  const Strides ps = PhysicalStrides(padded);
  EwProgram fill;
  fill.Const(n.op == OpKind::kMaxPool2d ? -std::numeric_limits<float>::infinity() : 0.0f);
  EwProgram copy;
  copy.Load(0);
  for (auto [p, dims, out, in] :
       {std::tuple{&fill, padded.dims, Operand{scratch, 0, ps}, std::vector<Operand>{}},
        std::tuple{&copy, xt.dims, Operand{scratch, win->pads[0] * ps[2] + win->pads[1] * ps[3], ps},
                   std::vector<Operand>{{step.inputs[0], 0, PhysicalStrides(xt)}}}}) {
    absl::StatusOr<KernelLaunch> l = EwLaunch(*p, dims, padded.layout, out, in);
    if (!l.ok()) return absl::UnimplementedError(Error(step.node, l.status().message()));
    step.pre_launches.push_back(*std::move(l));
  }
  step.inputs[0] = scratch;
  step.padded_input = padded;
  return absl::OkStatus();
}

// Copies: transpose, slice, split, concat, reshape, pad, enlarge.
absl::Status Planner::Copy(Step& step, NodeId id, const BufferRef& out) {
  const Node& n = g_.node(id);
  EwProgram copy;
  copy.Load(0);
  auto add = [&](const EwProgram& p, const Dims& dims, Layout order, const Operand& o,
                 const std::vector<Operand>& in) -> absl::Status {
    absl::StatusOr<KernelLaunch> l = EwLaunch(p, dims, order, o, in);
    if (!l.ok()) return absl::UnimplementedError(Error(id, l.status().message()));
    step.launches.push_back(*std::move(l));
    return absl::OkStatus();
  };
  const TensorType& ot = n.outputs[0];
  switch (n.op) {
    case OpKind::kTranspose: {
      LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
      const Strides ps = PhysicalStrides(g_.type(n.inputs[0]));
      const std::vector<int64_t>& perm = n.attrs.GetInts("perm");
      Strides s(perm.size());
      for (size_t d = 0; d < perm.size(); ++d) s[d] = ps[static_cast<size_t>(perm[d])];
      return add(copy, ot.dims, ot.layout, {out, 0, PhysicalStrides(ot)}, {{in, 0, s}});
    }
    case OpKind::kSlice: {
      const TensorType& it = g_.type(n.inputs[0]);
      LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
      absl::StatusOr<std::vector<SliceAxis>> axes = ResolveSlice(it.dims, n.attrs);
      if (!axes.ok()) return absl::InvalidArgumentError(Error(id, axes.status().message()));
      Strides s = PhysicalStrides(it);
      int64_t offset = 0;
      for (const SliceAxis& a : *axes) {
        offset += a.start * s[static_cast<size_t>(a.axis)];
        s[static_cast<size_t>(a.axis)] *= a.step;
      }
      return add(copy, ot.dims, ot.layout, {out, 0, PhysicalStrides(ot)}, {{in, offset, s}});
    }
    case OpKind::kSplit: {
      const TensorType& it = g_.type(n.inputs[0]);
      LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
      const int axis = static_cast<int>(n.attrs.GetInt("axis") < 0 ? n.attrs.GetInt("axis") + it.rank()
                                                                   : n.attrs.GetInt("axis"));
      const Strides s = PhysicalStrides(it);
      int64_t start = 0;
      for (size_t i = 0; i < n.outputs.size(); ++i) {
        const TensorType& piece = n.outputs[i];
        const BufferRef o = i == 0 ? out : Write(ValueId{id, static_cast<int32_t>(i)});
        LEMMA_RETURN_IF_ERROR(
            add(copy, piece.dims, piece.layout, {o, 0, PhysicalStrides(piece)}, {{in, start * s[static_cast<size_t>(axis)], s}}));
        start += piece.dims[static_cast<size_t>(axis)];
      }
      return absl::OkStatus();
    }
    case OpKind::kConcat: {
      const int axis = static_cast<int>(n.attrs.GetInt("axis") < 0 ? n.attrs.GetInt("axis") + ot.rank()
                                                                   : n.attrs.GetInt("axis"));
      const Strides os = PhysicalStrides(ot);
      int64_t start = 0;
      for (const ValueId v : n.inputs) {
        const TensorType& it = g_.type(v);
        LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(v));
        LEMMA_RETURN_IF_ERROR(
            add(copy, it.dims, ot.layout, {out, start * os[static_cast<size_t>(axis)], os}, {{in, 0, PhysicalStrides(it)}}));
        start += it.dims[static_cast<size_t>(axis)];
      }
      return absl::OkStatus();
    }
    case OpKind::kReshape: {
      const TensorType& it = g_.type(n.inputs[0]);
      if (it.layout != DefaultLayout(it.rank()) || ot.layout != DefaultLayout(ot.rank())) {
        return absl::UnimplementedError(Error(id, "reshape on the GPU needs default layouts"));
      }
      LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
      return add(copy, {ot.num_elements()}, Layout::kRowMajor, {out, 0, {1}}, {{in, 0, {1}}});
    }
    case OpKind::kPad:
    case OpKind::kEnlarge: {
      // Both write a filled output and copy the input into it at an offset:
      // pad's leading pads, or the centre of enlarge's larger window.
      const TensorType& it = g_.type(n.inputs[0]);
      LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
      EwProgram fill;
      fill.Const(n.op == OpKind::kPad ? static_cast<float>(n.attrs.GetFloat("value")) : 0.0f);
      const Strides os = PhysicalStrides(ot);
      LEMMA_RETURN_IF_ERROR(add(fill, ot.dims, ot.layout, {out, 0, os}, {}));
      std::vector<int64_t> front(static_cast<size_t>(it.rank()), 0);
      if (n.op == OpKind::kPad) {
        const std::vector<int64_t>& pads = n.attrs.GetInts("pads");
        std::copy(pads.begin(), pads.begin() + it.rank(), front.begin());
      } else {
        front[2] = (ot.dim(2) - it.dim(2)) / 2;
        front[3] = (ot.dim(3) - it.dim(3)) / 2;
      }
      int64_t offset = 0;
      for (size_t d = 0; d < front.size(); ++d) offset += front[d] * os[d];
      return add(copy, it.dims, ot.layout, {out, offset, os}, {{in, 0, PhysicalStrides(it)}});
    }
    default:
      return absl::UnimplementedError(Error(id, StrCat("no GPU kernel for op ", OpName(n.op))));
  }
}

// Softmax, layernorm and the reductions.
absl::Status Planner::RowOp(Step& step, NodeId id, const BufferRef& out) {
  const Node& n = g_.node(id);
  const TensorType& it = g_.type(n.inputs[0]);
  const TensorType& ot = n.outputs[0];
  const Strides is = PhysicalStrides(it), os = PhysicalStrides(ot);
  KernelLaunch l;
  l.row = true;
  l.out = out;
  LEMMA_ASSIGN_OR_RETURN(BufferRef in, Read(n.inputs[0]));
  l.in.push_back(in);
  RowParams& p = l.row_params;
  std::vector<int> outer, inner;  // input dims of each space
  RowKind kind = RowKind::kSoftmax;
  std::vector<int64_t> out_dim_of(static_cast<size_t>(it.rank()), -1);  // reductions: the output dim of an input dim
  if (n.op == OpKind::kSoftmax || n.op == OpKind::kLayerNorm) {
    absl::StatusOr<int> axis = NormalizeAxis(n.attrs.GetInt("axis"), it.rank());
    if (!axis.ok()) return absl::InvalidArgumentError(Error(id, axis.status().message()));
    for (int d = 0; d < it.rank(); ++d) {
      const bool in_row = n.op == OpKind::kSoftmax ? d == *axis : d >= *axis;
      (in_row ? inner : outer).push_back(d);
      out_dim_of[static_cast<size_t>(d)] = d;
    }
    kind = n.op == OpKind::kSoftmax ? RowKind::kSoftmax : RowKind::kLayerNorm;
    p.epsilon = n.op == OpKind::kLayerNorm ? n.attrs.GetFloat("epsilon") : 0.0;
  } else {
    absl::StatusOr<std::vector<int>> axes = ResolveReduceAxes(it.rank(), n.attrs);
    if (!axes.ok()) return absl::InvalidArgumentError(Error(id, axes.status().message()));
    const bool keep = n.attrs.GetInt("keepdims") != 0;
    int next = 0;
    for (int d = 0; d < it.rank(); ++d) {
      const bool reduced = std::find(axes->begin(), axes->end(), d) != axes->end();
      (reduced ? inner : outer).push_back(d);
      if (keep) {
        out_dim_of[static_cast<size_t>(d)] = d;
      } else if (!reduced) {
        out_dim_of[static_cast<size_t>(d)] = next++;
      }
    }
    kind = n.op == OpKind::kReduceSum ? RowKind::kReduceSum
           : n.op == OpKind::kReduceMean ? RowKind::kReduceMean
                                         : RowKind::kReduceMax;
  }
  if (outer.size() > kMaxRank || inner.size() > kMaxRank) {
    return absl::UnimplementedError(Error(id, StrCat("rank above ", kMaxRank)));
  }
  const bool reduction = kind != RowKind::kSoftmax && kind != RowKind::kLayerNorm;
  p.rows = 1;
  p.row_size = 1;
  p.outer_rank = static_cast<int64_t>(outer.size());
  p.inner_rank = static_cast<int64_t>(inner.size());
  for (size_t i = 0; i < outer.size(); ++i) {
    const size_t d = static_cast<size_t>(outer[i]);
    p.outer_dims[i] = it.dims[d];
    p.in_outer[i] = is[d];
    p.out_outer[i] = os[static_cast<size_t>(out_dim_of[d])];
    p.rows *= it.dims[d];
  }
  for (size_t i = 0; i < inner.size(); ++i) {
    const size_t d = static_cast<size_t>(inner[i]);
    p.inner_dims[i] = it.dims[d];
    p.in_inner[i] = is[d];
    p.out_inner[i] = reduction ? 0 : os[d];
    p.row_size *= it.dims[d];
  }
  if (kind == RowKind::kLayerNorm) {
    for (int k = 0; k < 2; ++k) {
      const ValueId v = n.inputs[static_cast<size_t>(k + 1)];
      LEMMA_ASSIGN_OR_RETURN(BufferRef aux, Read(v));
      l.in.push_back(aux);
      const Strides as = PhysicalStrides(g_.type(v));
      const size_t first = static_cast<size_t>(inner.front());
      for (size_t i = 0; i < inner.size() && i < as.size(); ++i) p.aux_inner[k][i] = as[static_cast<size_t>(inner[i]) - first];
    }
  }
  l.source = Source(RowKernelSource(kind));
  l.what = StrCat("row: ", OpName(n.op));
  step.launches.push_back(std::move(l));
  return absl::OkStatus();
}

absl::Status Planner::PlanNode(NodeId id) {
  const Node& n = g_.node(id);
  for (const TensorType& t : n.outputs) {
    if (t.dtype != DType::kF32) return absl::UnimplementedError(Error(id, "the GPU runtime runs f32 values only"));
  }
  Step step;
  step.node = id;
  step.fused = Chain(id);
  for (NodeId f : step.fused) absorbed_[static_cast<size_t>(f)] = true;
  const NodeId last = step.fused.empty() ? id : step.fused.back();
  const ValueId result{last, 0};
  const std::optional<EwOp> ew = ElementwiseOp(n.op);
  std::optional<EwOp> activation;
  if (n.op == OpKind::kMatMul) activation = ActivationOp(n.attrs);

  // The program of the chain; its input 0 is the root's output unless the
  // root is elementwise itself.
  EwProgram program;
  std::vector<Operand> operands;
  const TensorType& rt = g_.type(result);
  auto operand = [&](ValueId v) -> absl::StatusOr<int> {
    LEMMA_ASSIGN_OR_RETURN(BufferRef b, Read(v));
    const int k = static_cast<int>(operands.size());
    operands.push_back({b, 0, BroadcastStrides(g_.type(v), rt.dims)});
    return program.Load(k);
  };
  std::optional<int> reg;  // the register holding the chain's current value
  BufferRef root_out;
  if (ew) {
    step.kind = StepKind::kGenerated;
    std::vector<int> regs;
    for (ValueId v : n.inputs) {
      LEMMA_ASSIGN_OR_RETURN(int r, operand(v));
      regs.push_back(r);
    }
    reg = IsUnary(*ew) ? program.Unary(*ew, regs[0]) : program.Binary(*ew, regs[0], regs[1]);
  } else {
    switch (n.op) {
      case OpKind::kConv2d: step.kind = StepKind::kConv; break;
      case OpKind::kAvgPool2d:
      case OpKind::kMaxPool2d: step.kind = StepKind::kPool; break;
      case OpKind::kBatchNorm: step.kind = StepKind::kBatchNorm; break;
      case OpKind::kMatMul: step.kind = StepKind::kMatMul; break;
      default: step.kind = StepKind::kGenerated; break;
    }
    const bool chained = !step.fused.empty() || activation.has_value();
    if (step.kind != StepKind::kGenerated) {
      LEMMA_RETURN_IF_ERROR(CheckLibraryOp(id));
      for (ValueId v : n.inputs) {
        LEMMA_ASSIGN_OR_RETURN(BufferRef b, Read(v));
        step.inputs.push_back(b);
      }
      LEMMA_RETURN_IF_ERROR(PadExplicitly(step));
    }
    root_out = chained ? Scratch(n.outputs[0]) : Write(ValueId{id, 0});
    step.output = root_out;
    if (step.kind == StepKind::kGenerated) {
      if (n.op == OpKind::kSoftmax || n.op == OpKind::kLayerNorm || n.op == OpKind::kReduceSum ||
          n.op == OpKind::kReduceMean || n.op == OpKind::kReduceMax) {
        LEMMA_RETURN_IF_ERROR(RowOp(step, id, root_out));
      } else {
        LEMMA_RETURN_IF_ERROR(Copy(step, id, root_out));
      }
    }
    if (chained) {
      operands.push_back({root_out, 0, BroadcastStrides(n.outputs[0], rt.dims)});
      reg = program.Load(0);
      if (activation) reg = program.Unary(*activation, *reg);
    }
  }
  // The chain: each node reads the current value and other operands.
  ValueId cur{id, 0};
  for (NodeId f : step.fused) {
    const Node& fn = g_.node(f);
    const EwOp op = *ElementwiseOp(fn.op);
    std::vector<int> regs;
    for (ValueId v : fn.inputs) {
      if (v == cur) {
        regs.push_back(*reg);
      } else {
        LEMMA_ASSIGN_OR_RETURN(int r, operand(v));
        regs.push_back(r);
      }
    }
    reg = IsUnary(op) ? program.Unary(op, regs[0]) : program.Binary(op, regs[0], regs[1]);
    cur = ValueId{f, 0};
  }
  if (reg) {
    const BufferRef out = Write(result);
    absl::StatusOr<KernelLaunch> l = EwLaunch(program, rt.dims, rt.layout, {out, 0, PhysicalStrides(rt)}, operands);
    if (!l.ok()) return absl::UnimplementedError(Error(id, l.status().message()));
    step.launches.push_back(*std::move(l));
  }
  step.label = std::string(OpName(n.op));
  for (NodeId f : step.fused) step.label += StrCat("+", OpName(g_.node(f).op));
  if (!n.names.empty() && !n.names[0].empty()) step.label += StrCat(" (", n.names[0], ")");
  plan_.steps.push_back(std::move(step));
  return absl::OkStatus();
}

absl::StatusOr<Plan> Planner::Build() {
  const size_t count = static_cast<size_t>(g_.num_nodes());
  constant_.assign(count, false);
  absorbed_.assign(count, false);
  users_ = g_.Users();
  const std::vector<NodeId> order = g_.TopologicalOrder();
  live_ = g_.LiveNodes();
  for (NodeId id : order) {
    const Node& n = g_.node(id);
    const OpInfo& info = GetOpInfo(n.op);
    bool c = n.op == OpKind::kWeight || info.Has(kTraitConstant);
    if (!info.Has(kTraitSource) && !n.inputs.empty()) {
      c = std::all_of(n.inputs.begin(), n.inputs.end(),
                      [&](ValueId v) { return constant_[static_cast<size_t>(v.node)]; });
    }
    constant_[static_cast<size_t>(id)] = c;
  }
  // Constants: weights and folded values that a step or an output reads.
  auto constant_value = [&](ValueId v) {
    if (plan_.value_buffers.contains(v)) return;
    plan_.value_buffers[v] = {BufferRef::Where::kConstant, static_cast<int>(plan_.constants.size())};
    plan_.constants.push_back(v);
  };
  for (NodeId id : order) {
    if (!live_[static_cast<size_t>(id)]) continue;
    const Node& n = g_.node(id);
    if (constant_[static_cast<size_t>(id)]) {
      if (n.op != OpKind::kWeight) plan_.folded.push_back(id);
      continue;
    }
    for (ValueId v : n.inputs) {
      if (constant_[static_cast<size_t>(v.node)]) constant_value(v);
    }
  }
  for (const GraphOutput& o : g_.outputs()) {
    if (constant_[static_cast<size_t>(o.value.node)]) constant_value(o.value);
  }
  for (NodeId id : g_.InputNodes()) {
    step_ = 0;
    if (g_.node(id).outputs[0].dtype != DType::kF32) {
      return absl::UnimplementedError(Error(id, "the GPU runtime runs f32 values only"));
    }
    plan_.inputs.emplace_back(id, Write(ValueId{id, 0}));
  }
  for (NodeId id : order) {
    const size_t i = static_cast<size_t>(id);
    if (!live_[i] || constant_[i] || absorbed_[i] || GetOpInfo(g_.node(id).op).Has(kTraitSource)) continue;
    step_ = static_cast<int>(plan_.steps.size());
    LEMMA_RETURN_IF_ERROR(PlanNode(id));
  }
  const int last = std::max(0, static_cast<int>(plan_.steps.size()) - 1);
  for (const GraphOutput& o : g_.outputs()) {
    auto it = plan_.value_buffers.find(o.value);
    if (it != plan_.value_buffers.end() && it->second.where == BufferRef::Where::kArena) {
      plan_.buffers[static_cast<size_t>(it->second.index)].last = last;
    }
  }
  plan_.placement = cpu::PlanMemory(plan_.buffers, options_.alignment);
  return std::move(plan_);
}

}  // namespace

std::string_view StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kGenerated: return "generated";
    case StepKind::kConv: return "cudnn-conv";
    case StepKind::kPool: return "cudnn-pool";
    case StepKind::kBatchNorm: return "cudnn-bn";
    case StepKind::kMatMul: return "cublaslt";
  }
  return "?";
}

std::string Plan::Text(const Graph& graph) const {
  std::string s;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    s += StrCat(i, ": ", st.label, " [", StepKindName(st.kind), "]");
    if (st.padded_input) s += StrCat(" {padded to ", st.padded_input->ToString(), "}");
    for (const KernelLaunch& l : st.launches) s += StrCat(" {", l.what, "}");
    s += "\n";
  }
  s += StrCat("memory: arena ", placement.arena_bytes, " bytes (", placement.naive_bytes, " without reuse), ",
              buffers.size(), " buffers, ", constants.size(), " constants, ", folded.size(), " folded nodes, ",
              sources.size(), " kernel sources\n");
  return s;
}

absl::StatusOr<Plan> BuildPlan(const Graph& graph, const PlanOptions& options) {
  return Planner(graph, options).Build();
}

}  // namespace lemma::cuda
