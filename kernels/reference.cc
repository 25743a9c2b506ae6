#include "kernels/reference.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"

namespace lemma {
namespace {

size_t U(int64_t i) { return static_cast<size_t>(i); }

template <typename... Args>
absl::Status Invalid(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

// ---- The kernel interface: logical row-major arrays in and out.

// One input of a kernel: logical dims and elements in logical row-major order.
template <typename T>
struct Operand {
  Dims dims;
  std::vector<T> data;
};

// What a kernel sees: the node's attributes, its inputs, and the output types
// the graph gives it (shape inference already ran; kernels read dims from here).
template <typename A>
struct Call {
  const Attributes& attrs;
  std::vector<Operand<typename A::T>> in;
  std::span<const TensorType> out;
};

// One logical row-major array per output.
template <typename A>
using Outputs = std::vector<std::vector<typename A::T>>;
template <typename A>
using Result = absl::StatusOr<Outputs<A>>;
template <typename A>
using Kernel = Result<A> (*)(const Call<A>&);

// ---- Index helpers.

// Calls f(index) for every index of `dims`, in row-major order.
template <typename F>
void ForEachIndex(std::span<const int64_t> dims, F f) {
  const int64_t n = NumElements(dims);
  Dims index(dims.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    f(std::as_const(index));
    for (size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

// The row-major position in `dims` of the element numpy broadcasting reads for
// `out_index`: dims are right-aligned and a dim of 1 is read at 0.
int64_t BroadcastOffset(std::span<const int64_t> out_index, std::span<const int64_t> dims) {
  const size_t skip = out_index.size() - dims.size();
  int64_t offset = 0;
  for (size_t d = 0; d < dims.size(); ++d) {
    offset = offset * dims[d] + (dims[d] == 1 ? 0 : out_index[skip + d]);
  }
  return offset;
}

// Product of dims[begin..end).
int64_t Extent(std::span<const int64_t> dims, size_t begin, size_t end) {
  return NumElements(dims.subspan(begin, end - begin));
}

template <typename A>
Result<A> One(std::vector<typename A::T> data) {
  Outputs<A> out;
  out.push_back(std::move(data));
  return out;
}

template <typename A>
std::vector<typename A::T> Filled(const TensorType& type, typename A::T value) {
  return std::vector<typename A::T>(U(type.num_elements()), value);
}

// ---- Fused activations, indexed by Activation.

template <typename A>
typename A::T Identity(typename A::T x) {
  return x;
}

Activation FusedActivation(const Attributes& attrs) {
  return attrs.GetEnum<Activation>("activation");
}

template <typename A>
typename A::T Activate(Activation act, typename A::T x) {
  using Fn = typename A::T (*)(typename A::T);
  static_assert(static_cast<int>(Activation::kTanh) == 3, "one entry per Activation");
  static constexpr std::array<Fn, 4> kFns = {&Identity<A>, &A::Relu, &A::Sigmoid, &A::Tanh};
  return kFns[static_cast<size_t>(act)](x);
}

// ---- Windows of conv2d and the pools.

// Calls visit(value, weight_index) for each element of the window of output
// (oy, ox) over one H x W plane that lies inside the input; padded positions
// are skipped. weight_index is ky * kw + kx.
template <typename T, typename F>
void ForEachInWindow(const T* plane, int64_t h, int64_t w, const Window2d& win, int64_t oy,
                     int64_t ox, F visit) {
  for (int64_t ky = 0; ky < win.kernel[0]; ++ky) {
    const int64_t iy = oy * win.stride[0] - win.pads[0] + ky * win.dilation[0];
    if (iy < 0 || iy >= h) continue;
    for (int64_t kx = 0; kx < win.kernel[1]; ++kx) {
      const int64_t ix = ox * win.stride[1] - win.pads[1] + kx * win.dilation[1];
      if (ix < 0 || ix >= w) continue;
      visit(plane[iy * w + ix], ky * win.kernel[1] + kx);
    }
  }
}

absl::StatusOr<Window2d> PoolWindow(const Dims& x, const Attributes& attrs) {
  const std::vector<int64_t>& k = attrs.GetInts("kernel");
  return ResolveWindow(x[2], x[3], {k[0], k[1]}, attrs);
}

absl::Status EmptyWindow() { return Invalid("a pooling window covers no input element"); }

namespace ops {

template <typename A>
Result<A> Source(const Call<A>&) {
  return absl::FailedPreconditionError("a source is fed, not computed");
}

// a[..., m, k] x b[..., k, n], batch dims broadcast.
template <typename A>
Result<A> MatMul(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& a = c.in[0];
  const Operand<T>& b = c.in[1];
  const Dims& od = c.out[0].dims;
  const int64_t m = od[od.size() - 2], n = od.back(), k = a.dims.back();
  const std::span<const int64_t> batch(od.data(), od.size() - 2);
  const std::span<const int64_t> a_batch(a.dims.data(), a.dims.size() - 2);
  const std::span<const int64_t> b_batch(b.dims.data(), b.dims.size() - 2);
  const Activation act = FusedActivation(c.attrs);
  std::vector<T> out;
  out.reserve(U(NumElements(od)));
  ForEachIndex(batch, [&](std::span<const int64_t> index) {
    const T* pa = a.data.data() + BroadcastOffset(index, a_batch) * m * k;
    const T* pb = b.data.data() + BroadcastOffset(index, b_batch) * k * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        T sum = A::Zero();
        for (int64_t p = 0; p < k; ++p) sum = A::Add(sum, A::Mul(pa[i * k + p], pb[p * n + j]));
        out.push_back(Activate<A>(act, sum));
      }
    }
  });
  return One<A>(std::move(out));
}

// x[N,C,H,W] (*) w[O,C/groups,kh,kw]; output channel o reads group o / (O/groups).
template <typename A>
Result<A> Conv2d(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  const Operand<T>& w = c.in[1];
  const int64_t batch = x.dims[0], channels = x.dims[1], h = x.dims[2], wd = x.dims[3];
  const int64_t out_channels = w.dims[0], group_channels = w.dims[1];
  absl::StatusOr<Window2d> win = ResolveWindow(h, wd, {w.dims[2], w.dims[3]}, c.attrs);
  if (!win.ok()) return win.status();
  const int64_t per_group = out_channels / c.attrs.GetInt("groups");
  const int64_t taps = w.dims[2] * w.dims[3];
  const Activation act = FusedActivation(c.attrs);
  std::vector<T> out;
  out.reserve(U(c.out[0].num_elements()));
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t o = 0; o < out_channels; ++o) {
      const int64_t first_channel = o / per_group * group_channels;
      for (int64_t oy = 0; oy < win->out[0]; ++oy) {
        for (int64_t ox = 0; ox < win->out[1]; ++ox) {
          T sum = A::Zero();
          for (int64_t ci = 0; ci < group_channels; ++ci) {
            const T* plane = x.data.data() + ((n * channels + first_channel + ci) * h * wd);
            const T* kernel = w.data.data() + (o * group_channels + ci) * taps;
            ForEachInWindow(plane, h, wd, *win, oy, ox,
                            [&](T v, int64_t tap) { sum = A::Add(sum, A::Mul(v, kernel[tap])); });
          }
          out.push_back(Activate<A>(act, sum));
        }
      }
    }
  }
  return One<A>(std::move(out));
}

// Mean over each window; count_include_pad=0 divides by the in-bounds count,
// 1 by kh*kw.
template <typename A>
Result<A> AvgPool2d(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  absl::StatusOr<Window2d> win = PoolWindow(x.dims, c.attrs);
  if (!win.ok()) return win.status();
  const bool include_pad = c.attrs.GetInt("count_include_pad") != 0;
  const int64_t planes = x.dims[0] * x.dims[1], h = x.dims[2], w = x.dims[3];
  std::vector<T> out;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oy = 0; oy < win->out[0]; ++oy) {
      for (int64_t ox = 0; ox < win->out[1]; ++ox) {
        T sum = A::Zero();
        int64_t count = 0;
        ForEachInWindow(x.data.data() + p * h * w, h, w, *win, oy, ox, [&](T v, int64_t) {
          sum = A::Add(sum, v);
          ++count;
        });
        if (count == 0) return EmptyWindow();
        out.push_back(A::DivInt(sum, include_pad ? win->kernel[0] * win->kernel[1] : count));
      }
    }
  }
  return One<A>(std::move(out));
}

// Max over the in-bounds elements of each window: padding never wins.
template <typename A>
Result<A> MaxPool2d(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  absl::StatusOr<Window2d> win = PoolWindow(x.dims, c.attrs);
  if (!win.ok()) return win.status();
  const int64_t planes = x.dims[0] * x.dims[1], h = x.dims[2], w = x.dims[3];
  std::vector<T> out;
  for (int64_t p = 0; p < planes; ++p) {
    for (int64_t oy = 0; oy < win->out[0]; ++oy) {
      for (int64_t ox = 0; ox < win->out[1]; ++ox) {
        std::optional<T> best;
        ForEachInWindow(x.data.data() + p * h * w, h, w, *win, oy, ox,
                        [&](T v, int64_t) { best = best ? A::Max(*best, v) : v; });
        if (!best) return EmptyWindow();
        out.push_back(*best);
      }
    }
  }
  return One<A>(std::move(out));
}

template <typename A, typename A::T (*F)(typename A::T)>
Result<A> Unary(const Call<A>& c) {
  std::vector<typename A::T> out = c.in[0].data;
  for (auto& v : out) v = F(v);
  return One<A>(std::move(out));
}

// Elementwise on operands of equal shape.
template <typename A, typename A::T (*F)(typename A::T, typename A::T)>
Result<A> Binary(const Call<A>& c) {
  std::vector<typename A::T> out = c.in[0].data;
  for (size_t i = 0; i < out.size(); ++i) out[i] = F(out[i], c.in[1].data[i]);
  return One<A>(std::move(out));
}

// Elementwise with numpy broadcasting.
template <typename A, typename A::T (*F)(typename A::T, typename A::T)>
Result<A> Broadcast(const Call<A>& c) {
  const Operand<typename A::T>& a = c.in[0];
  const Operand<typename A::T>& b = c.in[1];
  std::vector<typename A::T> out;
  out.reserve(U(c.out[0].num_elements()));
  ForEachIndex(c.out[0].dims, [&](std::span<const int64_t> index) {
    out.push_back(
        F(a.data[U(BroadcastOffset(index, a.dims))], b.data[U(BroadcastOffset(index, b.dims))]));
  });
  return One<A>(std::move(out));
}

// a / b: rounded division in the ordered domains, a times the inverse of b in
// ModP (where inv(0) = 0).
template <typename A>
typename A::T Div(typename A::T a, typename A::T b) {
  if constexpr (A::kExact) {
    return A::Mul(a, A::Inv(b));
  } else {
    return a / b;
  }
}

template <typename A>
Result<A> ScalarMul(const Call<A>& c) {
  std::vector<typename A::T> out = c.in[0].data;
  for (auto& v : out) v = A::Mul(v, c.in[1].data[0]);
  return One<A>(std::move(out));
}

template <typename A>
Result<A> Concat(const Call<A>& c) {
  const Dims& od = c.out[0].dims;
  absl::StatusOr<int> axis = NormalizeAxis(c.attrs.GetInt("axis"), static_cast<int>(od.size()));
  if (!axis.ok()) return axis.status();
  const int64_t outer = Extent(od, 0, U(*axis));
  std::vector<typename A::T> out;
  out.reserve(U(NumElements(od)));
  for (int64_t o = 0; o < outer; ++o) {
    for (const Operand<typename A::T>& in : c.in) {
      const int64_t block = Extent(in.dims, U(*axis), in.dims.size());
      const auto begin = in.data.begin() + o * block;
      out.insert(out.end(), begin, begin + block);
    }
  }
  return One<A>(std::move(out));
}

template <typename A>
Result<A> Split(const Call<A>& c) {
  const Operand<typename A::T>& x = c.in[0];
  absl::StatusOr<int> axis = NormalizeAxis(c.attrs.GetInt("axis"), static_cast<int>(x.dims.size()));
  if (!axis.ok()) return axis.status();
  const int64_t outer = Extent(x.dims, 0, U(*axis));
  const int64_t in_block = Extent(x.dims, U(*axis), x.dims.size());
  Outputs<A> out(c.out.size());
  for (int64_t o = 0; o < outer; ++o) {
    auto begin = x.data.begin() + o * in_block;
    for (size_t j = 0; j < c.out.size(); ++j) {
      const int64_t block = Extent(c.out[j].dims, U(*axis), x.dims.size());
      out[j].insert(out[j].end(), begin, begin + block);
      begin += block;
    }
  }
  return out;
}

// Output dim i is input dim perm[i].
template <typename A>
Result<A> Transpose(const Call<A>& c) {
  const Operand<typename A::T>& x = c.in[0];
  const std::vector<int64_t>& perm = c.attrs.GetInts("perm");
  const std::vector<int64_t> in_strides = RowMajorStrides(x.dims);
  std::vector<typename A::T> out;
  out.reserve(x.data.size());
  ForEachIndex(c.out[0].dims, [&](std::span<const int64_t> index) {
    int64_t offset = 0;
    for (size_t i = 0; i < perm.size(); ++i) offset += index[i] * in_strides[U(perm[i])];
    out.push_back(x.data[U(offset)]);
  });
  return One<A>(std::move(out));
}

// w[O,I,kh,kw] placed at the centre of a zero [O,I,KH,KW].
template <typename A>
Result<A> Enlarge(const Call<A>& c) {
  const Operand<typename A::T>& w = c.in[0];
  const Dims& od = c.out[0].dims;
  const int64_t dy = (od[2] - w.dims[2]) / 2, dx = (od[3] - w.dims[3]) / 2;
  std::vector<typename A::T> out = Filled<A>(c.out[0], A::Zero());
  size_t next = 0;
  ForEachIndex(w.dims, [&](std::span<const int64_t> i) {
    out[U(((i[0] * od[1] + i[1]) * od[2] + i[2] + dy) * od[3] + i[3] + dx)] = w.data[next++];
  });
  return One<A>(std::move(out));
}

template <typename A>
Result<A> ConstPool(const Call<A>& c) {
  const std::vector<int64_t>& k = c.attrs.GetInts("kernel");
  return One<A>(Filled<A>(c.out[0], A::DivInt(A::One(), k[0] * k[1])));
}

// [C,C,kh,kw]: 1 at [c, c, kh/2, kw/2].
template <typename A>
Result<A> ConstIdentityConv(const Call<A>& c) {
  const Dims& od = c.out[0].dims;
  std::vector<typename A::T> out = Filled<A>(c.out[0], A::Zero());
  for (int64_t ch = 0; ch < od[0]; ++ch) {
    out[U(((ch * od[1] + ch) * od[2] + od[2] / 2) * od[3] + od[3] / 2)] = A::One();
  }
  return One<A>(std::move(out));
}

template <typename A>
Result<A> ConstIdentityMatrix(const Call<A>& c) {
  const int64_t n = c.out[0].dims[0];
  std::vector<typename A::T> out = Filled<A>(c.out[0], A::Zero());
  for (int64_t i = 0; i < n; ++i) out[U(i * n + i)] = A::One();
  return One<A>(std::move(out));
}

template <typename A>
Result<A> ConstOnes(const Call<A>& c) {
  return One<A>(Filled<A>(c.out[0], A::One()));
}

// x[N,C,...]: (x - mean) * rsqrt(var + eps) * scale + bias, per channel.
template <typename A>
Result<A> BatchNorm(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  const std::vector<T>& scale = c.in[1].data;
  const std::vector<T>& bias = c.in[2].data;
  const std::vector<T>& mean = c.in[3].data;
  const std::vector<T>& var = c.in[4].data;
  const T eps = A::Epsilon(c.attrs.GetFloat("epsilon"));
  const int64_t channels = x.dims[1], inner = Extent(x.dims, 2, x.dims.size());
  std::vector<T> out(x.data.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const size_t ch = U(static_cast<int64_t>(i) / inner % channels);
    const T normalized = A::Mul(A::Sub(x.data[i], mean[ch]), A::Rsqrt(A::Add(var[ch], eps)));
    out[i] = A::Add(A::Mul(normalized, scale[ch]), bias[ch]);
  }
  return One<A>(std::move(out));
}

// exp(x) / sum exp(x) along axis; the ordered domains subtract the max first.
template <typename A>
Result<A> Softmax(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  absl::StatusOr<int> axis = NormalizeAxis(c.attrs.GetInt("axis"), static_cast<int>(x.dims.size()));
  if (!axis.ok()) return axis.status();
  const int64_t outer = Extent(x.dims, 0, U(*axis)), len = x.dims[U(*axis)];
  const int64_t inner = Extent(x.dims, U(*axis) + 1, x.dims.size());
  std::vector<T> out(x.data.size());
  if (len == 0) return One<A>(std::move(out));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * len * inner + i;
      auto at = [&](int64_t j) { return U(base + j * inner); };
      T shift = A::Zero();
      if constexpr (!A::kExact) {
        shift = x.data[at(0)];
        for (int64_t j = 1; j < len; ++j) shift = A::Max(shift, x.data[at(j)]);
      }
      T sum = A::Zero();
      for (int64_t j = 0; j < len; ++j) {
        out[at(j)] = A::Exp(A::Sub(x.data[at(j)], shift));
        sum = A::Add(sum, out[at(j)]);
      }
      const T inv = A::Inv(sum);
      for (int64_t j = 0; j < len; ++j) out[at(j)] = A::Mul(out[at(j)], inv);
    }
  }
  return One<A>(std::move(out));
}

