#include "ir/shape_functions.h"

#include "ir/op_registry.h"

#include <algorithm>
#include <numeric>

#include "absl/status/status.h"
#include "ir/status_macros.h"
#include "ir/strings.h"

namespace lemma {
namespace {

template <typename... Args>
absl::Status Err(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

std::string Str(const TensorType& t) { return t.ToString(); }

absl::Status SameDType(std::span<const TensorType> in) {
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].dtype != in[0].dtype) {
      return Err("input ", i, " has dtype ", DTypeName(in[i].dtype), " but input 0 has ",
                 DTypeName(in[0].dtype));
    }
  }
  return absl::OkStatus();
}

absl::Status RankIs(const TensorType& t, int rank, std::string_view what) {
  if (t.rank() != rank) return Err(what, " must have rank ", rank, ", got ", Str(t));
  return absl::OkStatus();
}

std::vector<TensorType> One(DType dtype, Dims dims) {
  return {TensorType::Make(dtype, std::move(dims))};
}


}  // namespace

absl::StatusOr<int> NormalizeAxis(int64_t axis, int rank) {
  if (axis < -rank || axis >= rank || (rank == 0)) {
    return Err("axis ", axis, " is out of range for rank ", rank);
  }
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

absl::StatusOr<Dims> BroadcastDims(std::span<const int64_t> a, std::span<const int64_t> b) {
  const size_t rank = std::max(a.size(), b.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return Err("shapes ", DimsToString(a), " and ", DimsToString(b), " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

absl::StatusOr<Window2d> ResolveWindow(int64_t in_h, int64_t in_w,
                                       std::array<int64_t, 2> kernel, const Attributes& attrs) {
  Window2d w;
  w.kernel = kernel;
  const std::vector<int64_t>& stride = attrs.GetInts("stride");
  w.stride = {stride[0], stride[1]};
  w.dilation = {1, 1};
  if (attrs.Has("dilation")) {
    const std::vector<int64_t>& d = attrs.GetInts("dilation");
    w.dilation = {d[0], d[1]};
  }
  const std::vector<int64_t>& pads = attrs.GetInts("pads");
  for (int i = 0; i < 2; ++i) {
    if (kernel[i] < 1) return Err("kernel size ", kernel[i], " must be positive");
    if (w.stride[i] < 1) return Err("stride ", w.stride[i], " must be positive");
    if (w.dilation[i] < 1) return Err("dilation ", w.dilation[i], " must be positive");
  }
  const std::array<int64_t, 2> in = {in_h, in_w};
  if (attrs.GetEnum<Padding>("padding") == Padding::kSame) {
    if (std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; })) {
      return Err("pads ", DimsToString(pads), " given with padding=same");
    }
    for (int i = 0; i < 2; ++i) {
      const int64_t extent = (kernel[i] - 1) * w.dilation[i] + 1;
      const int64_t out = (in[i] + w.stride[i] - 1) / w.stride[i];
      const int64_t total = std::max<int64_t>((out - 1) * w.stride[i] + extent - in[i], 0);
      w.pads[i] = total / 2;
      w.pads[i + 2] = total - total / 2;
    }
  } else {
    for (int i = 0; i < 4; ++i) {
      if (pads[i] < 0) return Err("pads ", DimsToString(pads), " must be non-negative");
      w.pads[i] = pads[i];
    }
  }
  for (int i = 0; i < 2; ++i) {
    const int64_t extent = (kernel[i] - 1) * w.dilation[i] + 1;
    const int64_t padded = in[i] + w.pads[i] + w.pads[i + 2];
    if (padded < extent) {
      return Err("window of extent ", extent, " does not fit padded input size ", padded);
    }
    w.out[i] = (padded - extent) / w.stride[i] + 1;
  }
  return w;
}

absl::StatusOr<std::vector<SliceAxis>> ResolveSlice(std::span<const int64_t> dims,
                                                    const Attributes& attrs) {
  const auto& axes = attrs.GetInts("axes");
  const auto& starts = attrs.GetInts("starts");
  const auto& ends = attrs.GetInts("ends");
  const auto& steps = attrs.GetInts("steps");
  if (starts.size() != axes.size() || ends.size() != axes.size() ||
      (!steps.empty() && steps.size() != axes.size())) {
    return Err("axes, starts, ends and steps must have the same length");
  }
  const int rank = static_cast<int>(dims.size());
  std::vector<SliceAxis> out;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    absl::StatusOr<int> axis = NormalizeAxis(axes[i], rank);
    if (!axis.ok()) return axis.status();
    if (seen[static_cast<size_t>(*axis)]) return Err("axis ", axes[i], " is sliced twice");
    seen[static_cast<size_t>(*axis)] = true;
    const int64_t step = steps.empty() ? 1 : steps[i];
    const int64_t dim = dims[static_cast<size_t>(*axis)];
    if (step < 1) return Err("step ", step, " must be positive");
    if (starts[i] < 0 || starts[i] > ends[i] || ends[i] > dim) {
      return Err("slice [", starts[i], ", ", ends[i], ") of axis ", *axis,
                 " must satisfy 0 <= start <= end <= ", dim);
    }
    out.push_back({*axis, starts[i], ends[i], step});
  }
  return out;
}

absl::StatusOr<std::vector<int>> ResolveReduceAxes(int rank, const Attributes& attrs) {
  const auto& axes = attrs.GetInts("axes");
  if (axes.empty()) return Err("axes must not be empty");
  std::vector<int> out;
  for (int64_t a : axes) {
    absl::StatusOr<int> axis = NormalizeAxis(a, rank);
    if (!axis.ok()) return axis.status();
    out.push_back(*axis);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) {
    return Err("axes ", DimsToString(axes), " repeat an axis");
  }
  return out;
}

absl::StatusOr<Dims> ResolveReshape(std::span<const int64_t> in, const Attributes& attrs) {
  Dims target = attrs.GetInts("shape");
  int unknown = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (unknown >= 0) return Err("shape ", DimsToString(target), " has more than one -1");
      unknown = static_cast<int>(i);
    } else if (target[i] < 0) {
      return Err("shape ", DimsToString(target), " has a negative dimension");
    } else {
      if (target[i] != 0 && known > (int64_t{1} << 40) / target[i]) {
        return Err("shape ", DimsToString(target), " is too large");
      }
      known *= target[i];
    }
  }
  const int64_t n = NumElements(in);
  if (unknown >= 0) {
    if (known == 0 || n % known != 0) {
      return Err("cannot reshape ", DimsToString(in), " to ", DimsToString(target));
    }
    target[static_cast<size_t>(unknown)] = n / known;
  } else if (known != n) {
    return Err("cannot reshape ", DimsToString(in), " (", n, " elements) to ",
               DimsToString(target), " (", known, " elements)");
  }
  return target;
}

