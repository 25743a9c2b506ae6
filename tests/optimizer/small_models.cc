#include "tests/optimizer/small_models.h"

#include <array>
#include <vector>

#include "ir/builder.h"
#include "ir/strings.h"

namespace lemma::testing {
namespace {

constexpr DType kF32 = DType::kF32;

struct ConvSpec {
  std::array<int64_t, 2> kernel = {1, 1};
  int64_t stride = 1;
  int64_t groups = 1;
  bool relu = true;
  bool same = true;
};

// TASO's conv: no bias; "same" as the zoo writes it (padding=same at stride 1
// with odd kernels, explicit k/2 pads otherwise); ReLU fused.
Value Conv(GraphBuilder& b, Value x, int64_t out, const ConvSpec& s) {
  Conv2dOptions o{.stride = {s.stride, s.stride},
                  .groups = s.groups,
                  .activation = s.relu ? Activation::kRelu : Activation::kNone};
  if (s.same) {
    if (s.stride == 1 && s.kernel[0] % 2 == 1 && s.kernel[1] % 2 == 1) {
      o.padding = Padding::kSame;
    } else {
      o.pads = {s.kernel[0] / 2, s.kernel[1] / 2, s.kernel[0] / 2, s.kernel[1] / 2};
    }
  }
  return b.Conv2d(x, out, s.kernel, o);
}

Value AvgPool(GraphBuilder& b, Value x, int64_t stride = 1) {
  Pool2dOptions o{.kernel = {3, 3}, .stride = {stride, stride}};
  if (stride == 1) {
    o.padding = Padding::kSame;
  } else {
    o.pads = {1, 1, 1, 1};
  }
  return b.AvgPool2d(x, o);
}

Value MaxPool(GraphBuilder& b, Value x, int64_t stride = 2, bool same = true) {
  Pool2dOptions o{.kernel = {3, 3}, .stride = {stride, stride}};
  if (same) o.pads = {1, 1, 1, 1};
  return b.MaxPool2d(x, o);
}

Value Bottleneck(GraphBuilder& b, Value x, int64_t width, int64_t stride, int64_t expansion,
                 int64_t groups) {
  const int64_t cin = b.dims(x)[1];
  const int64_t cout = expansion * width;
  Value t = Conv(b, x, width, {});
  t = Conv(b, t, width, {.kernel = {3, 3}, .stride = stride, .groups = groups});
  t = Conv(b, t, cout, {.relu = false});
  const Value shortcut = (stride > 1 || cin != cout) ? Conv(b, x, cout, {.stride = stride}) : x;
  return b.Relu(b.EwAdd(shortcut, t));
}

absl::StatusOr<Graph> ResNeXtBlock() {
  GraphBuilder b("resnext_block_small");
  b.Output("y", Bottleneck(b, b.Input("x", kF32, {1, 4, 8, 8}), 8, 1, 2, 4));
  return std::move(b).Build();
}

absl::StatusOr<Graph> ResNetLike(const char* name, Dims input, int64_t stem,
                                 std::vector<int64_t> widths, std::vector<int> depths,
                                 int64_t expansion, int64_t groups) {
  GraphBuilder b(name);
  Value x = b.Input("x", kF32, std::move(input));
  if (stem > 0) x = MaxPool(b, Conv(b, x, stem, {.kernel = {7, 7}, .stride = 2}));
  for (size_t stage = 0; stage < widths.size(); ++stage) {
    for (int j = 0; j < depths[stage]; ++j) {
      x = Bottleneck(b, x, widths[stage], (stage > 0 && j == 0) ? 2 : 1, expansion, groups);
    }
  }
  b.Output("y", x);
  return std::move(b).Build();
}

absl::StatusOr<Graph> ResNet() {
  return ResNetLike("resnet50_small", {1, 4, 8, 8}, 0, {4, 8}, {2, 1}, 4, 1);
}

absl::StatusOr<Graph> ResNeXt() {
  return ResNetLike("resnext50_small", {1, 3, 16, 16}, 8, {8, 16}, {2, 1}, 2, 4);
}

Value SepConv(GraphBuilder& b, Value x, int64_t k, int64_t stride = 1) {
  const int64_t c = b.dims(x)[1];
  const Value dw = Conv(b, x, c, {.kernel = {k, k}, .stride = stride, .groups = c, .relu = false});
  return Conv(b, dw, c, {.relu = false});
}

absl::StatusOr<Graph> NasNet() {
  GraphBuilder b("nasnet_a_small");
  Value x = MaxPool(b, Conv(b, b.Input("x", kF32, {1, 3, 16, 16}), 8, {.kernel = {7, 7}, .stride = 2}));
  // A normal cell.
  Value cur = Conv(b, x, 4, {}), prev = Conv(b, x, 4, {});
  std::vector<Value> outs;
  outs.push_back(b.EwAdd(SepConv(b, cur, 3), cur));
  outs.push_back(b.EwAdd(SepConv(b, prev, 3), SepConv(b, cur, 3)));
  outs.push_back(b.EwAdd(AvgPool(b, cur), prev));
  outs.push_back(b.EwAdd(AvgPool(b, prev), AvgPool(b, prev)));
  outs.push_back(b.EwAdd(SepConv(b, prev, 3), SepConv(b, prev, 3)));
  const Value normal = b.Concat(outs, 1);
  // A reduction cell.
  cur = Conv(b, normal, 8, {});
  prev = Conv(b, x, 8, {});
  const Value o0 = b.EwAdd(SepConv(b, prev, 7, 2), SepConv(b, cur, 5, 2));
  const Value o1 = b.EwAdd(MaxPool(b, cur), SepConv(b, prev, 7, 2));
  const Value o2 = b.EwAdd(AvgPool(b, cur, 2), SepConv(b, prev, 5, 2));
  const Value o3 = b.EwAdd(MaxPool(b, cur), SepConv(b, o0, 3));
  const Value o4 = b.EwAdd(AvgPool(b, o0), o1);
  b.Output("y", b.Concat({o0, o1, o2, o3, o4}, 1));
  return std::move(b).Build();
}

absl::StatusOr<Graph> NasRnn() {
  constexpr int64_t kHidden = 8;
  GraphBuilder b("nasrnn_small");
  std::vector<Value> xs;
  for (int i = 0; i < 2; ++i) xs.push_back(b.Input(StrCat("x", i), kF32, {1, kHidden}));
  Value h = b.Weight("h0", kF32, {1, kHidden});
  for (const Value& x : xs) {
    std::vector<Value> t;
    for (int j = 0; j < 8; ++j) t.push_back(b.EwAdd(b.Dense(x, kHidden), b.Dense(h, kHidden)));
    const Value m0 = b.EwAdd(b.Relu(t[0]), b.Sigmoid(t[3]));
    const Value m1 = b.EwAdd(b.Sigmoid(t[1]), b.Tanh(t[2]));
    const Value m2 = b.EwMul(b.Sigmoid(t[4]), b.Tanh(t[5]));
    const Value m3 = b.EwMul(b.Sigmoid(t[6]), b.Relu(t[7]));
    const Value m4 = b.EwAdd(b.Sigmoid(m1), b.Tanh(m2));
    const Value m5 = b.EwMul(b.Tanh(m0), b.Tanh(m3));
    h = b.Tanh(b.EwMul(b.Tanh(m4), b.Tanh(m5)));
  }
  b.Output("y", h);
  return std::move(b).Build();
}

absl::StatusOr<Graph> Bert() {
  constexpr int64_t kBatch = 2, kSeq = 4, kHidden = 16, kHeads = 4, kHead = kHidden / kHeads;
  GraphBuilder b("bert_small");
  Value x = b.Relu(b.Input("x", kF32, {kBatch * kSeq, kHidden}));
  std::vector<Value> sinks;
  for (int i = 0; i < 2; ++i) {
    std::array<Value, 3> qkv;
    for (Value& v : qkv) {
      v = b.Transpose(b.Reshape(b.Dense(x, kHidden), {kBatch, kSeq, kHeads, kHead}), {0, 2, 1, 3});
    }
    const Value a = b.MatMul(b.MatMul(qkv[0], qkv[1]), qkv[2]);
    sinks.push_back(b.Reshape(b.Transpose(a, {0, 2, 1, 3}), {kBatch * kSeq, kHidden}));
    x = b.Dense(x, kHidden);
  }
  b.Output("y", x);
  for (size_t i = 0; i < sinks.size(); ++i) b.Output(StrCat("attention", i), sinks[i]);
  return std::move(b).Build();
}

absl::StatusOr<Graph> Inception() {
  GraphBuilder b("inception_v3_small");
  Value x = b.Input("x", kF32, {1, 8, 9, 9});
  // An A block: four branches concatenated.
  const Value a1 = Conv(b, x, 4, {});
  const Value a2 = Conv(b, Conv(b, x, 3, {}), 4, {.kernel = {5, 5}});
  const Value a3 = Conv(b, Conv(b, Conv(b, x, 4, {}), 6, {.kernel = {3, 3}}), 6, {.kernel = {3, 3}});
  const Value a4 = Conv(b, AvgPool(b, x), 2, {});
  x = b.Concat({a1, a2, a3, a4}, 1);
  // An E block: branches that fork in the middle.
  const Value e1 = Conv(b, x, 4, {});
  const Value e3 = Conv(b, x, 4, {});
  const Value dd = Conv(b, Conv(b, x, 4, {}), 4, {.kernel = {3, 3}});
  const Value pool = Conv(b, AvgPool(b, x), 2, {});
  x = b.Concat({e1, Conv(b, e3, 4, {.kernel = {1, 3}}), Conv(b, e3, 4, {.kernel = {3, 1}}),
                Conv(b, dd, 4, {.kernel = {1, 3}}), Conv(b, dd, 4, {.kernel = {3, 1}}), pool},
               1);
  b.Output("y", b.AvgPool2d(x, {.kernel = {1, 1}}));
  return std::move(b).Build();
}

Value ConvBias(GraphBuilder& b, Value x, int64_t out, int64_t k, int64_t stride = 1,
               bool same = true) {
  const Value y = Conv(b, x, out, {.kernel = {k, k}, .stride = stride, .relu = false, .same = same});
  return b.BroadcastAdd(y, b.Weight("", kF32, {out, 1, 1}));
}

Value Fire(GraphBuilder& b, Value x, int64_t sq, int64_t e1, int64_t e3) {
  x = b.Relu(ConvBias(b, x, sq, 1));
  return b.Concat({b.Relu(ConvBias(b, x, e1, 1)), b.Relu(ConvBias(b, x, e3, 3))}, 1);
}

absl::StatusOr<Graph> SqueezeNet() {
  GraphBuilder b("squeezenet_small");
  Value x = b.Input("x", kF32, {1, 3, 17, 17});
  x = MaxPool(b, b.Relu(ConvBias(b, x, 8, 3, 2, false)), 2, false);
  x = Fire(b, x, 2, 8, 8);
  x = Fire(b, x, 2, 8, 8);
  x = b.Relu(ConvBias(b, x, 5, 1));
  const Dims dims = b.dims(x);
  x = b.AvgPool2d(x, {.kernel = {dims[2], dims[3]}});
  b.Output("y", b.Reshape(x, {1, 5}));
  return std::move(b).Build();
}

}  // namespace

std::span<const SmallModel> SmallModels() {
  static const std::array<SmallModel, 8> kModels = {{
      {"resnext_block", ResNeXtBlock},
      {"resnet50", ResNet},
      {"resnext50", ResNeXt},
      {"nasnet_a", NasNet},
      {"nasrnn", NasRnn},
      {"bert", Bert},
      {"inception_v3", Inception},
      {"squeezenet", SqueezeNet},
  }};
  return kModels;
}

}  // namespace lemma::testing