template <typename A>
Result<A> Reshape(const Call<A>& c) {
  return One<A>(c.in[0].data);
}

// Normalizes over dims axis..end; scale and bias have those dims.
template <typename A>
Result<A> LayerNorm(const Call<A>& c) {
  using T = typename A::T;
  const Operand<T>& x = c.in[0];
  const std::vector<T>& scale = c.in[1].data;
  const std::vector<T>& bias = c.in[2].data;
  absl::StatusOr<int> axis = NormalizeAxis(c.attrs.GetInt("axis"), static_cast<int>(x.dims.size()));
  if (!axis.ok()) return axis.status();
  const T eps = A::Epsilon(c.attrs.GetFloat("epsilon"));
  const int64_t n = Extent(x.dims, U(*axis), x.dims.size());
  std::vector<T> out(x.data.size());
  for (size_t row = 0; n > 0 && row < out.size(); row += U(n)) {
    const T* v = x.data.data() + row;
    T sum = A::Zero();
    for (int64_t j = 0; j < n; ++j) sum = A::Add(sum, v[j]);
    const T mean = A::DivInt(sum, n);
    T squares = A::Zero();
    for (int64_t j = 0; j < n; ++j) {
      const T d = A::Sub(v[j], mean);
      squares = A::Add(squares, A::Mul(d, d));
    }
    const T rstd = A::Rsqrt(A::Add(A::DivInt(squares, n), eps));
    for (int64_t j = 0; j < n; ++j) {
      out[row + U(j)] = A::Add(A::Mul(A::Mul(A::Sub(v[j], mean), rstd), scale[U(j)]), bias[U(j)]);
    }
  }
  return One<A>(std::move(out));
}

