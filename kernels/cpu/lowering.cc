#include "kernels/cpu/lowering.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <numeric>

#include "ir/strings.h"
#include "kernels/cpu/template_util.h"
#include "kernels/cpu/templates.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

bool IsUnaryElementwise(OpKind op) {
  return op == OpKind::kRelu || op == OpKind::kSigmoid || op == OpKind::kTanh ||
         op == OpKind::kGelu;
}

}  // namespace

ValueId Group::output(const Graph& g) const {
  return ValueId{chain.empty() ? root : chain.back(), 0};
}

std::string Group::Label(const Graph& g) const {
  std::string out(OpName(g.node(root).op));
  for (NodeId n : chain) StrAppend(&out, "+", OpName(g.node(n).op));
  return out;
}

std::string ConfigToString(const Config& config) {
  std::string out;
  for (const auto& [name, value] : config) {
    StrAppend(&out, out.empty() ? "" : ",", name, "=", value);
  }
  return out;
}

bool IsFusibleConsumer(const Graph& g, NodeId node, ValueId input) {
  const Node& n = g.node(node);
  if (n.outputs.size() != 1 || n.outputs[0].dims != g.type(input).dims) return false;
  switch (n.op) {
    case OpKind::kRelu:
    case OpKind::kSigmoid:
    case OpKind::kTanh:
    case OpKind::kGelu:
    case OpKind::kEwAdd:
    case OpKind::kEwMul:
    case OpKind::kBroadcastAdd:
    case OpKind::kBroadcastMul:
    case OpKind::kBroadcastSub:
    case OpKind::kBroadcastDiv:
      return true;
    case OpKind::kScalarMul:
    case OpKind::kBatchNorm:
      // The running value must be the tensor operand, not a parameter.
      return n.inputs[0] == input &&
             std::count(n.inputs.begin() + 1, n.inputs.end(), input) == 0;
    default:
      return false;
  }
}

// ---- LaunchBuilder and index helpers.

int LaunchBuilder::Value(ValueId value, bool output) {
  const std::pair<int, int> key{value.node, value.index};
  if (auto it = values_.find(key); it != values_.end()) return it->second;
  const ValueAccess& a = Access(value);
  const int buffer = nest_.AddBuffer(graph().ValueLabel(value), a.elements, output);
  args_.push_back({ArgBinding::Kind::kValue, value, 0});
  values_[key] = buffer;
  return buffer;
}

int LaunchBuilder::NewTemp(int64_t elements, bool output, int* temp_index) {
  lowered_.temps.push_back(elements);
  const int index = static_cast<int>(lowered_.temps.size()) - 1;
  if (temp_index != nullptr) *temp_index = index;
  return Temp(index, output);
}

int LaunchBuilder::Temp(int temp_index, bool output) {
  const int buffer = nest_.AddBuffer(StrCat("temp", temp_index),
                                     lowered_.temps[U(temp_index)], output);
  args_.push_back({ArgBinding::Kind::kTemp, ValueId{}, temp_index});
  return buffer;
}

int LaunchBuilder::Constant(int constant_index) {
  const int64_t elements = static_cast<int64_t>(lowered_.constants[U(constant_index)].size());
  const int buffer = nest_.AddBuffer(StrCat("const", constant_index), elements, false);
  args_.push_back({ArgBinding::Kind::kConstant, ValueId{}, constant_index});
  return buffer;
}

int LaunchBuilder::NewConstant(std::vector<float> data) {
  lowered_.constants.push_back(std::move(data));
  return Constant(static_cast<int>(lowered_.constants.size()) - 1);
}

const ValueAccess& LaunchBuilder::Access(ValueId value) {
  const std::pair<int, int> key{value.node, value.index};
  auto it = access_.find(key);
  if (it == access_.end()) it = access_.emplace(key, context_.Access(value)).first;
  return it->second;
}

void LaunchBuilder::Finish(Schedule schedule) {
  lowered_.launches.push_back({std::move(nest_), std::move(schedule), std::move(args_)});
}

