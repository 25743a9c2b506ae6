#include "ir/builder.h"

#include <cstdio>
#include <cstdlib>

#include "ir/strings.h"

namespace lemma {
namespace {

using Ints = std::vector<int64_t>;

// Sets attributes whose names and kinds are fixed by this file; a failure is a
// bug in the builder, not a user error.
Attributes Attrs(OpKind op, std::initializer_list<std::pair<std::string_view, AttrValue>> values) {
  Attributes a(op);
  for (const auto& [name, value] : values) {
    if (absl::Status s = a.Set(name, value); !s.ok()) {
      std::fprintf(stderr, "lemma: internal error: %s\n", std::string(s.message()).c_str());
      std::abort();
    }
  }
  return a;
}

template <size_t N>
Ints ToInts(const std::array<int64_t, N>& a) {
  return Ints(a.begin(), a.end());
}

int64_t Enum(auto e) { return static_cast<int64_t>(e); }

}  // namespace

GraphBuilder::GraphBuilder(std::string name) : graph_(std::move(name)) {}

void GraphBuilder::Fail(const absl::Status& s, std::string_view context) {
  if (status_.ok()) status_ = absl::Status(s.code(), StrCat(context, ": ", s.message()));
}

bool GraphBuilder::Usable(const std::vector<Value>& inputs) const {
  if (!status_.ok()) return false;
  for (Value v : inputs) {
    if (!v.valid()) return false;
  }
  return true;
}

Value GraphBuilder::Input(std::string name, DType dtype, Dims dims) {
  if (!status_.ok()) return {};
  absl::StatusOr<Value> v = graph_.AddInput(name, TensorType::Make(dtype, std::move(dims)));
  if (!v.ok()) Fail(v.status(), StrCat("input '", name, "'"));
  return v.value_or(Value{});
}

Value GraphBuilder::Weight(std::string name, DType dtype, Dims dims) {
  if (!status_.ok()) return {};
  if (name.empty()) {
    do {
      name = StrCat("w", next_weight_++);
    } while (graph_.FindValue(name));
  }
  absl::StatusOr<Value> v = graph_.AddWeight(name, TensorType::Make(dtype, std::move(dims)));
  if (!v.ok()) Fail(v.status(), StrCat("weight '", name, "'"));
  return v.value_or(Value{});
}

std::vector<Value> GraphBuilder::Op(OpKind op, const std::vector<Value>& inputs,
                                    Attributes attrs) {
  if (!Usable(inputs)) return {};
  absl::StatusOr<NodeId> id = graph_.AddNode(op, std::move(attrs), inputs);
  if (!id.ok()) {
    Fail(id.status(), StrCat("node ", graph_.num_nodes()));
    return {};
  }
  std::vector<Value> out;
  for (size_t i = 0; i < graph_.node(*id).outputs.size(); ++i) {
    out.push_back(Value{*id, static_cast<int32_t>(i)});
  }
  return out;
}

Value GraphBuilder::Single(OpKind op, const std::vector<Value>& inputs, Attributes attrs) {
  std::vector<Value> out = Op(op, inputs, std::move(attrs));
  return out.empty() ? Value{} : out[0];
}

Value GraphBuilder::MatMul(Value a, Value b, Activation activation) {
  return Single(OpKind::kMatMul, {a, b}, Attrs(OpKind::kMatMul, {{"activation", Enum(activation)}}));
}

Value GraphBuilder::Conv2d(Value x, Value w, const Conv2dOptions& o) {
  return Single(OpKind::kConv2d, {x, w},
                Attrs(OpKind::kConv2d, {{"stride", ToInts(o.stride)},
                                        {"padding", Enum(o.padding)},
                                        {"pads", ToInts(o.pads)},
                                        {"dilation", ToInts(o.dilation)},
                                        {"groups", o.groups},
                                        {"activation", Enum(o.activation)}}));
}

Value GraphBuilder::Conv2d(Value x, int64_t out_channels, std::array<int64_t, 2> kernel,
                           const Conv2dOptions& options) {
  if (!Usable({x})) return {};
  const TensorType& t = type(x);
  if (t.rank() != 4 || options.groups < 1) {
    Fail(absl::InvalidArgumentError(StrCat("input ", t.ToString(),
                                                 " must have rank 4 and groups ",
                                                 options.groups, " must be positive")),
         StrCat("conv2d at node ", graph_.num_nodes()));
    return {};
  }
  const Value w = Weight("", t.dtype, {out_channels, t.dim(1) / options.groups, kernel[0], kernel[1]});
  return Conv2d(x, w, options);
}

Value GraphBuilder::Dense(Value x, int64_t out_features, Activation activation) {
  if (!Usable({x})) return {};
  const TensorType& t = type(x);
  const int64_t k = t.rank() == 0 ? 0 : t.dims.back();
  return MatMul(x, Weight("", t.dtype, {k, out_features}), activation);
}

Value GraphBuilder::EwAdd(Value a, Value b) { return Single(OpKind::kEwAdd, {a, b}, Attributes(OpKind::kEwAdd)); }
Value GraphBuilder::EwMul(Value a, Value b) { return Single(OpKind::kEwMul, {a, b}, Attributes(OpKind::kEwMul)); }
Value GraphBuilder::ScalarMul(Value x, Value s) {
  return Single(OpKind::kScalarMul, {x, s}, Attributes(OpKind::kScalarMul));
}
Value GraphBuilder::Relu(Value x) { return Single(OpKind::kRelu, {x}, Attributes(OpKind::kRelu)); }
Value GraphBuilder::Sigmoid(Value x) { return Single(OpKind::kSigmoid, {x}, Attributes(OpKind::kSigmoid)); }
Value GraphBuilder::Tanh(Value x) { return Single(OpKind::kTanh, {x}, Attributes(OpKind::kTanh)); }
Value GraphBuilder::Gelu(Value x) { return Single(OpKind::kGelu, {x}, Attributes(OpKind::kGelu)); }

Value GraphBuilder::AvgPool2d(Value x, const Pool2dOptions& o) {
  return Single(OpKind::kAvgPool2d, {x},
                Attrs(OpKind::kAvgPool2d, {{"kernel", ToInts(o.kernel)},
                                           {"stride", ToInts(o.stride)},
                                           {"padding", Enum(o.padding)},
                                           {"pads", ToInts(o.pads)},
                                           {"count_include_pad", int64_t{o.count_include_pad}}}));
}

Value GraphBuilder::MaxPool2d(Value x, const Pool2dOptions& o) {
  return Single(OpKind::kMaxPool2d, {x},
                Attrs(OpKind::kMaxPool2d, {{"kernel", ToInts(o.kernel)},
                                           {"stride", ToInts(o.stride)},
                                           {"padding", Enum(o.padding)},
                                           {"pads", ToInts(o.pads)}}));
}

Value GraphBuilder::Concat(const std::vector<Value>& inputs, int64_t axis) {
  return Single(OpKind::kConcat, inputs, Attrs(OpKind::kConcat, {{"axis", axis}}));
}

std::vector<Value> GraphBuilder::Split(Value x, int64_t axis, std::vector<int64_t> sizes) {
  return Op(OpKind::kSplit, {x}, Attrs(OpKind::kSplit, {{"axis", axis}, {"sizes", std::move(sizes)}}));
}

Value GraphBuilder::Transpose(Value x, std::vector<int64_t> perm) {
  return Single(OpKind::kTranspose, {x}, Attrs(OpKind::kTranspose, {{"perm", std::move(perm)}}));
}

Value GraphBuilder::Enlarge(Value w, std::array<int64_t, 2> kernel) {
  return Single(OpKind::kEnlarge, {w}, Attrs(OpKind::kEnlarge, {{"kernel", ToInts(kernel)}}));
}

Value GraphBuilder::ConstPool(int64_t channels, std::array<int64_t, 2> kernel, DType dtype) {
  return Single(OpKind::kConstPool, {},
                Attrs(OpKind::kConstPool,
                      {{"channels", channels}, {"kernel", ToInts(kernel)}, {"dtype", Enum(dtype)}}));
}

Value GraphBuilder::ConstIdentityConv(int64_t channels, std::array<int64_t, 2> kernel,
                                      DType dtype) {
  return Single(OpKind::kConstIdentityConv, {},
                Attrs(OpKind::kConstIdentityConv,
                      {{"channels", channels}, {"kernel", ToInts(kernel)}, {"dtype", Enum(dtype)}}));
}

Value GraphBuilder::ConstIdentityMatrix(int64_t size, DType dtype) {
  return Single(OpKind::kConstIdentityMatrix, {},
                Attrs(OpKind::kConstIdentityMatrix, {{"size", size}, {"dtype", Enum(dtype)}}));
}

Value GraphBuilder::ConstOnes(Dims dims, DType dtype) {
  return Single(OpKind::kConstOnes, {},
                Attrs(OpKind::kConstOnes, {{"shape", std::move(dims)}, {"dtype", Enum(dtype)}}));
}

Value GraphBuilder::BatchNorm(Value x, Value scale, Value bias, Value mean, Value var,
                              double epsilon) {
  return Single(OpKind::kBatchNorm, {x, scale, bias, mean, var},
                Attrs(OpKind::kBatchNorm, {{"epsilon", epsilon}}));
}

Value GraphBuilder::Softmax(Value x, int64_t axis) {
  return Single(OpKind::kSoftmax, {x}, Attrs(OpKind::kSoftmax, {{"axis", axis}}));
}

Value GraphBuilder::Reshape(Value x, std::vector<int64_t> dims) {
  return Single(OpKind::kReshape, {x}, Attrs(OpKind::kReshape, {{"shape", std::move(dims)}}));
}

Value GraphBuilder::BroadcastAdd(Value a, Value b) {
  return Single(OpKind::kBroadcastAdd, {a, b}, Attributes(OpKind::kBroadcastAdd));
}

Value GraphBuilder::BroadcastMul(Value a, Value b) {
  return Single(OpKind::kBroadcastMul, {a, b}, Attributes(OpKind::kBroadcastMul));
}

Value GraphBuilder::BroadcastSub(Value a, Value b) {
  return Single(OpKind::kBroadcastSub, {a, b}, Attributes(OpKind::kBroadcastSub));
}

Value GraphBuilder::BroadcastDiv(Value a, Value b) {
  return Single(OpKind::kBroadcastDiv, {a, b}, Attributes(OpKind::kBroadcastDiv));
}

Value GraphBuilder::LayerNorm(Value x, Value scale, Value bias, int64_t axis, double epsilon) {
  return Single(OpKind::kLayerNorm, {x, scale, bias},
                Attrs(OpKind::kLayerNorm, {{"axis", axis}, {"epsilon", epsilon}}));
}

Value GraphBuilder::Pad(Value x, std::vector<int64_t> pads, double value) {
  return Single(OpKind::kPad, {x}, Attrs(OpKind::kPad, {{"pads", std::move(pads)}, {"value", value}}));
}

Value GraphBuilder::Slice(Value x, std::vector<int64_t> axes, std::vector<int64_t> starts,
                          std::vector<int64_t> ends, std::vector<int64_t> steps) {
  return Single(OpKind::kSlice, {x},
                Attrs(OpKind::kSlice, {{"axes", std::move(axes)},
                                       {"starts", std::move(starts)},
                                       {"ends", std::move(ends)},
                                       {"steps", std::move(steps)}}));
}

Value GraphBuilder::ReduceSum(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Single(OpKind::kReduceSum, {x},
                Attrs(OpKind::kReduceSum, {{"axes", std::move(axes)}, {"keepdims", int64_t{keepdims}}}));
}

Value GraphBuilder::ReduceMean(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Single(OpKind::kReduceMean, {x},
                Attrs(OpKind::kReduceMean, {{"axes", std::move(axes)}, {"keepdims", int64_t{keepdims}}}));
}

Value GraphBuilder::ReduceMax(Value x, std::vector<int64_t> axes, bool keepdims) {
  return Single(OpKind::kReduceMax, {x},
                Attrs(OpKind::kReduceMax, {{"axes", std::move(axes)}, {"keepdims", int64_t{keepdims}}}));
}

Value GraphBuilder::Name(Value v, std::string name) {
  if (!Usable({v})) return v;
  if (absl::Status s = graph_.SetName(v, name); !s.ok()) Fail(s, StrCat("naming a value"));
  return v;
}

void GraphBuilder::Output(std::string name, Value v) {
  if (!Usable({v})) return;
  if (absl::Status s = graph_.AddOutput(name, v); !s.ok()) {
    Fail(s, StrCat("output '", name, "'"));
  }
}

absl::StatusOr<Graph> GraphBuilder::Build() && {
  if (!status_.ok()) return status_;
  if (graph_.outputs().empty()) {
    return absl::InvalidArgumentError(StrCat("graph '", graph_.name(), "' has no outputs"));
  }
  if (absl::Status s = graph_.Validate(); !s.ok()) return s;
  return std::move(graph_);
}

absl::StatusOr<Graph> SingleOpGraph(OpKind op, const Attributes& attrs,
                                    std::span<const TensorType> inputs,
                                    const std::vector<bool>& weight,
                                    std::span<const Layout> output_layouts) {
  if (weight.size() != inputs.size()) {
    return absl::InvalidArgumentError(StrCat(OpName(op), ": ", inputs.size(), " inputs but ",
                                             weight.size(), " weight flags"));
  }
  Graph g(std::string(OpName(op)));
  std::vector<ValueId> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    absl::StatusOr<ValueId> v = weight[i] ? g.AddWeight(StrCat("w", i), inputs[i])
                                          : g.AddInput(StrCat("x", i), inputs[i]);
    if (!v.ok()) return v.status();
    values.push_back(*v);
  }
  absl::StatusOr<NodeId> id = g.AddNode(op, attrs, values);
  if (!id.ok()) return id.status();
  for (size_t j = 0; j < g.node(*id).outputs.size(); ++j) {
    const ValueId out{*id, static_cast<int32_t>(j)};
    if (j < output_layouts.size()) {
      if (absl::Status s = g.SetLayout(out, output_layouts[j]); !s.ok()) return s;
    }
    if (absl::Status s = g.AddOutput(StrCat("y", j), out); !s.ok()) return s;
  }
  return g;
}

}  // namespace lemma
