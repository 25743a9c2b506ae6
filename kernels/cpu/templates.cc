// Templates for elementwise ops, data movement and pooling.

#include <cmath>
#include <limits>

#include "ir/shape_functions.h"
#include "ir/strings.h"
#include "kernels/cpu/template_util.h"
#include "kernels/cpu/templates.h"

namespace lemma::cpu {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

int64_t ConfigValue(const Config& config, const std::string& name, int64_t fallback) {
  auto it = config.find(name);
  return it == config.end() ? fallback : it->second;
}

// ---- Elementwise ops and data movement.

class ElementwiseTemplate : public Template {
 public:
  ElementwiseTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override { return "elementwise"; }
  std::vector<Knob> Space() const override { return {{"unroll", {1, 2, 4, 8}}}; }
  Config DefaultConfig() const override { return {{"unroll", 2}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    Lowered lowered;
    LaunchBuilder b(group_.Label(g), context_, lowered);
    const ValueId out = group_.output(g);
    const ValueAccess oa = b.Access(out);
    const std::vector<AffineIndex> dim_index = AxesForDims(b.nest(), oa);
    int expr = RootValue(b, dim_index);
    if (expr < 0) {
      return absl::UnimplementedError(
          StrCat("no elementwise lowering of ", g.Describe(group_.root)));
    }
    expr = ApplyChain(b, group_, expr, dim_index);
    b.nest().SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);
    b.nest() = CoalesceAxes(b.nest());
    const Schedule s = ElementwiseSchedule(b.nest(), context_.vector_width(),
                                           ConfigValue(config, "unroll", 2), kParallelMinElements);
    b.Finish(s);
    return lowered;
  }

 private:
  // The root's value at the output point.
  int RootValue(LaunchBuilder& b, const std::vector<AffineIndex>& dim_index) const {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    LoopNest& nest = b.nest();
    switch (n.op) {
      case OpKind::kPad: {
        const ValueAccess& xa = b.Access(n.inputs[0]);
        const std::vector<int64_t>& pads = n.attrs.GetInts("pads");
        const size_t rank = xa.dims.size();
        AffineIndex index;
        std::vector<Guard> guards;
        for (size_t d = 0; d < rank; ++d) {
          AffineIndex at = dim_index[d];
          at.offset -= pads[d];
          AddScaled(index, at, xa.strides[d]);
          if (pads[d] != 0 || pads[d + rank] != 0) guards.push_back({at, xa.dims[d]});
        }
        return nest.Load(b.Value(n.inputs[0]), index, guards,
                         static_cast<float>(n.attrs.GetFloat("value")));
      }
      case OpKind::kEnlarge: {
        const ValueAccess& wa = b.Access(n.inputs[0]);
        const Dims& od = n.outputs[0].dims;
        AffineIndex index;
        std::vector<Guard> guards;
        for (size_t d = 0; d < 4; ++d) {
          AffineIndex at = dim_index[d];
          if (d >= 2) {
            at.offset -= (od[d] - wa.dims[d]) / 2;
            guards.push_back({at, wa.dims[d]});
          }
          AddScaled(index, at, wa.strides[d]);
        }
        return nest.Load(b.Value(n.inputs[0]), index, guards, 0.0f);
      }
      case OpKind::kTranspose: {
        const ValueAccess& xa = b.Access(n.inputs[0]);
        const std::vector<int64_t>& perm = n.attrs.GetInts("perm");
        AffineIndex index;
        for (size_t i = 0; i < perm.size(); ++i) AddScaled(index, dim_index[i], xa.strides[U(perm[i])]);
        return nest.Load(b.Value(n.inputs[0]), index);
      }
      case OpKind::kSlice: {
        const ValueAccess& xa = b.Access(n.inputs[0]);
        absl::StatusOr<std::vector<SliceAxis>> axes = ResolveSlice(xa.dims, n.attrs);
        if (!axes.ok()) return -1;
        std::vector<int64_t> start(xa.dims.size(), 0), step(xa.dims.size(), 1);
        for (const SliceAxis& s : *axes) {
          start[U(s.axis)] = s.start;
          step[U(s.axis)] = s.step;
        }
        AffineIndex index;
        for (size_t d = 0; d < xa.dims.size(); ++d) {
          AffineIndex at;
          AddScaled(at, dim_index[d], step[d]);
          at.offset += start[d];
          AddScaled(index, at, xa.strides[d]);
        }
        return nest.Load(b.Value(n.inputs[0]), index);
      }
      default:
        return ApplyElementwise(b, group_.root, ValueId{}, -1, dim_index);
    }
  }