void AddScaled(AffineIndex& to, const AffineIndex& from, int64_t scale) {
  for (const IndexTerm& t : from.terms) to.Add(t.axis, t.coeff * scale, t.part, t.block);
  to.offset += from.offset * scale;
}

AffineIndex IndexAt(const ValueAccess& access, const std::vector<AffineIndex>& dim_index) {
  AffineIndex index;
  const size_t rank = access.dims.size(), out_rank = dim_index.size();
  for (size_t d = 0; d < rank; ++d) {
    if (access.dims[d] == 1) continue;  // broadcast (or a single element)
    AddScaled(index, dim_index[out_rank - rank + d], access.strides[d]);
  }
  return index;
}

AffineIndex OutIndex(const ValueAccess& access, const std::vector<AffineIndex>& dim_index) {
  AffineIndex index;
  for (size_t d = 0; d < access.dims.size(); ++d) AddScaled(index, dim_index[d], access.strides[d]);
  return index;
}

int Operand(LaunchBuilder& b, ValueId value, ValueId running, int running_expr,
            const std::vector<AffineIndex>& dim_index) {
  if (running.valid() && value == running) return running_expr;
  return b.nest().Load(b.Value(value), IndexAt(b.Access(value), dim_index));
}

int ApplyActivation(LoopNest& nest, Activation activation, int expr) {
  switch (activation) {
    case Activation::kNone:
      return expr;
    case Activation::kRelu:
      return nest.Unary(ExprOp::kRelu, expr);
    case Activation::kSigmoid:
      return nest.Unary(ExprOp::kSigmoid, expr);
    case Activation::kTanh:
      return nest.Unary(ExprOp::kTanh, expr);
  }
  return expr;
}

int ApplyElementwise(LaunchBuilder& b, NodeId id, ValueId running, int running_expr,
                     const std::vector<AffineIndex>& dim_index) {
  const Node& n = b.graph().node(id);
  LoopNest& nest = b.nest();
  auto operand = [&](size_t i) { return Operand(b, n.inputs[i], running, running_expr, dim_index); };
  if (IsUnaryElementwise(n.op)) {
    const ExprOp op = n.op == OpKind::kRelu      ? ExprOp::kRelu
                      : n.op == OpKind::kSigmoid ? ExprOp::kSigmoid
                      : n.op == OpKind::kTanh    ? ExprOp::kTanh
                                                 : ExprOp::kGelu;
    return nest.Unary(op, operand(0));
  }
  switch (n.op) {
    case OpKind::kEwAdd:
    case OpKind::kBroadcastAdd:
      return nest.Add(operand(0), operand(1));
    case OpKind::kEwMul:
    case OpKind::kBroadcastMul:
    case OpKind::kScalarMul:
      return nest.Mul(operand(0), operand(1));
    case OpKind::kBroadcastSub:
      return nest.Binary(ExprOp::kSub, operand(0), operand(1));
    case OpKind::kBroadcastDiv:
      return nest.Binary(ExprOp::kDiv, operand(0), operand(1));
    case OpKind::kBatchNorm: {
      // Per channel (dim 1): x * s + t with s = scale / sqrt(var + eps) and
      // t = bias - mean * s, folded at plan time when the parameters are constant.
      const int x = operand(0);
      const double eps = n.attrs.GetFloat("epsilon");
      std::vector<AffineIndex> channel = {dim_index[1]};
      bool constant = true;
      for (size_t i = 1; i < 5; ++i) constant = constant && b.Access(n.inputs[i]).constant != nullptr;
      if (constant) {
        const int64_t c = b.Access(n.inputs[1]).dims[0];
        std::vector<float> s(U(c)), t(U(c));
        auto at = [&](size_t i, int64_t k) {
          const ValueAccess& a = b.Access(n.inputs[i]);
          return a.constant[k * a.strides[0]];
        };
        for (int64_t k = 0; k < c; ++k) {
          const float rstd = 1.0f / std::sqrt(at(4, k) + static_cast<float>(eps));
          s[U(k)] = at(1, k) * rstd;
          t[U(k)] = at(2, k) - at(3, k) * s[U(k)];
        }
        const int sb = b.NewConstant(std::move(s)), tb = b.NewConstant(std::move(t));
        AffineIndex ci;
        AddScaled(ci, dim_index[1], 1);
        return nest.Add(nest.Mul(x, nest.Load(sb, ci)), nest.Load(tb, ci));
      }
      auto param = [&](size_t i) {
        const ValueAccess& a = b.Access(n.inputs[i]);
        AffineIndex pi;
        AddScaled(pi, dim_index[1], a.strides[0]);
        return nest.Load(b.Value(n.inputs[i]), pi);
      };
      const int rstd =
          nest.Unary(ExprOp::kRsqrt, nest.Add(param(4), nest.Const(static_cast<float>(eps))));
      const int normalized = nest.Mul(nest.Binary(ExprOp::kSub, x, param(3)), rstd);
      return nest.Add(nest.Mul(normalized, param(1)), param(2));
    }
    default:
      return -1;
  }
}