namespace shape_fn {

Result MatMul(Types in, const Attributes&) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  const TensorType& a = in[0];
  const TensorType& b = in[1];
  if (a.rank() < 2 || b.rank() < 2) {
    return Err("operands must have rank >= 2, got ", Str(a), " and ", Str(b));
  }
  const int64_t m = a.dims[a.dims.size() - 2], k = a.dims.back();
  const int64_t k2 = b.dims[b.dims.size() - 2], n = b.dims.back();
  if (k != k2) {
    return Err("inner dimensions differ: ", Str(a), " x ", Str(b), " (", k, " vs ", k2, ")");
  }
  absl::StatusOr<Dims> batch =
      BroadcastDims(std::span(a.dims).first(a.dims.size() - 2),
                    std::span(b.dims).first(b.dims.size() - 2));
  if (!batch.ok()) return Err("batch dimensions: ", batch.status().message());
  batch->push_back(m);
  batch->push_back(n);
  return One(a.dtype, std::move(*batch));
}

Result Conv2d(Types in, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  const TensorType& x = in[0];
  const TensorType& w = in[1];
  LEMMA_RETURN_IF_ERROR(RankIs(x, 4, "input"));
  LEMMA_RETURN_IF_ERROR(RankIs(w, 4, "weight"));
  const int64_t groups = attrs.GetInt("groups");
  if (groups < 1) return Err("groups ", groups, " must be positive");
  const int64_t c = x.dim(1), o = w.dim(0);
  if (c % groups != 0 || o % groups != 0) {
    return Err("input channels ", c, " and output channels ", o, " must be divisible by groups ",
               groups);
  }
  if (w.dim(1) * groups != c) {
    return Err("weight ", Str(w), " expects ", w.dim(1) * groups, " input channels (",
               w.dim(1), " x groups ", groups, ") but input ", Str(x), " has ", c);
  }
  absl::StatusOr<Window2d> win = ResolveWindow(x.dim(2), x.dim(3), {w.dim(2), w.dim(3)}, attrs);
  if (!win.ok()) return win.status();
  return One(x.dtype, {x.dim(0), o, win->out[0], win->out[1]});
}