// x surrounded by a constant; pads = [begin_0..begin_r-1, end_0..end_r-1].
template <typename A>
Result<A> Pad(const Call<A>& c) {
  const Operand<typename A::T>& x = c.in[0];
  absl::StatusOr<typename A::T> value = A::FromDouble(c.attrs.GetFloat("value"));
  if (!value.ok()) return Invalid("pad value: ", value.status().message());
  const std::vector<int64_t>& pads = c.attrs.GetInts("pads");
  const std::vector<int64_t> out_strides = RowMajorStrides(c.out[0].dims);
  std::vector<typename A::T> out = Filled<A>(c.out[0], *value);
  size_t next = 0;
  ForEachIndex(x.dims, [&](std::span<const int64_t> index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d) offset += (index[d] + pads[d]) * out_strides[d];
    out[U(offset)] = x.data[next++];
  });
  return One<A>(std::move(out));
}

template <typename A>
Result<A> Slice(const Call<A>& c) {
  const Operand<typename A::T>& x = c.in[0];
  absl::StatusOr<std::vector<SliceAxis>> axes = ResolveSlice(x.dims, c.attrs);
  if (!axes.ok()) return axes.status();
  std::vector<int64_t> start(x.dims.size(), 0), step(x.dims.size(), 1);
  for (const SliceAxis& s : *axes) {
    start[U(s.axis)] = s.start;
    step[U(s.axis)] = s.step;
  }
  const std::vector<int64_t> in_strides = RowMajorStrides(x.dims);
  std::vector<typename A::T> out;
  out.reserve(U(c.out[0].num_elements()));
  ForEachIndex(c.out[0].dims, [&](std::span<const int64_t> index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d)
      offset += (start[d] + index[d] * step[d]) * in_strides[d];
    out.push_back(x.data[U(offset)]);
  });
  return One<A>(std::move(out));
}

