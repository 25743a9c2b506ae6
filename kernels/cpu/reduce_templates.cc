// Templates for reductions (reduce_sum, reduce_mean, reduce_max), softmax,
// layernorm, and the copy a reshape of non-contiguous data needs.

#include <cmath>
#include <limits>

#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cpu/template_util.h"
#include "kernels/cpu/templates.h"
#include "kernels/tensor.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

int64_t Get(const Config& config, const std::string& name, int64_t fallback) {
  auto it = config.find(name);
  return it == config.end() ? fallback : it->second;
}

// A schedule for a nest whose spatial axes come first (the last one walks
// consecutive outputs) and reduction axes after: the last spatial axis in
// chunks of `unroll` vectors held in registers across the reductions, the
// other spatial loops shared by threads.
Schedule ReductionSchedule(const LoopNest& nest, int v, int64_t unroll) {
  Schedule s = Schedule::Default(nest);
  s.order.clear();
  std::vector<int> spatial, reductions;
  for (int a = 0; a < nest.num_axes(); ++a) {
    (nest.axis(a).reduction ? reductions : spatial).push_back(a);
  }
  if (spatial.empty()) {
    for (int a : reductions) s.order.push_back({a, 0});
    return s;
  }
  const int vec = spatial.back();
  if (nest.axis(vec).extent == 1) v = 1;  // nothing to vectorize
  const bool tiled = nest.axis(vec).extent > v * unroll;
  if (tiled) s.tiles[U(vec)] = {v * unroll};
  for (size_t i = 0; i + 1 < spatial.size(); ++i) s.order.push_back({spatial[i], 0});
  if (tiled) s.order.push_back({vec, 0});
  for (int a : reductions) s.order.push_back({a, 0});
  const LoopRef vloop{vec, tiled ? 1 : 0};
  s.order.push_back(vloop);
  s.unrolled.push_back(vloop);
  if (v > 1) {
    s.vector_axis = vec;
    s.vector_width = v;
  }
  int64_t points = 1;
  for (int a : spatial) points *= nest.axis(a).extent;
  if (points >= kParallelMinElements / 16) {
    s.parallel = static_cast<int>(spatial.size()) - 1 + (tiled ? 1 : 0);
  }
  return s;
}

// The spatial axes of `dims` except those in `reduced` (in storage order of
// `access`), then reduction axes for `reduced`; dim_index[d] for every dim.
std::vector<AffineIndex> AxesForReduction(LoopNest& nest, const ValueAccess& access,
                                          const std::vector<int>& reduced) {
  ValueAccess kept = access;
  for (int d : reduced) kept.dims[U(d)] = 1;
  std::vector<AffineIndex> dim_index = AxesForDims(nest, kept);
  for (int d : reduced) {
    const int axis = nest.AddReduction(StrCat("r", d), access.dims[U(d)]);
    dim_index[U(d)] = AffineIndex({{axis, 1}});
  }
  return dim_index;
}

// ---- reduce_sum, reduce_mean, reduce_max.