int ApplyChain(LaunchBuilder& b, const Group& group, int expr,
               const std::vector<AffineIndex>& dim_index) {
  ValueId running{group.root, 0};
  for (NodeId id : group.chain) {
    expr = ApplyElementwise(b, id, running, expr, dim_index);
    running = ValueId{id, 0};
  }
  return expr;
}

std::vector<AffineIndex> AxesForDims(LoopNest& nest, const ValueAccess& access) {
  const size_t rank = access.dims.size();
  std::vector<size_t> order(rank);
  std::iota(order.begin(), order.end(), 0);
  // Dims of one element outermost (they do not move), then by decreasing stride.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const bool ua = access.dims[a] == 1, ub = access.dims[b] == 1;
    if (ua != ub) return ua;
    return std::abs(access.strides[a]) > std::abs(access.strides[b]);
  });
  std::vector<AffineIndex> dim_index(rank);
  for (size_t d : order) {
    const int axis = nest.AddAxis(StrCat("d", d), access.dims[d]);
    dim_index[d] = AffineIndex({{axis, 1}});
  }
  return dim_index;
}

LoopNest CoalesceAxes(const LoopNest& nest) {
  if (nest.combiner() != Combiner::kNone) return nest;
  std::vector<const AffineIndex*> indices = {&nest.out_index()};
  for (const ExprNode& n : nest.nodes()) {
    if (n.op != ExprOp::kLoad) continue;
    indices.push_back(&n.index);
    for (const Guard& g : n.guards) indices.push_back(&g.index);
  }
  auto coeff = [](const AffineIndex& index, int axis, bool* whole) {
    int64_t c = 0;
    for (const IndexTerm& t : index.terms) {
      if (t.axis != axis) continue;
      if (t.part != AxisPart::kWhole) *whole = false;
      c += t.coeff;
    }
    return c;
  };
  // merged_into[a]: the axis a is folded into (its inner neighbour), or -1.
  const int axes = nest.num_axes();
  std::vector<int64_t> extent(U(axes));
  for (int a = 0; a < axes; ++a) extent[U(a)] = nest.axis(a).extent;
  std::vector<int> merged_into(U(axes), -1);
  for (int a = axes - 2; a >= 0; --a) {
    const int inner = a + 1;
    bool ok = true;
    for (const AffineIndex* index : indices) {
      bool whole = true;
      const int64_t ca = coeff(*index, a, &whole), ci = coeff(*index, inner, &whole);
      if (!whole || ca != ci * extent[U(inner)]) ok = false;
    }
    if (!ok) continue;
    // Fold a into inner: inner walks both.
    merged_into[U(a)] = inner;
  }
  // Build the new nest: each maximal run of merged axes becomes its innermost axis.
  LoopNest out(nest.name());
  std::vector<int> new_axis(U(axes), -1);
  for (int a = 0; a < axes; ++a) {
    if (merged_into[U(a)] >= 0) continue;
    int64_t e = extent[U(a)];
    std::string name = nest.axis(a).name;
    for (int b = a - 1; b >= 0 && merged_into[U(b)] >= 0; --b) {
      e *= extent[U(b)];
      name = StrCat(nest.axis(b).name, ".", name);
    }
    new_axis[U(a)] = out.AddAxis(name, e);
  }
  auto remap = [&](const AffineIndex& index) {
    AffineIndex r;
    r.offset = index.offset;
    for (const IndexTerm& t : index.terms) {
      if (merged_into[U(t.axis)] >= 0) continue;  // its coefficient is implied
      r.Add(new_axis[U(t.axis)], t.coeff, t.part, t.block);
    }
    return r;
  };
  for (const BufferDecl& b : nest.buffers()) out.AddBuffer(b.name, b.elements, b.output);
  for (const ExprNode& n : nest.nodes()) {
    switch (n.op) {
      case ExprOp::kLoad: {
        std::vector<Guard> guards;
        for (const Guard& g : n.guards) guards.push_back({remap(g.index), g.limit});
        out.Load(n.buffer, remap(n.index), std::move(guards), n.value);
        break;
      }
      case ExprOp::kConst:
        out.Const(n.value);
        break;
      case ExprOp::kAcc:
        out.Acc();
        break;
      default:
        if (IsBinary(n.op)) {
          out.Binary(n.op, n.a, n.b);
        } else {
          out.Unary(n.op, n.a);
        }
    }
  }
  out.SetResult(nest.out_buffer(), remap(nest.out_index()), nest.result());
  return out;
}