// Where each input element of a reduce goes: the output position of every
// input element (row-major) and how many elements each output reduces.
struct ReducePlan {
  std::vector<int64_t> target;
  int64_t count = 1;
};

absl::StatusOr<ReducePlan> PlanReduce(const Dims& dims, const Attributes& attrs) {
  absl::StatusOr<std::vector<int>> axes = ResolveReduceAxes(static_cast<int>(dims.size()), attrs);
  if (!axes.ok()) return axes.status();
  ReducePlan plan;
  Dims kept = dims;
  for (int a : *axes) {
    plan.count *= dims[U(a)];
    kept[U(a)] = 1;
  }
  std::vector<int64_t> strides = RowMajorStrides(kept);
  for (int a : *axes) strides[U(a)] = 0;
  ForEachIndex(dims, [&](std::span<const int64_t> index) {
    int64_t offset = 0;
    for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
    plan.target.push_back(offset);
  });
  return plan;
}

// The sum of the elements each output reduces.
template <typename A>
std::vector<typename A::T> SumByPlan(const ReducePlan& plan, const Call<A>& c) {
  std::vector<typename A::T> out = Filled<A>(c.out[0], A::Zero());
  for (size_t i = 0; i < plan.target.size(); ++i) {
    auto& slot = out[U(plan.target[i])];
    slot = A::Add(slot, c.in[0].data[i]);
  }
  return out;
}