Result SameShape(Types in, const Attributes&) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  if (in[0].dims != in[1].dims) {
    return Err("operands must have the same shape, got ", Str(in[0]), " and ", Str(in[1]));
  }
  return One(in[0].dtype, in[0].dims);
}

Result ScalarMul(Types in, const Attributes&) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  if (in[1].rank() != 0) return Err("the scalar operand must have rank 0, got ", Str(in[1]));
  return One(in[0].dtype, in[0].dims);
}

Result Unary(Types in, const Attributes&) { return One(in[0].dtype, in[0].dims); }

Result Pool2d(Types in, const Attributes& attrs) {
  const TensorType& x = in[0];
  LEMMA_RETURN_IF_ERROR(RankIs(x, 4, "input"));
  const std::vector<int64_t>& k = attrs.GetInts("kernel");
  if (x.dim(2) == 0 || x.dim(3) == 0) return Err("input ", Str(x), " has no spatial elements");
  absl::StatusOr<Window2d> win = ResolveWindow(x.dim(2), x.dim(3), {k[0], k[1]}, attrs);
  if (!win.ok()) return win.status();
  for (int i = 0; i < 2; ++i) {
    if (win->pads[i] >= k[i] || win->pads[i + 2] >= k[i]) {
      return Err("padding ", DimsToString(win->pads), " must be smaller than the kernel ",
                 DimsToString(k));
    }
  }
  return One(x.dtype, {x.dim(0), x.dim(1), win->out[0], win->out[1]});
}

Result Concat(Types in, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  absl::StatusOr<int> axis = NormalizeAxis(attrs.GetInt("axis"), in[0].rank());
  if (!axis.ok()) return axis.status();
  Dims out = in[0].dims;
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].rank() != in[0].rank()) {
      return Err("input ", i, " ", Str(in[i]), " has another rank than input 0 ", Str(in[0]));
    }
    for (int d = 0; d < in[0].rank(); ++d) {
      if (d != *axis && in[i].dim(d) != in[0].dim(d)) {
        return Err("input ", i, " ", Str(in[i]), " differs from input 0 ", Str(in[0]),
                   " outside axis ", *axis);
      }
    }
    out[static_cast<size_t>(*axis)] += in[i].dim(*axis);
  }
  return One(in[0].dtype, std::move(out));
}

Result Split(Types in, const Attributes& attrs) {
  const TensorType& x = in[0];
  absl::StatusOr<int> axis = NormalizeAxis(attrs.GetInt("axis"), x.rank());
  if (!axis.ok()) return axis.status();
  const std::vector<int64_t>& sizes = attrs.GetInts("sizes");
  if (sizes.empty()) return Err("sizes must not be empty");
  int64_t total = 0;
  std::vector<TensorType> out;
  for (int64_t s : sizes) {
    if (s < 0) return Err("sizes ", DimsToString(sizes), " must be non-negative");
    total += s;
    Dims d = x.dims;
    d[static_cast<size_t>(*axis)] = s;
    out.push_back(TensorType::Make(x.dtype, std::move(d)));
  }
  if (total != x.dim(*axis)) {
    return Err("sizes ", DimsToString(sizes), " add up to ", total, ", not to dimension ",
               x.dim(*axis), " of ", Str(x));
  }
  return out;
}