int TransposeAxis(const LoopNest& nest, int vector_width) {
  const int last = nest.num_axes() - 1;
  if (vector_width < 4 || last < 1 || nest.axis(last).extent < 4) return -1;
  for (const ExprNode& n : nest.nodes()) {
    if (n.op != ExprOp::kLoad || !n.guards.empty()) continue;
    int64_t lane_stride = 0;
    bool whole = true;
    std::map<int, int> terms;  // axis -> terms on it
    for (const IndexTerm& term : n.index.terms) {
      ++terms[term.axis];
      if (term.axis != last) continue;
      if (term.part != AxisPart::kWhole) whole = false;
      lane_stride += term.coeff;
    }
    if (!whole || lane_stride < vector_width) continue;
    for (const IndexTerm& term : n.index.terms) {
      if (term.axis != last && term.part == AxisPart::kWhole && term.coeff == 1 &&
          terms[term.axis] == 1 && nest.axis(term.axis).extent >= vector_width &&
          !nest.axis(term.axis).reduction) {
        return term.axis;
      }
    }
  }
  return -1;
}

PaddedCopy PaddedChannelsLastCopy(Lowered& lowered, const LoweringContext& context,
                           const std::string& label, ValueId x, const ValueAccess& xa,
                           int64_t rows, int64_t cols, int64_t pad_top, int64_t pad_left,
                           float fill) {
  const int64_t channels = xa.dims[1];
  ValueAccess padded;
  padded.dims = {xa.dims[0], channels, rows, cols};
  padded.strides = {rows * cols * channels, 1, cols * channels, channels};
  padded.elements = xa.dims[0] * channels * rows * cols;
  ValueAccess inside = padded;
  inside.dims[2] = std::max<int64_t>(0, std::min(xa.dims[2], rows - pad_top));
  inside.dims[3] = std::max<int64_t>(0, std::min(xa.dims[3], cols - pad_left));
  // The fill: where the padding is most of the copy, all of it (one launch);
  // else the border only, in up to four boxes (rows above and below, columns
  // left and right), so that the interior is written once. A 7x7/2
  // depthwise conv on 56x56 pads a ring of 18% of its copy.
  std::vector<std::array<int64_t, 4>> boxes;  // first row, rows, first column, columns
  const int64_t interior = inside.dims[2] * inside.dims[3];
  if (interior * 2 < rows * cols) {
    boxes.push_back({0, rows, 0, cols});
  } else {
    const int64_t below = pad_top + inside.dims[2];
    const int64_t right = pad_left + inside.dims[3];
    boxes.push_back({0, pad_top, 0, cols});
    boxes.push_back({below, rows - below, 0, cols});
    boxes.push_back({pad_top, inside.dims[2], 0, pad_left});
    boxes.push_back({pad_top, inside.dims[2], right, cols - right});
  }
  int temp = -1;
  for (const auto& [row, nrows, col, ncols] : boxes) {
    if (nrows <= 0 || ncols <= 0) continue;
    LaunchBuilder b(StrCat(label, "/fill"), context, lowered);
    const int out = temp < 0 ? b.NewTemp(padded.elements, true, &temp) : b.Temp(temp, true);
    ValueAccess box = padded;
    box.dims[2] = nrows;
    box.dims[3] = ncols;
    const std::vector<AffineIndex> dims = AxesForDims(b.nest(), box);
    AffineIndex at = OutIndex(box, dims);
    at.offset += row * padded.strides[2] + col * padded.strides[3];
    b.nest().SetResult(out, at, b.nest().Const(fill));
    b.nest() = CoalesceAxes(b.nest());
    b.Finish(ElementwiseSchedule(b.nest(), context.vector_width(), 2, kParallelMinElements));
  }
  if (temp < 0) {  // no padding at all
    lowered.temps.push_back(padded.elements);
    temp = static_cast<int>(lowered.temps.size()) - 1;
  }
  if (inside.dims[2] > 0 && inside.dims[3] > 0) {
    LaunchBuilder b(StrCat(label, "/pad"), context, lowered);
    const std::vector<AffineIndex> dims = AxesForDims(b.nest(), inside);
    AffineIndex index;
    for (size_t d = 0; d < 4; ++d) AddScaled(index, dims[d], xa.strides[d]);
    AffineIndex at = OutIndex(padded, dims);
    at.offset += pad_top * padded.strides[2] + pad_left * padded.strides[3];
    b.nest().SetResult(b.Temp(temp, true), at, b.nest().Load(b.Value(x), index));
    b.Finish(ElementwiseSchedule(b.nest(), context.vector_width(), 2, kParallelMinElements));
  }
  return {temp, padded.strides};
}