  Group group_;
  const LoweringContext& context_;
};

// ---- concat.

class ConcatTemplate : public Template {
 public:
  ConcatTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override { return "concat"; }
  std::vector<Knob> Space() const override { return {{"unroll", {1, 2, 4}}}; }
  Config DefaultConfig() const override { return {{"unroll", 2}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const ValueId out = group_.output(g);
    absl::StatusOr<int> axis =
        NormalizeAxis(n.attrs.GetInt("axis"), static_cast<int>(n.outputs[0].dims.size()));
    if (!axis.ok()) return axis.status();
    Lowered lowered;
    int64_t offset = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      LaunchBuilder b(StrCat(group_.Label(g), "#", k), context_, lowered);
      const ValueAccess xa = b.Access(n.inputs[k]);
      const ValueAccess oa = b.Access(out);
      const int64_t size = xa.dims[U(*axis)];
      if (NumElements(xa.dims) == 0) continue;
      // Walk the piece in the output's storage order.
      ValueAccess walk = oa;
      walk.dims = xa.dims;
      std::vector<AffineIndex> dim_index = AxesForDims(b.nest(), walk);
      const int load = b.nest().Load(b.Value(n.inputs[k]), IndexAt(xa, dim_index));
      dim_index[U(*axis)].offset += offset;
      const int expr = ApplyChain(b, group_, load, dim_index);
      b.nest().SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);
      b.nest() = CoalesceAxes(b.nest());
      b.Finish(ElementwiseSchedule(b.nest(), context_.vector_width(),
                                   ConfigValue(config, "unroll", 2), kParallelMinElements));
      offset += size;
    }
    return lowered;
  }

 private:
  Group group_;
  const LoweringContext& context_;
};

// ---- Pools.

// The largest channels-last pool input copied with its padding made explicit
// by default (half the L3 of the machine kind lemma is tuned on): larger
// ones are bound by memory, where the copy costs more than the guards.
constexpr int64_t kPoolCopyMaxBytes = int64_t{16} << 20;

class PoolTemplate : public Template {
 public:
  PoolTemplate(Group group, const LoweringContext& context)
      : group_(std::move(group)), context_(context) {}

  std::string name() const override { return "pool"; }
  std::vector<Knob> Space() const override {
    return {{"unroll", {1, 2, 4}}, {"unroll_window", {0, 1}}, {"copy", {0, 1}}};
  }
  Config DefaultConfig() const override { return {{"unroll", 4}, {"unroll_window", 1}}; }