absl::Status EmptyReduce() { return Invalid("reduces over zero elements"); }

template <typename A>
Result<A> ReduceSum(const Call<A>& c) {
  absl::StatusOr<ReducePlan> plan = PlanReduce(c.in[0].dims, c.attrs);
  if (!plan.ok()) return plan.status();
  return One<A>(SumByPlan<A>(*plan, c));
}

template <typename A>
Result<A> ReduceMean(const Call<A>& c) {
  absl::StatusOr<ReducePlan> plan = PlanReduce(c.in[0].dims, c.attrs);
  if (!plan.ok()) return plan.status();
  std::vector<typename A::T> out = SumByPlan<A>(*plan, c);
  if (plan->count == 0 && !out.empty()) return EmptyReduce();
  for (auto& v : out) v = A::DivInt(v, plan->count);
  return One<A>(std::move(out));
}

template <typename A>
Result<A> ReduceMax(const Call<A>& c) {
  absl::StatusOr<ReducePlan> plan = PlanReduce(c.in[0].dims, c.attrs);
  if (!plan.ok()) return plan.status();
  std::vector<std::optional<typename A::T>> best(U(c.out[0].num_elements()));
  for (size_t i = 0; i < plan->target.size(); ++i) {
    auto& slot = best[U(plan->target[i])];
    slot = slot ? A::Max(*slot, c.in[0].data[i]) : c.in[0].data[i];
  }
  std::vector<typename A::T> out;
  for (const auto& v : best) {
    if (!v) return EmptyReduce();
    out.push_back(*v);
  }
  return One<A>(std::move(out));
}

}  // namespace ops