Result Transpose(Types in, const Attributes& attrs) {
  const TensorType& x = in[0];
  const std::vector<int64_t>& perm = attrs.GetInts("perm");
  if (static_cast<int>(perm.size()) != x.rank()) {
    return Err("perm ", DimsToString(perm), " does not match rank ", x.rank());
  }
  std::vector<bool> seen(perm.size(), false);
  Dims out;
  for (int64_t p : perm) {
    if (p < 0 || p >= x.rank() || seen[static_cast<size_t>(p)]) {
      return Err("perm ", DimsToString(perm), " is not a permutation of 0..", x.rank() - 1);
    }
    seen[static_cast<size_t>(p)] = true;
    out.push_back(x.dim(static_cast<int>(p)));
  }
  return One(x.dtype, std::move(out));
}

Result Enlarge(Types in, const Attributes& attrs) {
  const TensorType& w = in[0];
  LEMMA_RETURN_IF_ERROR(RankIs(w, 4, "weight"));
  const std::vector<int64_t>& k = attrs.GetInts("kernel");
  for (int i = 0; i < 2; ++i) {
    const int64_t have = w.dim(2 + i);
    if (k[i] < have || (k[i] - have) % 2 != 0) {
      return Err("cannot enlarge kernel ", have, " to ", k[i],
                 " (the target must be larger by an even amount)");
    }
  }
  return One(w.dtype, {w.dim(0), w.dim(1), k[0], k[1]});
}

namespace {
absl::Status PositiveKernel(const Attributes& attrs, bool odd) {
  const int64_t c = attrs.GetInt("channels");
  const std::vector<int64_t>& k = attrs.GetInts("kernel");
  if (c < 1) return Err("channels ", c, " must be positive");
  for (int64_t s : k) {
    if (s < 1 || (odd && s % 2 == 0)) {
      return Err("kernel ", DimsToString(k), odd ? " must be odd and positive" : " must be positive");
    }
  }
  return absl::OkStatus();
}
DType ConstDType(const Attributes& attrs) { return attrs.GetEnum<DType>("dtype"); }
}  // namespace

Result ConstPool(Types, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(PositiveKernel(attrs, false));
  const auto& k = attrs.GetInts("kernel");
  return One(ConstDType(attrs), {attrs.GetInt("channels"), 1, k[0], k[1]});
}

Result ConstIdentityConv(Types, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(PositiveKernel(attrs, true));
  const auto& k = attrs.GetInts("kernel");
  const int64_t c = attrs.GetInt("channels");
  return One(ConstDType(attrs), {c, c, k[0], k[1]});
}

Result ConstIdentityMatrix(Types, const Attributes& attrs) {
  const int64_t n = attrs.GetInt("size");
  if (n < 1) return Err("size ", n, " must be positive");
  return One(ConstDType(attrs), {n, n});
}

Result ConstOnes(Types, const Attributes& attrs) {
  const Dims& d = attrs.GetInts("shape");
  for (int64_t x : d) {
    if (x < 0) return Err("shape ", DimsToString(d), " has a negative dimension");
  }
  return One(ConstDType(attrs), d);
}

Result BatchNorm(Types in, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  const TensorType& x = in[0];
  if (x.rank() < 2) return Err("input must have rank >= 2 (channels at axis 1), got ", Str(x));
  static constexpr std::string_view kNames[] = {"scale", "bias", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    if (in[i].dims != Dims{x.dim(1)}) {
      return Err(kNames[i - 1], " must have shape [", x.dim(1), "], got ", Str(in[i]));
    }
  }
  if (!(attrs.GetFloat("epsilon") >= 0)) return Err("epsilon must be non-negative");
  return One(x.dtype, x.dims);
}

