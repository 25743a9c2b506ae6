#include "ir/onnx_fold.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "ir/onnx_util.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"

namespace lemma {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using Ints = std::vector<int64_t>;

template <typename... Args>
absl::Status Err(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

constexpr std::array<std::string_view, 20> kFoldOnly = {
    "Abs",     "Cast",   "Ceil",  "ConstantOfShape",
    "Equal",   "Expand", "Floor", "Gather",
    "Greater", "Less",   "Max",   "Min",
    "Neg",     "Not",    "Range", "Reciprocal",
    "Shape",   "Size",   "Sqrt",  "Where",
};
constexpr std::array<std::string_view, 11> kAlsoMapped = {
    "Add",   "Concat",  "Div", "Identity",  "Mul",     "Reshape",
    "Slice", "Squeeze", "Sub", "Unsqueeze", "Flatten",
};

// A tensor being folded: integers (i64, also booleans as 0/1) or floats (f32
// or f64, held as double).
struct Arr {
  DType dtype = DType::kI64;
  Dims dims;
  Ints i;
  std::vector<double> f;

  bool IsInt() const { return dtype == DType::kI64; }
  int64_t size() const {
    return IsInt() ? static_cast<int64_t>(i.size()) : static_cast<int64_t>(f.size());
  }
};

Arr FromValue(const WeightValue& v) {
  Arr a;
  a.dtype = v.type.dtype;
  a.dims = v.type.dims;
  if (a.IsInt()) {
    a.i = std::get<std::vector<int64_t>>(v.data);
  } else {
    a.f = v.ToDoubles();
  }
  return a;
}

WeightValue ToValue(Arr a) {
  switch (a.dtype) {
    case DType::kI64:
      return WeightValue::Of(std::move(a.dims), std::move(a.i));
    case DType::kF64:
      return WeightValue::Of(std::move(a.dims), std::move(a.f));
    case DType::kF32:
      break;
  }
  std::vector<float> f(a.f.begin(), a.f.end());
  return WeightValue::Of(std::move(a.dims), std::move(f));
}

// Copies element `from` of `src` to the end of `dst` (same kind).
void Push(Arr& dst, const Arr& src, int64_t from) {
  if (src.IsInt()) {
    dst.i.push_back(src.i[static_cast<size_t>(from)]);
  } else {
    dst.f.push_back(src.f[static_cast<size_t>(from)]);
  }
}

Arr Like(const Arr& a, Dims dims) {
  Arr out;
  out.dtype = a.dtype;
  out.dims = std::move(dims);
  return out;
}

absl::StatusOr<int64_t> CountOf(std::span<const int64_t> dims, int64_t max_elements) {
  if (dims.size() > 32) return Err("the result would have rank ", dims.size(), ", over 32");
  absl::StatusOr<int64_t> n = CheckedNumElements(dims, max_elements);
  if (!n.ok()) return Err("the result ", DimsToString(dims), ": ", n.status().message());
  return n;
}

// Row-major strides of `dims`.
Ints Strides(std::span<const int64_t> dims) {
  Ints s(dims.size(), 1);
  for (size_t k = dims.size(); k-- > 1;) s[k - 1] = s[k] * dims[k];
  return s;
}

// For each element of `out` dims, the index of the element of `in` (broadcast
// to `out`, numpy style) it reads.
Ints BroadcastSources(std::span<const int64_t> in, std::span<const int64_t> out) {
  const int64_t count = NumElements(out);
  const size_t shift = out.size() - in.size();
  const Ints in_strides = Strides(in);
  Ints src(static_cast<size_t>(count));
  Ints index(out.size(), 0);
  for (int64_t e = 0; e < count; ++e) {
    int64_t s = 0;
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k] != 1) s += index[k + shift] * in_strides[k];
    }
    src[static_cast<size_t>(e)] = s;
    for (size_t k = out.size(); k-- > 0;) {
      if (++index[k] < out[k]) break;
      index[k] = 0;
    }
  }
  return src;
}