class ReduceTemplate : public Template {
 public:
  ReduceTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override { return "reduce"; }
  std::vector<Knob> Space() const override { return {{"unroll", {1, 2, 4}}}; }
  Config DefaultConfig() const override { return {{"unroll", 2}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const ValueAccess xa = context_.Access(n.inputs[0]);
    absl::StatusOr<std::vector<int>> axes =
        ResolveReduceAxes(static_cast<int>(xa.dims.size()), n.attrs);
    if (!axes.ok()) return axes.status();
    int64_t count = 1;
    for (int a : *axes) count *= xa.dims[U(a)];
    if (count == 0) return absl::InvalidArgumentError("reduces over zero elements");
    const bool keepdims = n.attrs.GetInt("keepdims") != 0;
    Lowered lowered;
    LaunchBuilder b(group_.Label(g), context_, lowered);
    LoopNest& nest = b.nest();
    const std::vector<AffineIndex> in_index = AxesForReduction(nest, xa, *axes);
    const bool max = n.op == OpKind::kReduceMax;
    nest.SetReduction(max ? Combiner::kMax : Combiner::kSum,
                      nest.Load(b.Value(n.inputs[0]), IndexAt(xa, in_index)));
    int expr = nest.Acc();
    if (n.op == OpKind::kReduceMean) {
      expr = nest.Binary(ExprOp::kDiv, expr, nest.Const(static_cast<float>(count)));
    }
    // The output's dims: the kept ones (reduced dims of 1 with keepdims).
    std::vector<AffineIndex> out_index;
    for (size_t d = 0; d < xa.dims.size(); ++d) {
      const bool reduced = std::find(axes->begin(), axes->end(), static_cast<int>(d)) != axes->end();
      if (!reduced) {
        out_index.push_back(in_index[d]);
      } else if (keepdims) {
        out_index.push_back(AffineIndex());
      }
    }
    expr = ApplyChain(b, group_, expr, out_index);
    const ValueId out = group_.output(g);
    nest.SetResult(b.Value(out, true), OutIndex(b.Access(out), out_index), expr);
    b.Finish(ReductionSchedule(nest, context_.vector_width(), Get(config, "unroll", 2)));
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
};

// ---- softmax and layernorm: two reductions into temps, then the result.

class NormalizeTemplate : public Template {
 public:
  NormalizeTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override {
    return context_.graph().node(group_.root).op == OpKind::kSoftmax ? "softmax" : "layernorm";
  }
  std::vector<Knob> Space() const override { return {{"unroll", {1, 2, 4}}}; }
  Config DefaultConfig() const override { return {{"unroll", 2}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const bool softmax = n.op == OpKind::kSoftmax;
    const ValueAccess xa = context_.Access(n.inputs[0]);
    const int rank = static_cast<int>(xa.dims.size());
    absl::StatusOr<int> axis = NormalizeAxis(n.attrs.GetInt("axis"), rank);
    if (!axis.ok()) return axis.status();
    // Softmax reduces one dim; layernorm the dims from `axis` on.
    std::vector<int> reduced = {*axis};
    if (!softmax) {
      for (int d = *axis + 1; d < rank; ++d) reduced.push_back(d);
    }
    int64_t count = 1;
    for (int d : reduced) count *= xa.dims[U(d)];
    if (count == 0) return absl::InvalidArgumentError("normalizes over zero elements");
    // The statistics live in temps of the kept dims (row-major, reduced dims 1).
    Dims stat_dims = xa.dims;
    for (int d : reduced) stat_dims[U(d)] = 1;
    ValueAccess stat;
    stat.dims = stat_dims;
    stat.strides = RowMajorStrides(stat_dims);
    stat.elements = NumElements(stat_dims);
    const int v = context_.vector_width();
    const int64_t unroll = Get(config, "unroll", 2);
    Lowered lowered;
    int first = -1, second = -1;  // softmax: max, sum of exps; layernorm: mean, 1/std
    {
      LaunchBuilder b(StrCat(group_.Label(g), "/", softmax ? "max" : "mean"), context_, lowered);
      LoopNest& nest = b.nest();
      const std::vector<AffineIndex> index = AxesForReduction(nest, xa, reduced);
      const int out = b.NewTemp(stat.elements, true, &first);
      const int x = nest.Load(b.Value(n.inputs[0]), IndexAt(xa, index));
      nest.SetReduction(softmax ? Combiner::kMax : Combiner::kSum, x);
      int expr = nest.Acc();
      if (!softmax) expr = nest.Binary(ExprOp::kDiv, expr, nest.Const(static_cast<float>(count)));
      nest.SetResult(out, IndexAt(stat, index), expr);
      b.Finish(ReductionSchedule(nest, v, unroll));
    }
    {
      LaunchBuilder b(StrCat(group_.Label(g), "/", softmax ? "sum" : "var"), context_, lowered);
      LoopNest& nest = b.nest();
      const std::vector<AffineIndex> index = AxesForReduction(nest, xa, reduced);
      const int out = b.NewTemp(stat.elements, true, &second);
      const int x = nest.Load(b.Value(n.inputs[0]), IndexAt(xa, index));
      const int m = nest.Load(b.Temp(first, false), IndexAt(stat, index));
      const int d = nest.Binary(ExprOp::kSub, x, m);
      nest.SetReduction(Combiner::kSum, softmax ? nest.Unary(ExprOp::kExp, d) : nest.Mul(d, d));
      int expr = nest.Acc();
      if (!softmax) {
        const float eps = static_cast<float>(n.attrs.GetFloat("epsilon"));
        expr = nest.Binary(ExprOp::kDiv, expr, nest.Const(static_cast<float>(count)));
        expr = nest.Unary(ExprOp::kRsqrt, nest.Add(expr, nest.Const(eps)));
      }
      nest.SetResult(out, IndexAt(stat, index), expr);
      b.Finish(ReductionSchedule(nest, v, unroll));
    }
    {
      LaunchBuilder b(group_.Label(g), context_, lowered);
      LoopNest& nest = b.nest();
      const ValueId out = group_.output(g);
      const ValueAccess oa = b.Access(out);
      const std::vector<AffineIndex> index = AxesForDims(nest, oa);
      const int x = nest.Load(b.Value(n.inputs[0]), IndexAt(xa, index));
      const int s1 = nest.Load(b.Temp(first, false), IndexAt(stat, index));
      const int s2 = nest.Load(b.Temp(second, false), IndexAt(stat, index));
      int expr = nest.Binary(ExprOp::kSub, x, s1);
      if (softmax) {
        expr = nest.Binary(ExprOp::kDiv, nest.Unary(ExprOp::kExp, expr), s2);
      } else {
        // scale and bias have the normalized dims.
        std::vector<AffineIndex> param_index(index.begin() + *axis, index.end());
        const ValueAccess sa = b.Access(n.inputs[1]), ba = b.Access(n.inputs[2]);
        const int scale = nest.Load(b.Value(n.inputs[1]), IndexAt(sa, param_index));
        const int bias = nest.Load(b.Value(n.inputs[2]), IndexAt(ba, param_index));
        expr = nest.Add(nest.Mul(nest.Mul(expr, s2), scale), bias);
      }
      expr = ApplyChain(b, group_, expr, index);
      nest.SetResult(b.Value(out, true), OutIndex(oa, index), expr);
      b.Finish(ElementwiseSchedule(nest, v, unroll, kParallelMinElements));
    }
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
};

// ---- reshape of data that is not contiguous: a copy in row-major order.

class ReshapeTemplate : public Template {
 public:
  ReshapeTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override { return "reshape"; }
  std::vector<Knob> Space() const override { return {{"unroll", {1, 2, 4, 8}}}; }
  Config DefaultConfig() const override { return {{"unroll", 2}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const ValueAccess xa = context_.Access(n.inputs[0]);
    Lowered lowered;
    LaunchBuilder b(group_.Label(g), context_, lowered);
    LoopNest& nest = b.nest();
    // Walk the input in logical row-major order: element i goes to the
    // output's element i, which its row-major storage holds at offset i.
    std::vector<AffineIndex> index;
    for (size_t d = 0; d < xa.dims.size(); ++d) {
      index.push_back(AffineIndex({{nest.AddAxis(StrCat("d", d), xa.dims[d]), 1}}));
    }
    const std::vector<int64_t> flat = RowMajorStrides(xa.dims);
    AffineIndex out_index;
    for (size_t d = 0; d < xa.dims.size(); ++d) AddScaled(out_index, index[d], flat[d]);
    const int load = nest.Load(b.Value(n.inputs[0]), IndexAt(xa, index));
    nest.SetResult(b.Value(group_.output(g), true), out_index, load);
    nest = CoalesceAxes(nest);
    b.Finish(ElementwiseSchedule(nest, context_.vector_width(), Get(config, "unroll", 2),
                                 kParallelMinElements));
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
};

bool IsRowMajor(const ValueAccess& a) {
  const std::vector<int64_t> rm = RowMajorStrides(a.dims);
  for (size_t d = 0; d < a.dims.size(); ++d) {
    if (a.dims[d] != 1 && a.strides[d] != rm[d]) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<Template> MakeReduceTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<ReduceTemplate>(group, c);
}

std::unique_ptr<Template> MakeNormalizeTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<NormalizeTemplate>(group, c);
}

std::unique_ptr<Template> MakeReshapeTemplate(const Group& group, const LoweringContext& c) {
  // Chains are not fused into a reshape (its output dims are not its input's),
  // and the copy writes row-major storage only.
  if (!group.chain.empty() || !IsRowMajor(c.Access(group.output(c.graph())))) return nullptr;
  return std::make_unique<ReshapeTemplate>(group, c);
}

}  // namespace lemma::cpu