// ---- The kernel table: one entry per OpKind, checked complete at start-up.

template <typename A>
using KernelTable = std::array<Kernel<A>, kNumOpKinds>;

template <typename A>
KernelTable<A> BuildTable() {
  using O = OpKind;
  const std::pair<OpKind, Kernel<A>> entries[] = {
      {O::kInput, &ops::Source<A>},
      {O::kWeight, &ops::Source<A>},
      {O::kMatMul, &ops::MatMul<A>},
      {O::kConv2d, &ops::Conv2d<A>},
      {O::kEwAdd, &ops::Binary<A, &A::Add>},
      {O::kEwMul, &ops::Binary<A, &A::Mul>},
      {O::kScalarMul, &ops::ScalarMul<A>},
      {O::kRelu, &ops::Unary<A, &A::Relu>},
      {O::kAvgPool2d, &ops::AvgPool2d<A>},
      {O::kMaxPool2d, &ops::MaxPool2d<A>},
      {O::kConcat, &ops::Concat<A>},
      {O::kSplit, &ops::Split<A>},
      {O::kTranspose, &ops::Transpose<A>},
      {O::kEnlarge, &ops::Enlarge<A>},
      {O::kConstPool, &ops::ConstPool<A>},
      {O::kConstIdentityConv, &ops::ConstIdentityConv<A>},
      {O::kConstIdentityMatrix, &ops::ConstIdentityMatrix<A>},
      {O::kConstOnes, &ops::ConstOnes<A>},
      {O::kSigmoid, &ops::Unary<A, &A::Sigmoid>},
      {O::kTanh, &ops::Unary<A, &A::Tanh>},
      {O::kGelu, &ops::Unary<A, &A::Gelu>},
      {O::kBatchNorm, &ops::BatchNorm<A>},
      {O::kSoftmax, &ops::Softmax<A>},
      {O::kReshape, &ops::Reshape<A>},
      {O::kBroadcastAdd, &ops::Broadcast<A, &A::Add>},
      {O::kBroadcastMul, &ops::Broadcast<A, &A::Mul>},
      {O::kLayerNorm, &ops::LayerNorm<A>},
      {O::kPad, &ops::Pad<A>},
      {O::kSlice, &ops::Slice<A>},
      {O::kReduceSum, &ops::ReduceSum<A>},
      {O::kReduceMean, &ops::ReduceMean<A>},
      {O::kReduceMax, &ops::ReduceMax<A>},
      {O::kBroadcastSub, &ops::Broadcast<A, &A::Sub>},
      {O::kBroadcastDiv, &ops::Broadcast<A, &ops::Div<A>>},
  };
  KernelTable<A> table{};
  for (const auto& [op, kernel] : entries) table[static_cast<size_t>(op)] = kernel;
  for (const OpInfo& info : AllOps()) {
    if (table[static_cast<size_t>(info.kind)] == nullptr) {
      std::fprintf(stderr, "lemma: the reference evaluator (%s) has no kernel for '%.*s'\n",
                   A::kName.data(), static_cast<int>(info.name.size()), info.name.data());
      std::abort();
    }
  }
  return table;
}