absl::StatusOr<Arr> Input(std::span<const WeightValue* const> in, size_t i, std::string_view what) {
  if (i >= in.size() || in[i] == nullptr) return Err(what, " (input ", i, ") is required");
  return FromValue(*in[i]);
}

absl::StatusOr<Ints> IntsOf(std::span<const WeightValue* const> in, size_t i,
                            std::string_view what) {
  absl::StatusOr<Arr> a = Input(in, i, what);
  if (!a.ok()) return a.status();
  if (!a->IsInt()) return Err(what, " must hold integers");
  if (a->dims.size() > 1)
    return Err(what, " must be a scalar or a list, got ", DimsToString(a->dims));
  return a->i;
}

absl::StatusOr<int64_t> IntAttr(const NodeProto& n, std::string_view name, int64_t fallback) {
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() != name) continue;
    if (a.type() != AttributeProto::INT) return Err("attribute '", name, "' must be an integer");
    return a.i();
  }
  return fallback;
}

absl::StatusOr<std::optional<Ints>> IntsAttr(const NodeProto& n, std::string_view name) {
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() != name) continue;
    if (a.type() != AttributeProto::INTS) return Err("attribute '", name, "' must be integers");
    return std::optional<Ints>(Ints(a.ints().begin(), a.ints().end()));
  }
  return std::optional<Ints>();
}

// ---- Elementwise ops, with broadcasting.

using IntFn = std::function<absl::StatusOr<int64_t>(int64_t, int64_t)>;
using FloatFn = std::function<double(double, double)>;

absl::StatusOr<Arr> Binary(const Arr& a, const Arr& b, const IntFn& fi, const FloatFn& ff,
                           bool to_bool, int64_t max_elements) {
  absl::StatusOr<Dims> dims = BroadcastDims(a.dims, b.dims);
  if (!dims.ok()) return dims.status();
  if (absl::StatusOr<int64_t> n = CountOf(*dims, max_elements); !n.ok()) return n.status();
  const Ints sa = BroadcastSources(a.dims, *dims), sb = BroadcastSources(b.dims, *dims);
  const bool ints = a.IsInt() && b.IsInt();
  if (!ints && a.dtype != b.dtype && !to_bool) {
    return Err("operands of types ", DTypeName(a.dtype), " and ", DTypeName(b.dtype), " differ");
  }
  Arr out;
  out.dtype = ints || to_bool ? DType::kI64 : a.dtype;
  out.dims = *dims;
  for (size_t e = 0; e < sa.size(); ++e) {
    if (ints) {
      absl::StatusOr<int64_t> v =
          fi(a.i[static_cast<size_t>(sa[e])], b.i[static_cast<size_t>(sb[e])]);
      if (!v.ok()) return v.status();
      out.i.push_back(*v);
    } else {
      const double x = a.IsInt() ? static_cast<double>(a.i[static_cast<size_t>(sa[e])])
                                 : a.f[static_cast<size_t>(sa[e])];
      const double y = b.IsInt() ? static_cast<double>(b.i[static_cast<size_t>(sb[e])])
                                 : b.f[static_cast<size_t>(sb[e])];
      const double r = ff(x, y);
      if (to_bool) {
        out.i.push_back(r != 0 ? 1 : 0);
      } else {
        out.f.push_back(r);
      }
    }
  }
  return out;
}