  absl::StatusOr<Lowered> Lower(const Config& config) const override {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const bool max = n.op == OpKind::kMaxPool2d;
    Lowered lowered;
    LaunchBuilder b(group_.Label(g), context_, lowered);
    LoopNest& nest = b.nest();
    const ValueAccess xa = b.Access(n.inputs[0]);
    const ValueId out = group_.output(g);
    const ValueAccess oa = b.Access(out);
    const std::vector<int64_t>& k = n.attrs.GetInts("kernel");
    absl::StatusOr<Window2d> win = ResolveWindow(xa.dims[2], xa.dims[3], {k[0], k[1]}, n.attrs);
    if (!win.ok()) return win.status();
    const int64_t hw = xa.dims[2] * xa.dims[3];
    const int v = context_.vector_width();
    if (win->out[0] == 1 && win->out[1] == 1 && k[0] == xa.dims[2] && k[1] == xa.dims[3] &&
        win->pads[0] + win->pads[1] + win->pads[2] + win->pads[3] == 0 && xa.strides[3] == 1 &&
        (xa.dims[2] == 1 || xa.strides[2] == xa.dims[3]) && hw >= 2 * v) {
      return LowerGlobal(max, xa, hw);
    }
    const std::vector<AffineIndex> dim_index = AxesForDims(nest, oa);
    const int spatial = nest.num_axes();
    const int ky = nest.AddReduction("ky", k[0]), kx = nest.AddReduction("kx", k[1]);
    AffineIndex iy, ix;
    AddScaled(iy, dim_index[2], win->stride[0]);
    iy.Add(ky, 1);
    iy.offset -= win->pads[0];
    AddScaled(ix, dim_index[3], win->stride[1]);
    ix.Add(kx, 1);
    ix.offset -= win->pads[1];
    std::vector<Guard> guards;
    const int64_t rows = (win->out[0] - 1) * win->stride[0] + k[0];
    const int64_t cols = (win->out[1] - 1) * win->stride[1] + k[1];
    const bool pad_y = win->pads[0] > 0 || rows - win->pads[0] > xa.dims[2];
    const bool pad_x = win->pads[1] > 0 || cols - win->pads[1] > xa.dims[3];
    const float fill = max ? -std::numeric_limits<float>::infinity() : 0.0f;
    // Windows that reach past a channels-last input read a copy with the
    // outside filled (knob "copy"; by default for inputs up to
    // kPoolCopyMaxBytes). 3x3 avgpools, 2 threads: [1,256,28,28] 0.21-0.24
    // ms with guarded loads, 0.043-0.046 with the copy; [32,1280,8,8] (10 MB)
    // 1.68-1.79 against 0.89-1.04; [32,768,17,17] (28 MB) a tie, 3.9-4.8
    // against 4.3-4.8; [32,288,35,35] (45 MB) 5.1-5.8 guarded against
    // 6.8-7.6 copied.
    const int64_t in_bytes = xa.dims[0] * xa.dims[1] * xa.dims[2] * xa.dims[3] * int64_t{sizeof(float)};
    const bool copy = (pad_y || pad_x) && xa.strides[1] == 1 && xa.dims[1] > 1 &&
                      ConfigValue(config, "copy", in_bytes <= kPoolCopyMaxBytes ? 1 : 0) != 0;
    int source = -1;
    std::vector<int64_t> strides = xa.strides;
    if (copy) {
      const PaddedCopy padded = PaddedChannelsLastCopy(lowered, context_, group_.Label(g), n.inputs[0],
                                                       xa, rows, cols, win->pads[0], win->pads[1], fill);
      source = b.Temp(padded.temp, false);
      strides = padded.strides;
      iy.offset += win->pads[0];
      ix.offset += win->pads[1];
    } else {
      source = b.Value(n.inputs[0]);
      if (pad_y) guards.push_back({iy, xa.dims[2]});
      if (pad_x) guards.push_back({ix, xa.dims[3]});
    }
    AffineIndex index;
    AddScaled(index, dim_index[0], strides[0]);
    AddScaled(index, dim_index[1], strides[1]);
    AddScaled(index, iy, strides[2]);
    AddScaled(index, ix, strides[3]);
    nest.SetReduction(max ? Combiner::kMax : Combiner::kSum, nest.Load(source, index, guards, fill));
    int expr = nest.Acc();
    if (!max) {
      const bool include_pad = n.attrs.GetInt("count_include_pad") != 0;
      if (include_pad || !(pad_y || pad_x)) {
        expr = nest.Mul(expr, nest.Const(1.0f / static_cast<float>(k[0] * k[1])));
      } else {
        // 1 / (the number of in-bounds elements) of each output position.
        const int64_t oh = win->out[0], ow = win->out[1];
        std::vector<float> inv(U(oh * ow));
        for (int64_t y = 0; y < oh; ++y) {
          for (int64_t x = 0; x < ow; ++x) {
            int64_t count = 0;
            for (int64_t a = 0; a < k[0]; ++a) {
              for (int64_t c = 0; c < k[1]; ++c) {
                const int64_t yy = y * win->stride[0] - win->pads[0] + a;
                const int64_t xx = x * win->stride[1] - win->pads[1] + c;
                if (yy >= 0 && yy < xa.dims[2] && xx >= 0 && xx < xa.dims[3]) ++count;
              }
            }
            if (count == 0) return absl::InvalidArgumentError("a pooling window covers no input element");
            inv[U(y * ow + x)] = 1.0f / static_cast<float>(count);
          }
        }
        AffineIndex at;
        AddScaled(at, dim_index[2], ow);
        AddScaled(at, dim_index[3], 1);
        expr = nest.Mul(expr, nest.Load(b.NewConstant(std::move(inv)), at));
      }
    }
    expr = ApplyChain(b, group_, expr, dim_index);
    nest.SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);