Result Softmax(Types in, const Attributes& attrs) {
  absl::StatusOr<int> axis = NormalizeAxis(attrs.GetInt("axis"), in[0].rank());
  if (!axis.ok()) return axis.status();
  return One(in[0].dtype, in[0].dims);
}

Result Reshape(Types in, const Attributes& attrs) {
  absl::StatusOr<Dims> dims = ResolveReshape(in[0].dims, attrs);
  if (!dims.ok()) return dims.status();
  return One(in[0].dtype, std::move(*dims));
}

Result Broadcast(Types in, const Attributes&) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  absl::StatusOr<Dims> dims = BroadcastDims(in[0].dims, in[1].dims);
  if (!dims.ok()) return dims.status();
  return One(in[0].dtype, std::move(*dims));
}

Result LayerNorm(Types in, const Attributes& attrs) {
  LEMMA_RETURN_IF_ERROR(SameDType(in));
  const TensorType& x = in[0];
  absl::StatusOr<int> axis = NormalizeAxis(attrs.GetInt("axis"), x.rank());
  if (!axis.ok()) return axis.status();
  const Dims norm(x.dims.begin() + *axis, x.dims.end());
  if (in[1].dims != norm || in[2].dims != norm) {
    return Err("scale ", Str(in[1]), " and bias ", Str(in[2]), " must have shape ",
               DimsToString(norm));
  }
  if (!(attrs.GetFloat("epsilon") >= 0)) return Err("epsilon must be non-negative");
  return One(x.dtype, x.dims);
}

Result Pad(Types in, const Attributes& attrs) {
  const TensorType& x = in[0];
  const std::vector<int64_t>& pads = attrs.GetInts("pads");
  if (static_cast<int>(pads.size()) != 2 * x.rank()) {
    return Err("pads ", DimsToString(pads), " must have 2 x rank = ", 2 * x.rank(), " elements");
  }
  Dims out = x.dims;
  for (int i = 0; i < x.rank(); ++i) {
    const int64_t b = pads[static_cast<size_t>(i)];
    const int64_t e = pads[static_cast<size_t>(i + x.rank())];
    if (b < 0 || e < 0) return Err("pads ", DimsToString(pads), " must be non-negative");
    out[static_cast<size_t>(i)] += b + e;
  }
  return One(x.dtype, std::move(out));
}

Result Slice(Types in, const Attributes& attrs) {
  absl::StatusOr<std::vector<SliceAxis>> axes = ResolveSlice(in[0].dims, attrs);
  if (!axes.ok()) return axes.status();
  Dims out = in[0].dims;
  for (const SliceAxis& s : *axes) {
    out[static_cast<size_t>(s.axis)] = (s.end - s.start + s.step - 1) / s.step;
  }
  return One(in[0].dtype, std::move(out));
}

Result Reduce(Types in, const Attributes& attrs) {
  absl::StatusOr<std::vector<int>> axes = ResolveReduceAxes(in[0].rank(), attrs);
  if (!axes.ok()) return axes.status();
  const bool keep = attrs.GetInt("keepdims") != 0;
  if (attrs.op() != OpKind::kReduceSum) {
    for (int a : *axes) {
      if (in[0].dim(a) == 0) return Err("reduces the empty axis ", a, " of ", Str(in[0]));
    }
  }
  Dims out;
  for (int d = 0; d < in[0].rank(); ++d) {
    const bool reduced = std::binary_search(axes->begin(), axes->end(), d);
    if (!reduced) {
      out.push_back(in[0].dim(d));
    } else if (keep) {
      out.push_back(1);
    }
  }
  return One(in[0].dtype, std::move(out));
}

}  // namespace shape_fn
}  // namespace lemma