absl::StatusOr<Arr> Arithmetic(std::string_view op, const Arr& a, const Arr& b, int64_t max) {
  IntFn fi;
  FloatFn ff;
  bool to_bool = false;
  if (op == "Add") {
    fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> {
      int64_t r;
      if (__builtin_add_overflow(x, y, &r)) return Err("integer overflow in ", x, " + ", y);
      return r;
    };
    ff = [](double x, double y) { return x + y; };
  } else if (op == "Sub") {
    fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> {
      int64_t r;
      if (__builtin_sub_overflow(x, y, &r)) return Err("integer overflow in ", x, " - ", y);
      return r;
    };
    ff = [](double x, double y) { return x - y; };
  } else if (op == "Mul") {
    fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> {
      int64_t r;
      if (__builtin_mul_overflow(x, y, &r)) return Err("integer overflow in ", x, " * ", y);
      return r;
    };
    ff = [](double x, double y) { return x * y; };
  } else if (op == "Div") {
    fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> {
      if (y == 0) return Err("integer division by zero");
      if (x == std::numeric_limits<int64_t>::min() && y == -1)
        return Err("integer overflow in division");
      return x / y;
    };
    ff = [](double x, double y) { return x / y; };
  } else if (op == "Max" || op == "Min") {
    const bool max_op = op == "Max";
    fi = [max_op](int64_t x, int64_t y) -> absl::StatusOr<int64_t> {
      return max_op ? std::max(x, y) : std::min(x, y);
    };
    ff = [max_op](double x, double y) { return max_op ? std::max(x, y) : std::min(x, y); };
  } else {
    to_bool = true;
    if (op == "Equal") {
      fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> { return x == y ? 1 : 0; };
      ff = [](double x, double y) { return x == y ? 1.0 : 0.0; };
    } else if (op == "Less") {
      fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> { return x < y ? 1 : 0; };
      ff = [](double x, double y) { return x < y ? 1.0 : 0.0; };
    } else {
      fi = [](int64_t x, int64_t y) -> absl::StatusOr<int64_t> { return x > y ? 1 : 0; };
      ff = [](double x, double y) { return x > y ? 1.0 : 0.0; };
    }
  }
  return Binary(a, b, fi, ff, to_bool, max);
}

absl::StatusOr<Arr> Where(const Arr& c, const Arr& a, const Arr& b, int64_t max) {
  if (!c.IsInt()) return Err("the condition must be boolean");
  if (a.dtype != b.dtype)
    return Err("the branches' types ", DTypeName(a.dtype), " and ", DTypeName(b.dtype), " differ");
  absl::StatusOr<Dims> ab = BroadcastDims(a.dims, b.dims);
  if (!ab.ok()) return ab.status();
  absl::StatusOr<Dims> dims = BroadcastDims(c.dims, *ab);
  if (!dims.ok()) return dims.status();
  if (absl::StatusOr<int64_t> n = CountOf(*dims, max); !n.ok()) return n.status();
  const Ints sc = BroadcastSources(c.dims, *dims), sa = BroadcastSources(a.dims, *dims),
             sb = BroadcastSources(b.dims, *dims);
  Arr out = Like(a, *dims);
  for (size_t e = 0; e < sc.size(); ++e) {
    if (c.i[static_cast<size_t>(sc[e])] != 0) {
      Push(out, a, sa[e]);
    } else {
      Push(out, b, sb[e]);
    }
  }
  return out;
}

absl::StatusOr<Arr> Unary(std::string_view op, Arr a) {
  const bool float_op = op == "Sqrt" || op == "Reciprocal";
  if (a.IsInt() && !float_op) {
    for (int64_t& x : a.i) {
      if (op == "Not") {
        x = x == 0 ? 1 : 0;
        continue;
      }
      if (op == "Floor" || op == "Ceil") continue;
      if (x == std::numeric_limits<int64_t>::min()) return Err("integer overflow in ", op);
      x = op == "Neg" ? -x : std::abs(x);
    }
    return a;
  }
  if (a.IsInt()) return Err(op, " takes floats");
  if (op == "Not") return Err("Not takes booleans");
  for (double& x : a.f) {
    if (op == "Neg") {
      x = -x;
    } else if (op == "Abs") {
      x = std::fabs(x);
    } else if (op == "Floor") {
      x = std::floor(x);
    } else if (op == "Ceil") {
      x = std::ceil(x);
    } else if (op == "Sqrt") {
      x = std::sqrt(x);
    } else {
      x = 1.0 / x;
    }
  }
  if (a.dtype == DType::kF32) {
    for (double& x : a.f) x = static_cast<double>(static_cast<float>(x));
  }
  return a;
}

// ---- Data movement.