Schedule WindowSchedule(const LoopNest& nest, int vec, int ky, int kx, int vector_width,
                        int64_t unroll, bool unroll_window, int parallel) {
  Schedule s = Schedule::Default(nest);
  s.order.clear();
  s.vector_axis = vec;
  s.vector_width = vector_width;
  const bool tiled = nest.axis(vec).extent > vector_width * unroll;
  if (tiled) s.tiles[static_cast<size_t>(vec)] = {vector_width * unroll};
  for (int a = 0; a < vec; ++a) s.order.push_back({a, 0});
  if (tiled) s.order.push_back({vec, 0});
  s.order.push_back({ky, 0});
  s.order.push_back({kx, 0});
  const LoopRef vloop{vec, tiled ? 1 : 0};
  s.order.push_back(vloop);
  s.unrolled.push_back(vloop);
  if (unroll_window) {
    s.unrolled.push_back({ky, 0});
    s.unrolled.push_back({kx, 0});
  }
  if (parallel < 0) parallel = vec + (tiled ? 1 : 0);
  s.parallel = parallel;
  return s;
}

Schedule ElementwiseSchedule(const LoopNest& nest, int vector_width, int64_t unroll,
                             int64_t parallel_min) {
  Schedule s = Schedule::Default(nest);
  const int axes = nest.num_axes();
  if (axes == 0) return s;
  const int last = axes - 1;
  int64_t points = 1;
  for (const Axis& a : nest.axes()) points *= a.extent;
  if (vector_width > 1) {
    s.vector_axis = last;
    s.vector_width = vector_width;
    const int64_t chunk = vector_width * unroll;
    if (nest.axis(last).extent > chunk) {
      s.tiles[U(last)] = {chunk};
      s.order.push_back({last, 1});
      if (unroll > 1) s.unrolled.push_back({last, 1});
    }
  }
  if (points >= parallel_min) {
    // Every loop but the vector loop (or the last loop) is shared.
    s.parallel = static_cast<int>(s.order.size()) - 1;
    if (s.parallel == 0 && s.vector_axis < 0) s.parallel = 1;
  }
  // A load that would gather (its elements along the vector axis far apart)
  // from rows that another axis walks contiguously, as in a transpose or a
  // copy from channels-last to NCHW: that axis is cut in blocks of one vector
  // and the block unrolled just outside the vector loop, so that the code
  // generator reads vector_width contiguous rows and transposes them in
  // registers instead of gathering once per element.
  if (const int t = TransposeAxis(nest, vector_width); t >= 0) {
    s.tiles[U(t)] = {vector_width};
    s.order.insert(s.order.end() - 1, LoopRef{t, 1});
    s.unrolled.push_back({t, 1});
  }
  return s;
}