template <typename A>
const KernelTable<A>& Kernels() {
  static const KernelTable<A> table = BuildTable<A>();
  return table;
}

// Builds (and so checks) every domain's table when the program starts.
[[maybe_unused]] const bool kTablesChecked = HasReferenceKernel(OpKind::kInput);

// ---- Evaluation of a graph.

bool IsSource(const Node& n) { return GetOpInfo(n.op).Has(kTraitSource); }

template <typename T>
absl::Status CheckOperand(const Tensor<T>& t, const TensorType& declared, std::string_view what) {
  if (t.type.dims != declared.dims) {
    return Invalid(what, " has dims ", DimsToString(t.type.dims), " but the graph declares ",
                   declared.ToString());
  }
  if (!LayoutFitsRank(t.type.layout, t.type.rank())) {
    return Invalid(what, " has layout ", LayoutName(t.type.layout), ", which does not fit rank ",
                   t.type.rank());
  }
  if (static_cast<int64_t>(t.data.size()) != declared.num_elements()) {
    return Invalid(what, " holds ", t.data.size(), " elements, not ", declared.num_elements());
  }
  return absl::OkStatus();
}

template <typename T>
absl::Status CheckFeeds(const Graph& g,
                        const std::map<std::string, Tensor<T>, std::less<>>& feeds) {
  for (const Node& n : g.nodes()) {
    if (!IsSource(n)) continue;
    const std::string& name = n.names[0];
    auto it = feeds.find(name);
    if (it == feeds.end()) {
      return Invalid("no feed for ", OpName(n.op), " '", name, "' (", n.outputs[0].ToString(), ")");
    }
    absl::Status s = CheckOperand(it->second, n.outputs[0], StrCat("feed '", name, "'"));
    if (!s.ok()) return s;
  }
  for (const auto& [name, tensor] : feeds) {
    std::optional<ValueId> v = g.FindValue(name);
    if (!v || !IsSource(g.node(v->node))) {
      return Invalid("feed '", name, "' names no input or weight of graph '", g.name(), "'");
    }
  }
  return absl::OkStatus();
}

// The values of a running evaluation: each held until its last live user ran.
// Graph outputs are held to the end; feeds are read in place.
template <typename T>
class ValueStore {
 public:
  ValueStore(const Graph& g, const std::vector<bool>& live)
      : owned_(U(g.num_nodes())), view_(U(g.num_nodes())), uses_(U(g.num_nodes())) {
    for (NodeId id = 0; id < g.num_nodes(); ++id) {
      const size_t outputs = g.node(id).outputs.size();
      owned_[U(id)].resize(outputs);
      view_[U(id)].assign(outputs, nullptr);
      uses_[U(id)].assign(outputs, 0);
      if (!live[U(id)]) continue;
      for (ValueId in : g.node(id).inputs) ++Uses(in);
    }
    for (const GraphOutput& o : g.outputs()) ++Uses(o.value);
  }

  const Tensor<T>* Get(ValueId v) const { return view_[U(v.node)][U(v.index)]; }

  // A source's feed, converted when its layout is not the graph's.
  void Feed(NodeId id, const Tensor<T>& feed, const TensorType& declared) {
    if (feed.type.layout == declared.layout) {
      view_[U(id)][0] = &feed;
    } else {
      owned_[U(id)][0] = WithLayout(feed, declared.layout);
      view_[U(id)][0] = &owned_[U(id)][0];
    }
  }

  void Store(NodeId id, std::vector<Tensor<T>> outputs) {
    owned_[U(id)] = std::move(outputs);
    for (size_t j = 0; j < owned_[U(id)].size(); ++j) {
      view_[U(id)][j] = &owned_[U(id)][j];
      if (uses_[U(id)][j] == 0) Free(ValueId{id, static_cast<int32_t>(j)});
    }
  }

  // One use of each of `inputs` is done.
  void Release(std::span<const ValueId> inputs) {
    for (ValueId v : inputs) {
      if (--Uses(v) == 0) Free(v);
    }
  }