absl::StatusOr<DType> CastTarget(int64_t to) {
  switch (to) {
    case onnx::TensorProto::FLOAT:
      return DType::kF32;
    case onnx::TensorProto::DOUBLE:
      return DType::kF64;
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
    case onnx::TensorProto::UINT16:
    case onnx::TensorProto::UINT32:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::BOOL:
      return DType::kI64;
    default:
      break;
  }
  return Err("Cast to ONNX element type ", to,
             " is not supported (lemma folds casts to float, "
             "double, integers and bool)");
}

absl::StatusOr<Arr> Cast(const NodeProto& n, Arr a) {
  absl::StatusOr<int64_t> to = IntAttr(n, "to", -1);
  if (!to.ok()) return to.status();
  absl::StatusOr<DType> dtype = CastTarget(*to);
  if (!dtype.ok()) return dtype.status();
  const bool to_bool = *to == onnx::TensorProto::BOOL;
  if (*dtype == DType::kI64) {
    if (!a.IsInt()) {
      for (double x : a.f) {
        if (!std::isfinite(x) || std::fabs(x) >= 9.2e18)
          return Err("Cast of ", x, " to an integer overflows");
        a.i.push_back(to_bool ? (x != 0 ? 1 : 0) : static_cast<int64_t>(x));
      }
      a.f.clear();
    } else if (to_bool) {
      for (int64_t& x : a.i) x = x != 0 ? 1 : 0;
    }
  } else if (a.IsInt()) {
    for (int64_t x : a.i) a.f.push_back(static_cast<double>(x));
    a.i.clear();
  }
  if (*dtype == DType::kF32) {
    for (double& x : a.f) x = static_cast<double>(static_cast<float>(x));
  }
  a.dtype = *dtype;
  return a;
}

absl::StatusOr<Arr> Reshaped(Arr a, const Ints& shape, bool allow_zero) {
  Dims dims;
  int infer = -1;
  int64_t known = 1;
  for (size_t k = 0; k < shape.size(); ++k) {
    int64_t d = shape[k];
    if (d == 0 && !allow_zero) {
      if (k >= a.dims.size())
        return Err("shape ", DimsToString(shape), " copies a dimension the input lacks");
      d = a.dims[k];
    }
    if (d == -1) {
      if (infer >= 0) return Err("shape ", DimsToString(shape), " has two -1");
      infer = static_cast<int>(k);
      d = 1;
    } else if (d < 0) {
      return Err("shape ", DimsToString(shape), " has a negative dimension");
    }
    if (__builtin_mul_overflow(known, d, &known))
      return Err("shape ", DimsToString(shape), " overflows");
    dims.push_back(d);
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      return Err("shape ", DimsToString(shape), " does not fit ", a.size(), " elements");
    }
    dims[static_cast<size_t>(infer)] = a.size() / known;
    known = a.size();
  }
  if (known != a.size())
    return Err("shape ", DimsToString(shape), " does not fit ", a.size(), " elements");
  a.dims = std::move(dims);
  return a;
}

absl::StatusOr<Arr> SqueezeOrUnsqueeze(Arr a, const std::optional<Ints>& axes, bool unsqueeze) {
  Dims out;
  if (unsqueeze) {
    if (!axes) return Err("axes are required");
    const int rank = static_cast<int>(a.dims.size() + axes->size());
    if (rank > 32) return Err("the result would have rank ", rank, ", over 32");
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int64_t ax : *axes) {
      absl::StatusOr<int> k = NormalizeAxis(ax, rank);
      if (!k.ok()) return k.status();
      if (inserted[static_cast<size_t>(*k)]) return Err("axis ", ax, " is repeated");
      inserted[static_cast<size_t>(*k)] = true;
    }
    size_t next = 0;
    for (int k = 0; k < rank; ++k)
      out.push_back(inserted[static_cast<size_t>(k)] ? 1 : a.dims[next++]);
  } else {
    std::vector<bool> removed(a.dims.size(), false);
    if (axes) {
      for (int64_t ax : *axes) {
        absl::StatusOr<int> k = NormalizeAxis(ax, static_cast<int>(a.dims.size()));
        if (!k.ok()) return k.status();
        if (a.dims[static_cast<size_t>(*k)] != 1) return Err("axis ", ax, " does not have size 1");
        removed[static_cast<size_t>(*k)] = true;
      }
    } else {
      for (size_t k = 0; k < a.dims.size(); ++k) removed[k] = a.dims[k] == 1;
    }
    for (size_t k = 0; k < a.dims.size(); ++k) {
      if (!removed[k]) out.push_back(a.dims[k]);
    }
  }
  a.dims = std::move(out);
  return a;
}