// ---- Keys and FLOPs.

namespace {

std::string AccessText(const ValueAccess& a) {
  return StrCat(DimsToString(a.dims), "/", DimsToString(a.strides), a.constant ? "c" : "");
}

}  // namespace

std::string WorkloadKey(const Group& group, const LoweringContext& context) {
  const Graph& g = context.graph();
  std::string key = group.Label(g);
  std::vector<NodeId> nodes = {group.root};
  nodes.insert(nodes.end(), group.chain.begin(), group.chain.end());
  std::vector<ValueId> produced;
  for (NodeId id : nodes) {
    const Node& n = g.node(id);
    key += "|";
    for (size_t i = 0; i < n.attrs.values().size(); ++i) {
      if (!n.attrs.IsDefault(i)) StrAppend(&key, n.attrs.FormatValue(i), " ");
    }
    for (ValueId in : n.inputs) {
      if (std::find(produced.begin(), produced.end(), in) != produced.end()) {
        key += "<prev> ";
        continue;
      }
      StrAppend(&key, AccessText(context.Access(in)), " ");
    }
    produced.push_back(ValueId{id, 0});
  }
  StrAppend(&key, "|out ", AccessText(context.Access(group.output(g))));
  return key;
}

double GroupFlops(const Graph& g, const Group& group) {
  const Node& n = g.node(group.root);
  if (n.op == OpKind::kConv2d) {
    const TensorType& w = g.type(n.inputs[1]);
    return 2.0 * static_cast<double>(n.outputs[0].num_elements()) *
           static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
  }
  if (n.op == OpKind::kMatMul) {
    return 2.0 * static_cast<double>(n.outputs[0].num_elements()) *
           static_cast<double>(g.type(n.inputs[0]).dims.back());
  }
  return 0;
}

std::unique_ptr<Template> MakeTemplate(const Group& group, const LoweringContext& context) {
  const Node& n = context.graph().node(group.root);
  for (size_t i = 0; i < n.outputs.size(); ++i) {
    if (n.outputs[i].dtype != DType::kF32) return nullptr;
  }
  switch (n.op) {
    case OpKind::kMatMul:
      return MakeMatMulTemplate(group, context);
    case OpKind::kConv2d:
      return MakeConvTemplate(group, context);
    case OpKind::kAvgPool2d:
    case OpKind::kMaxPool2d:
      return MakePoolTemplate(group, context);
    case OpKind::kConcat:
      return MakeConcatTemplate(group, context);
    case OpKind::kRelu:
    case OpKind::kSigmoid:
    case OpKind::kTanh:
    case OpKind::kGelu:
    case OpKind::kEwAdd:
    case OpKind::kEwMul:
    case OpKind::kScalarMul:
    case OpKind::kBroadcastAdd:
    case OpKind::kBroadcastMul:
    case OpKind::kBroadcastSub:
    case OpKind::kBroadcastDiv:
    case OpKind::kBatchNorm:
    case OpKind::kPad:
    case OpKind::kEnlarge:
    case OpKind::kTranspose:
    case OpKind::kSlice:
      return MakeElementwiseTemplate(group, context);
    case OpKind::kReduceSum:
    case OpKind::kReduceMean:
    case OpKind::kReduceMax:
      return MakeReduceTemplate(group, context);
    case OpKind::kSoftmax:
    case OpKind::kLayerNorm:
      return MakeNormalizeTemplate(group, context);
    case OpKind::kReshape:
      return MakeReshapeTemplate(group, context);
    default:
      return nullptr;
  }
}

bool FusesChain(OpKind op) { return op != OpKind::kReshape; }

}  // namespace lemma::cpu