    // Schedule: the innermost output axis vectorized, its chunks held in
    // registers across the window loops.
    const bool parallel = oa.dims[0] * oa.dims[1] * oa.dims[2] * oa.dims[3] >= kParallelMinElements / 4;
    b.Finish(WindowSchedule(nest, spatial - 1, ky, kx, v, ConfigValue(config, "unroll", 4),
                            ConfigValue(config, "unroll_window", 1) != 0, parallel ? std::min(spatial - 1, 2) : 0));
    return lowered;
  }

 private:
  // A pool over the whole of contiguous h x w planes, in two launches:
  // partial[nc][l] combines the plane's elements l, l + v, l + 2v, ... (whole
  // vectors of consecutive elements, the last one masked), then each output
  // combines its plane's v partials. One launch vectorized along the (single)
  // output column would read the plane one element at a time.
  absl::StatusOr<Lowered> LowerGlobal(bool max, const ValueAccess& xa,
                                      int64_t hw) const {
    const Graph& g = context_.graph();
    const Node& n = g.node(group_.root);
    const int v = context_.vector_width();
    const int64_t planes = xa.dims[0] * xa.dims[1];
    const int64_t chunks = (hw + v - 1) / v;
    const float fill = max ? -std::numeric_limits<float>::infinity() : 0.0f;
    Lowered lowered;
    int temp = -1;
    {
      LaunchBuilder b(StrCat(group_.Label(g), "/partial"), context_, lowered);
      LoopNest& nest = b.nest();
      const int na = nest.AddAxis("n", xa.dims[0]), ca = nest.AddAxis("c", xa.dims[1]);
      const int la = nest.AddAxis("l", v);
      const int ja = nest.AddReduction("j", chunks);
      const int partial = b.NewTemp(planes * v, true, &temp);
      const AffineIndex at({{ja, v}, {la, 1}});
      const AffineIndex index({{na, xa.strides[0]}, {ca, xa.strides[1]}, {ja, v}, {la, 1}});
      std::vector<Guard> guards;
      if (hw % v != 0) guards.push_back({at, hw});
      nest.SetReduction(max ? Combiner::kMax : Combiner::kSum,
                        nest.Load(b.Value(n.inputs[0]), index, guards, fill));
      nest.SetResult(partial, AffineIndex({{na, xa.dims[1] * v}, {ca, v}, {la, 1}}), nest.Acc());
      Schedule s = Schedule::Default(nest);
      s.order = {{na, 0}, {ca, 0}, {ja, 0}, {la, 0}};
      s.vector_axis = la;
      s.vector_width = v;
      s.unrolled = {{la, 0}};
      if (planes * hw >= kParallelMinElements) s.parallel = 2;
      b.Finish(s);
    }
    LaunchBuilder b(group_.Label(g), context_, lowered);
    LoopNest& nest = b.nest();
    const ValueId out = group_.output(g);
    const ValueAccess oa = b.Access(out);
    const std::vector<AffineIndex> dim_index = AxesForDims(nest, oa);
    const int la = nest.AddReduction("l", v);
    AffineIndex index;
    AddScaled(index, dim_index[0], xa.dims[1] * v);
    AddScaled(index, dim_index[1], v);
    index.Add(la, 1);
    nest.SetReduction(max ? Combiner::kMax : Combiner::kSum, nest.Load(b.Temp(temp, false), index));
    int expr = nest.Acc();
    if (!max) expr = nest.Mul(expr, nest.Const(1.0f / static_cast<float>(hw)));
    expr = ApplyChain(b, group_, expr, dim_index);
    nest.SetResult(b.Value(out, true), OutIndex(oa, dim_index), expr);
    Schedule s = Schedule::Default(nest);
    s.unrolled = {{la, 0}};
    b.Finish(s);
    return lowered;
  }

  Group group_;
  const LoweringContext& context_;
};

}  // namespace

std::unique_ptr<Template> MakeElementwiseTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<ElementwiseTemplate>(group, c);
}

std::unique_ptr<Template> MakeConcatTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<ConcatTemplate>(group, c);
}

std::unique_ptr<Template> MakePoolTemplate(const Group& group, const LoweringContext& c) {
  return std::make_unique<PoolTemplate>(group, c);
}

}  // namespace lemma::cpu