absl::StatusOr<Arr> Concat(const NodeProto& n, std::span<const WeightValue* const> in,
                           int64_t max) {
  if (in.empty()) return Err("Concat needs an input");
  std::vector<Arr> parts;
  for (size_t k = 0; k < in.size(); ++k) {
    absl::StatusOr<Arr> a = Input(in, k, "an operand");
    if (!a.ok()) return a.status();
    parts.push_back(*std::move(a));
  }
  absl::StatusOr<int64_t> axis_attr = IntAttr(n, "axis", std::numeric_limits<int64_t>::min());
  if (!axis_attr.ok()) return axis_attr.status();
  if (*axis_attr == std::numeric_limits<int64_t>::min()) return Err("attribute 'axis' is required");
  const Arr& first = parts[0];
  absl::StatusOr<int> axis = NormalizeAxis(*axis_attr, static_cast<int>(first.dims.size()));
  if (!axis.ok()) return axis.status();
  const size_t ax = static_cast<size_t>(*axis);
  Dims dims = first.dims;
  dims[ax] = 0;
  for (const Arr& p : parts) {
    if (p.dtype != first.dtype || p.dims.size() != first.dims.size())
      return Err("operands differ in type or rank");
    for (size_t k = 0; k < dims.size(); ++k) {
      if (k != ax && p.dims[k] != first.dims[k]) return Err("operands differ in dimension ", k);
    }
    dims[ax] += p.dims[ax];
  }
  if (absl::StatusOr<int64_t> c = CountOf(dims, max); !c.ok()) return c.status();
  const int64_t outer = NumElements(std::span(dims).first(ax));
  const int64_t inner = NumElements(std::span(dims).subspan(ax + 1));
  Arr out = Like(first, dims);
  for (int64_t o = 0; o < outer; ++o) {
    for (const Arr& p : parts) {
      const int64_t block = p.dims[ax] * inner;
      for (int64_t e = 0; e < block; ++e) Push(out, p, o * block + e);
    }
  }
  return out;
}

absl::StatusOr<Arr> Gather(const NodeProto& n, const Arr& data, const Arr& indices, int64_t max) {
  if (!indices.IsInt()) return Err("indices must be integers");
  absl::StatusOr<int64_t> axis_attr = IntAttr(n, "axis", 0);
  if (!axis_attr.ok()) return axis_attr.status();
  absl::StatusOr<int> axis = NormalizeAxis(*axis_attr, static_cast<int>(data.dims.size()));
  if (!axis.ok()) return axis.status();
  const size_t ax = static_cast<size_t>(*axis);
  Dims dims(data.dims.begin(), data.dims.begin() + static_cast<ptrdiff_t>(ax));
  dims.insert(dims.end(), indices.dims.begin(), indices.dims.end());
  dims.insert(dims.end(), data.dims.begin() + static_cast<ptrdiff_t>(ax) + 1, data.dims.end());
  if (absl::StatusOr<int64_t> c = CountOf(dims, max); !c.ok()) return c.status();
  const int64_t outer = NumElements(std::span(data.dims).first(ax));
  const int64_t inner = NumElements(std::span(data.dims).subspan(ax + 1));
  const int64_t extent = data.dims[ax];
  Arr out = Like(data, dims);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t idx : indices.i) {
      const int64_t k = idx < 0 ? idx + extent : idx;
      if (k < 0 || k >= extent)
        return Err("index ", idx, " is out of range for dimension ", extent);
      for (int64_t e = 0; e < inner; ++e) Push(out, data, (o * extent + k) * inner + e);
    }
  }
  return out;
}