 private:
  int& Uses(ValueId v) { return uses_[U(v.node)][U(v.index)]; }
  void Free(ValueId v) {
    owned_[U(v.node)][U(v.index)] = Tensor<T>{};
    view_[U(v.node)][U(v.index)] = nullptr;
  }

  std::vector<std::vector<Tensor<T>>> owned_;
  std::vector<std::vector<const Tensor<T>*>> view_;
  std::vector<std::vector<int>> uses_;
};

}  // namespace

bool HasReferenceKernel(OpKind op) {
  const size_t i = static_cast<size_t>(op);
  return i < U(kNumOpKinds) && Kernels<F64>()[i] != nullptr && Kernels<F32>()[i] != nullptr &&
         Kernels<ModP>()[i] != nullptr;
}

template <typename A>
absl::StatusOr<std::vector<Tensor<typename A::T>>> EvaluateNode(
    const Graph& g, NodeId id, std::span<const Tensor<typename A::T>* const> inputs) {
  if (id < 0 || id >= g.num_nodes()) return Invalid("there is no node ", id);
  const Node& node = g.node(id);
  auto fail = [&](const absl::Status& s) {
    return absl::Status(s.code(), StrCat(g.Describe(id), ": ", s.message()));
  };
  if (inputs.size() != node.inputs.size()) {
    return fail(Invalid("takes ", node.inputs.size(), " input(s), got ", inputs.size()));
  }
  Call<A> call{node.attrs, {}, node.outputs};
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) return fail(Invalid("input ", i, " is missing"));
    absl::Status s = CheckOperand(*inputs[i], g.type(node.inputs[i]), StrCat("input ", i));
    if (!s.ok()) return fail(s);
    call.in.push_back({inputs[i]->type.dims, ToLogical(*inputs[i])});
  }
  Result<A> out = Kernels<A>()[static_cast<size_t>(node.op)](call);
  if (!out.ok()) return fail(out.status());
  std::vector<Tensor<typename A::T>> result;
  for (size_t j = 0; j < node.outputs.size(); ++j) {
    if (j >= out->size() || (*out)[j].size() != U(node.outputs[j].num_elements())) {
      return fail(absl::InternalError(StrCat("kernel output ", j, " has the wrong size")));
    }
    result.push_back(FromLogical(node.outputs[j], std::move((*out)[j])));
  }
  return result;
}

template <typename A>
absl::StatusOr<NamedTensors<A>> Evaluate(const Graph& g, const NamedTensors<A>& feeds) {
  using T = typename A::T;
  if (absl::Status s = CheckFeeds(g, feeds); !s.ok()) return s;
  const std::vector<NodeId> order = g.TopologicalOrder();
  if (order.size() != U(g.num_nodes())) return Invalid("graph '", g.name(), "' has a cycle");
  const std::vector<bool> live = g.LiveNodes();
  ValueStore<T> store(g, live);
  for (NodeId id : order) {
    if (!live[U(id)]) continue;
    const Node& node = g.node(id);
    if (IsSource(node)) {
      store.Feed(id, feeds.find(node.names[0])->second, node.outputs[0]);
      continue;
    }
    std::vector<const Tensor<T>*> args;
    for (ValueId in : node.inputs) args.push_back(store.Get(in));
    absl::StatusOr<std::vector<Tensor<T>>> out = EvaluateNode<A>(g, id, args);
    if (!out.ok()) return out.status();
    store.Store(id, std::move(*out));
    store.Release(node.inputs);
  }
  NamedTensors<A> result;
  for (const GraphOutput& o : g.outputs()) result.emplace(o.name, *store.Get(o.value));
  return result;
}

template absl::StatusOr<std::vector<Tensor<double>>> EvaluateNode<F64>(
    const Graph&, NodeId, std::span<const Tensor<double>* const>);
template absl::StatusOr<std::vector<Tensor<float>>> EvaluateNode<F32>(
    const Graph&, NodeId, std::span<const Tensor<float>* const>);
template absl::StatusOr<std::vector<Tensor<uint64_t>>> EvaluateNode<ModP>(
    const Graph&, NodeId, std::span<const Tensor<uint64_t>* const>);
template absl::StatusOr<NamedTensors<F64>> Evaluate<F64>(const Graph&, const NamedTensors<F64>&);
template absl::StatusOr<NamedTensors<F32>> Evaluate<F32>(const Graph&, const NamedTensors<F32>&);
template absl::StatusOr<NamedTensors<ModP>> Evaluate<ModP>(const Graph&, const NamedTensors<ModP>&);

}  // namespace lemma