absl::StatusOr<Arr> Slice(std::span<const WeightValue* const> in, const Arr& data) {
  absl::StatusOr<Ints> starts = IntsOf(in, 1, "starts");
  if (!starts.ok()) return starts.status();
  absl::StatusOr<Ints> ends = IntsOf(in, 2, "ends");
  if (!ends.ok()) return ends.status();
  const int rank = static_cast<int>(data.dims.size());
  Ints axes, steps(starts->size(), 1);
  if (in.size() > 3 && in[3] != nullptr) {
    absl::StatusOr<Ints> a = IntsOf(in, 3, "axes");
    if (!a.ok()) return a.status();
    axes = *a;
  } else {
    for (size_t k = 0; k < starts->size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  if (in.size() > 4 && in[4] != nullptr) {
    absl::StatusOr<Ints> s = IntsOf(in, 4, "steps");
    if (!s.ok()) return s.status();
    steps = *s;
  }
  if (ends->size() != starts->size() || axes.size() != starts->size() ||
      steps.size() != starts->size()) {
    return Err("starts, ends, axes and steps must have the same length");
  }
  // Per dimension: first index, step, count.
  Ints first(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1), count = data.dims;
  for (size_t k = 0; k < starts->size(); ++k) {
    absl::StatusOr<int> a = NormalizeAxis(axes[k], rank);
    if (!a.ok()) return a.status();
    const size_t d = static_cast<size_t>(*a);
    const int64_t dim = data.dims[d], st = steps[k];
    if (st == 0) return Err("a step is 0");
    auto norm = [dim](int64_t v) { return v < 0 ? (v < -dim ? -dim - 1 : v + dim) : v; };
    int64_t s = norm((*starts)[k]), e = norm((*ends)[k]);
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count[d] = e > s ? 1 + (e - s - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count[d] = s > e ? 1 + (s - e - 1) / -std::max(st, -dim - 1) : 0;
    }
    first[d] = s;
    step[d] = st;
  }
  Arr out = Like(data, count);
  const int64_t total = NumElements(count);
  const Ints strides = Strides(data.dims);
  Ints index(static_cast<size_t>(rank), 0);
  for (int64_t e = 0; e < total; ++e) {
    int64_t src = 0;
    for (size_t d = 0; d < index.size(); ++d) src += (first[d] + index[d] * step[d]) * strides[d];
    Push(out, data, src);
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < count[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

absl::StatusOr<Arr> ConstantOfShape(const NodeProto& n, const Ints& shape, int64_t max) {
  if (absl::StatusOr<int64_t> c = CountOf(shape, max); !c.ok()) return c.status();
  Arr fill;
  fill.dtype = DType::kF32;
  fill.f = {0.0};
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() != "value") continue;
    if (a.type() != AttributeProto::TENSOR) return Err("attribute 'value' must be a tensor");
    absl::StatusOr<WeightValue> v = DecodeTensor(a.t(), 1);
    if (!v.ok()) return Err("attribute 'value': ", v.status().message());
    if (v->size() != 1) return Err("attribute 'value' must hold one element");
    fill = FromValue(*v);
  }
  Arr out = Like(fill, shape);
  const int64_t count = NumElements(shape);
  for (int64_t e = 0; e < count; ++e) Push(out, fill, 0);
  return out;
}

absl::StatusOr<Arr> Range(const Arr& start, const Arr& limit, const Arr& delta, int64_t max) {
  if (start.size() != 1 || limit.size() != 1 || delta.size() != 1)
    return Err("start, limit and delta must be scalars");
  if (start.dtype != limit.dtype || start.dtype != delta.dtype)
    return Err("start, limit and delta differ in type");
  Arr out = Like(start, {});
  if (start.IsInt()) {
    const int64_t s = start.i[0], l = limit.i[0], d = delta.i[0];
    if (d == 0) return Err("delta is 0");
    const double n =
        std::ceil((static_cast<double>(l) - static_cast<double>(s)) / static_cast<double>(d));
    const int64_t count = n > 0 ? static_cast<int64_t>(std::min(n, 9e18)) : 0;
    if (count > max) return Err("the range has more than ", max, " elements");
    for (int64_t k = 0, v = s; k < count; ++k) {
      out.i.push_back(v);
      if (__builtin_add_overflow(v, d, &v) && k + 1 < count) return Err("the range overflows");
    }
    out.dims = {count};
    return out;
  }
  const double s = start.f[0], l = limit.f[0], d = delta.f[0];
  if (d == 0 || !std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d))
    return Err("a bad range");
  const double n = std::ceil((l - s) / d);
  const int64_t count = n > 0 ? static_cast<int64_t>(std::min(n, 9e18)) : 0;
  if (count > max) return Err("the range has more than ", max, " elements");
  for (int64_t k = 0; k < count; ++k) out.f.push_back(s + static_cast<double>(k) * d);
  out.dims = {count};
  return out;
}

absl::StatusOr<Arr> Expand(const Arr& data, const Ints& shape, int64_t max) {
  absl::StatusOr<Dims> dims = BroadcastDims(data.dims, shape);
  if (!dims.ok()) return dims.status();
  if (absl::StatusOr<int64_t> c = CountOf(*dims, max); !c.ok()) return c.status();
  Arr out = Like(data, *dims);
  for (int64_t s : BroadcastSources(data.dims, *dims)) Push(out, data, s);
  return out;
}

absl::StatusOr<std::optional<Ints>> AxesOf(const NodeProto& n, int64_t opset,
                                           std::span<const WeightValue* const> in) {
  if (opset >= 13) {
    if (in.size() < 2 || in[1] == nullptr) return std::optional<Ints>();
    absl::StatusOr<Ints> axes = IntsOf(in, 1, "axes");
    if (!axes.ok()) return axes.status();
    return std::optional<Ints>(*axes);
  }
  return IntsAttr(n, "axes");
}

absl::StatusOr<Arr> Fold(const NodeProto& n, int64_t opset, std::span<const WeightValue* const> in,
                         int64_t max) {
  const std::string& op = n.op_type();
  absl::StatusOr<Arr> x = Input(in, 0, "the input");
  if (!x.ok()) return x.status();
  if (op == "Identity") return x;
  if (op == "Cast") return Cast(n, *std::move(x));
  if (op == "Neg" || op == "Abs" || op == "Not" || op == "Floor" || op == "Ceil" || op == "Sqrt" ||
      op == "Reciprocal") {
    return Unary(op, *std::move(x));
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Equal" || op == "Less" ||
      op == "Greater" || op == "Max" || op == "Min") {
    if (op == "Max" || op == "Min") {
      Arr acc = *x;
      for (size_t k = 1; k < in.size(); ++k) {
        absl::StatusOr<Arr> y = Input(in, k, "an operand");
        if (!y.ok()) return y.status();
        absl::StatusOr<Arr> r = Arithmetic(op, acc, *y, max);
        if (!r.ok()) return r.status();
        acc = *std::move(r);
      }
      return acc;
    }
    absl::StatusOr<Arr> y = Input(in, 1, "the second operand");
    if (!y.ok()) return y.status();
    if (!(x->IsInt() && y->IsInt()) && x->dtype != y->dtype && op != "Equal" && op != "Less" &&
        op != "Greater") {
      return Err("operands of types ", DTypeName(x->dtype), " and ", DTypeName(y->dtype),
                 " differ");
    }
    return Arithmetic(op, *x, *y, max);
  }
  if (op == "Where") {
    absl::StatusOr<Arr> a = Input(in, 1, "X");
    if (!a.ok()) return a.status();
    absl::StatusOr<Arr> b = Input(in, 2, "Y");
    if (!b.ok()) return b.status();
    return Where(*x, *a, *b, max);
  }
  if (op == "Reshape") {
    absl::StatusOr<Ints> shape = IntsOf(in, 1, "shape");
    if (!shape.ok()) return shape.status();
    absl::StatusOr<int64_t> allow_zero = IntAttr(n, "allowzero", 0);
    if (!allow_zero.ok()) return allow_zero.status();
    return Reshaped(*std::move(x), *shape, *allow_zero != 0);
  }
  if (op == "Flatten") {
    absl::StatusOr<int64_t> axis = IntAttr(n, "axis", 1);
    if (!axis.ok()) return axis.status();
    const int64_t rank = static_cast<int64_t>(x->dims.size());
    if (*axis < -rank || *axis > rank) return Err("axis ", *axis, " is out of range");
    const size_t a = static_cast<size_t>(*axis < 0 ? *axis + rank : *axis);
    return Reshaped(
        *x, {NumElements(std::span(x->dims).first(a)), NumElements(std::span(x->dims).subspan(a))},
        true);
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    absl::StatusOr<std::optional<Ints>> axes = AxesOf(n, opset, in);
    if (!axes.ok()) return axes.status();
    return SqueezeOrUnsqueeze(*std::move(x), *axes, op == "Unsqueeze");
  }
  if (op == "Concat") return Concat(n, in, max);
  if (op == "Gather") {
    absl::StatusOr<Arr> indices = Input(in, 1, "indices");
    if (!indices.ok()) return indices.status();
    return Gather(n, *x, *indices, max);
  }
  if (op == "Slice") return Slice(in, *x);
  if (op == "ConstantOfShape") {
    absl::StatusOr<Ints> shape = IntsOf(in, 0, "the shape");
    if (!shape.ok()) return shape.status();
    return ConstantOfShape(n, *shape, max);
  }
  if (op == "Range") {
    absl::StatusOr<Arr> limit = Input(in, 1, "limit");
    if (!limit.ok()) return limit.status();
    absl::StatusOr<Arr> delta = Input(in, 2, "delta");
    if (!delta.ok()) return delta.status();
    return Range(*x, *limit, *delta, max);
  }
  if (op == "Expand") {
    absl::StatusOr<Ints> shape = IntsOf(in, 1, "shape");
    if (!shape.ok()) return shape.status();
    return Expand(*x, *shape, max);
  }
  return Err("op '", op, "' is not folded");
}

}  // namespace

bool IsFoldOnlyOnnxOp(std::string_view op_type) {
  return std::find(kFoldOnly.begin(), kFoldOnly.end(), op_type) != kFoldOnly.end();
}

bool IsFoldableOnnxOp(std::string_view op_type) {
  return IsFoldOnlyOnnxOp(op_type) ||
         std::find(kAlsoMapped.begin(), kAlsoMapped.end(), op_type) != kAlsoMapped.end();
}

absl::StatusOr<WeightValue> FoldShapeOf(const NodeProto& n, std::span<const int64_t> dims) {
  if (n.op_type() == "Size") return WeightValue::Of({}, Ints{NumElements(dims)});
  const int64_t rank = static_cast<int64_t>(dims.size());
  absl::StatusOr<int64_t> start = IntAttr(n, "start", 0);
  if (!start.ok()) return start.status();
  absl::StatusOr<int64_t> end = IntAttr(n, "end", rank);
  if (!end.ok()) return end.status();
  auto clamp = [rank](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
  const int64_t s = clamp(*start), e = std::max(s, clamp(*end));
  Ints out(dims.begin() + s, dims.begin() + e);
  const int64_t count = static_cast<int64_t>(out.size());
  return WeightValue::Of({count}, std::move(out));
}

absl::StatusOr<WeightValue> FoldOnnxNode(const NodeProto& n, int64_t opset,
                                         std::span<const WeightValue* const> inputs,
                                         int64_t max_elements) {
  absl::StatusOr<Arr> out = Fold(n, opset, inputs, max_elements);
  if (!out.ok()) return out.status();
  return ToValue(*std::move(out));
}

}  // namespace lemma
