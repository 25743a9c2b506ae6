#include "bench/models.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "ir/builder.h"
#include "ir/strings.h"

namespace lemma::models {
namespace {

constexpr DType kF32 = DType::kF32;
using Kernel = std::array<int64_t, 2>;

bool IsSmall(const ModelOptions& options) { return options.scale == ModelScale::kSmall; }

std::string GraphName(std::string_view name, const ModelOptions& options) {
  return IsSmall(options) ? StrCat(name, "_small") : std::string(name);
}

// ---- Convs and pools with models.py's padding.

// models.py pads a SAME window by k//2 on every side and a VALID one not at
// all. With stride 1 and an odd kernel that is the IR's padding=same, the form
// the generator's rules are stated in; with a larger stride the IR's same
// would put the odd padding element at the end only, so the pads are written
// out.
template <typename Options>
void SetPadding(Options& o, Kernel k, int64_t stride, bool same) {
  if (!same) return;
  if (stride == 1 && k[0] % 2 == 1 && k[1] % 2 == 1) {
    o.padding = Padding::kSame;
  } else {
    o.pads = {k[0] / 2, k[1] / 2, k[0] / 2, k[1] / 2};
  }
}

// TASO's conv2d: no bias; SAME or VALID padding; ReLU fused unless told not to.
struct ConvSpec {
  Kernel kernel = {1, 1};
  int64_t stride = 1;
  int64_t groups = 1;
  bool relu = true;
  bool same = true;
};

Value Conv(GraphBuilder& b, Value x, int64_t out, const ConvSpec& s) {
  Conv2dOptions o{.stride = {s.stride, s.stride},
                  .groups = s.groups,
                  .activation = s.relu ? Activation::kRelu : Activation::kNone};
  SetPadding(o, s.kernel, s.stride, s.same);
  return b.Conv2d(x, out, s.kernel, o);
}

Pool2dOptions PoolOptions(int64_t k, int64_t stride, bool same) {
  Pool2dOptions o{.kernel = {k, k}, .stride = {stride, stride}};
  SetPadding(o, o.kernel, stride, same);
  return o;
}

// models.py's maxpool(x, k, s, same) and avgpool(x, k, s, same); the average
// never counts padding.
Value MaxPool(GraphBuilder& b, Value x, int64_t k = 3, int64_t stride = 2, bool same = true) {
  return b.MaxPool2d(x, PoolOptions(k, stride, same));
}
Value AvgPool(GraphBuilder& b, Value x, int64_t k = 3, int64_t stride = 1, bool same = true) {
  return b.AvgPool2d(x, PoolOptions(k, stride, same));
}

// The channels of x, or 0 once the builder has failed (x is then invalid and
// every later call a no-op).
int64_t Channels(const GraphBuilder& b, Value x) { return x.valid() ? b.dims(x)[1] : 0; }

// ---- ResNet-50 and ResNeXt-50.

// Bottleneck of ResNet/ResNeXt as in TASO's examples; the projection shortcut
// carries a ReLU (a TASO quirk kept on purpose).
Value Bottleneck(GraphBuilder& b, Value x, int64_t width, int64_t stride, int64_t expansion,
                 int64_t groups) {
  const int64_t cin = Channels(b, x);
  const int64_t cout = expansion * width;
  Value t = Conv(b, x, width, {});
  t = Conv(b, t, width, {.kernel = {3, 3}, .stride = stride, .groups = groups});
  t = Conv(b, t, cout, {.relu = false});
  const Value shortcut =
      (stride > 1 || cin != cout) ? Conv(b, x, cout, {.stride = stride}) : x;
  return b.Relu(b.EwAdd(shortcut, t));
}

struct ResNetConfig {
  Dims input;
  int64_t stem;  // channels of the 7x7 stem conv; 0: no stem
  std::array<int64_t, 4> widths;
  int64_t expansion;
  int64_t groups;
};

// models.py's ResNetLike: an optional stem, then stages of 3, 4, 6 and 3
// bottlenecks, the first of each stage after the first with stride 2.
absl::StatusOr<Graph> ResNetLike(std::string name, const ResNetConfig& c) {
  GraphBuilder b(std::move(name));
  Value x = b.Input("x", kF32, c.input);
  if (c.stem > 0) x = MaxPool(b, Conv(b, x, c.stem, {.kernel = {7, 7}, .stride = 2}));
  constexpr std::array<int, 4> kDepths = {3, 4, 6, 3};
  for (size_t stage = 0; stage < c.widths.size(); ++stage) {
    for (int j = 0; j < kDepths[stage]; ++j) {
      const int64_t stride = (stage > 0 && j == 0) ? 2 : 1;
      x = Bottleneck(b, x, c.widths[stage], stride, c.expansion, c.groups);
    }
  }
  b.Output("y", x);
  return std::move(b).Build();
}

// ---- NASNet-A.

// TASO's seperable_conv: a depthwise k x k conv then a pointwise 1x1, neither
// with an activation.
Value SepConv(GraphBuilder& b, Value x, int64_t k, int64_t stride = 1) {
  const int64_t c = Channels(b, x);
  const Value dw =
      Conv(b, x, c, {.kernel = {k, k}, .stride = stride, .groups = c, .relu = false});
  return Conv(b, dw, c, {.relu = false});
}

Value NormalCell(GraphBuilder& b, Value prev, Value cur, int64_t c) {
  cur = Conv(b, cur, c, {});
  prev = Conv(b, prev, c, {});
  std::vector<Value> outs;
  outs.push_back(b.EwAdd(SepConv(b, cur, 3), cur));
  const Value s1 = SepConv(b, prev, 3);
  outs.push_back(b.EwAdd(s1, SepConv(b, cur, 3)));
  outs.push_back(b.EwAdd(AvgPool(b, cur), prev));
  // TASO computes the same pool twice; so does this graph.
  const Value p = AvgPool(b, prev);
  outs.push_back(b.EwAdd(p, AvgPool(b, prev)));
  const Value s3 = SepConv(b, prev, 3);
  outs.push_back(b.EwAdd(s3, SepConv(b, prev, 3)));
  return b.Concat(outs, 1);
}

Value ReductionCell(GraphBuilder& b, Value prev, Value cur, int64_t c) {
  cur = Conv(b, cur, c, {});
  prev = Conv(b, prev, c, {});
  const Value p7a = SepConv(b, prev, 7, 2);
  const Value o0 = b.EwAdd(p7a, SepConv(b, cur, 5, 2));
  const Value m1 = MaxPool(b, cur);
  const Value o1 = b.EwAdd(m1, SepConv(b, prev, 7, 2));
  const Value a2 = AvgPool(b, cur, 3, 2);
  const Value o2 = b.EwAdd(a2, SepConv(b, prev, 5, 2));
  const Value m3 = MaxPool(b, cur);
  const Value o3 = b.EwAdd(m3, SepConv(b, o0, 3));
  const Value o4 = b.EwAdd(AvgPool(b, o0), o1);
  return b.Concat({o0, o1, o2, o3, o4}, 1);
}

// ---- Inception-v3.

// One step of an Inception branch (models.py's Branches): a conv, or a 3x3
// pool at the branch's head ('avg': stride 1, SAME; 'max': stride 2, VALID).
struct Step {
  enum Kind { kConv, kAvgPool, kMaxPool } kind = kConv;
  int64_t out = 0;
  Kernel kernel = {1, 1};
  int64_t stride = 1;
  bool same = true;
};
using Branch = std::vector<Step>;

Step C(int64_t out, Kernel kernel = {1, 1}, int64_t stride = 1, bool same = true) {
  return {Step::kConv, out, kernel, stride, same};
}
constexpr bool kValid = false;
const Step kAvg = {.kind = Step::kAvgPool};
const Step kMax = {.kind = Step::kMaxPool};

// Runs each branch on x and concatenates the results on channels.
Value Branches(GraphBuilder& b, Value x, const std::vector<Branch>& branches) {
  std::vector<Value> outs;
  for (const Branch& branch : branches) {
    Value y = x;
    for (const Step& s : branch) {
      switch (s.kind) {
        case Step::kConv:
          y = Conv(b, y, s.out, {.kernel = s.kernel, .stride = s.stride, .same = s.same});
          break;
        case Step::kAvgPool:
          y = AvgPool(b, y);
          break;
        case Step::kMaxPool:
          y = MaxPool(b, y, 3, 2, kValid);
          break;
      }
    }
    outs.push_back(y);
  }
  return b.Concat(outs, 1);
}

// The block whose branches fork in the middle (1x3 | 3x1); `d` divides every
// channel count. Weights are made in models.py's parameter order.
Value InceptionE(GraphBuilder& b, Value x, int64_t d) {
  const Value b1 = Conv(b, x, 320 / d, {});
  const Value b3 = Conv(b, x, 384 / d, {});
  const Value b3a = Conv(b, b3, 384 / d, {.kernel = {1, 3}});
  const Value b3b = Conv(b, b3, 384 / d, {.kernel = {3, 1}});
  const Value dd = Conv(b, Conv(b, x, 448 / d, {}), 384 / d, {.kernel = {3, 3}});
  const Value da = Conv(b, dd, 384 / d, {.kernel = {1, 3}});
  const Value db = Conv(b, dd, 384 / d, {.kernel = {3, 1}});
  const Value pool = Conv(b, AvgPool(b, x), 192 / d, {});
  return b.Concat({b1, b3a, b3b, da, db, pool}, 1);
}

std::vector<Branch> InceptionA(int64_t pool_c, int64_t d) {
  return {{C(64 / d)},
          {C(48 / d), C(64 / d, {5, 5})},
          {C(64 / d), C(96 / d, {3, 3}), C(96 / d, {3, 3})},
          {kAvg, C(pool_c / d)}};
}

std::vector<Branch> InceptionC(int64_t c7, int64_t d) {
  return {{C(192 / d)},
          {C(c7 / d), C(c7 / d, {1, 7}), C(192 / d, {7, 1})},
          {C(c7 / d), C(c7 / d, {7, 1}), C(c7 / d, {1, 7}), C(c7 / d, {7, 1}),
           C(192 / d, {1, 7})},
          {kAvg, C(192 / d)}};
}

// ---- SqueezeNet 1.1.

// A PyTorch nn.Conv2d with bias: conv2d, then the bias [C,1,1] broadcast over
// batch and space (the IR's conv2d has no bias input).
Value ConvBias(GraphBuilder& b, Value x, int64_t out, int64_t k, int64_t stride = 1,
               bool same = true) {
  const Value y =
      Conv(b, x, out, {.kernel = {k, k}, .stride = stride, .relu = false, .same = same});
  return b.BroadcastAdd(y, b.Weight("", kF32, {out, 1, 1}));
}

// nn.MaxPool2d(3, 2, ceil_mode=True). The IR has no ceil mode: the last,
// partial window becomes padding at the bottom and right, which max pooling
// ignores. (At 224x224 every such pool sees an odd size and needs none.)
Value MaxPoolCeil(GraphBuilder& b, Value x) {
  constexpr int64_t k = 3, s = 2;
  Pool2dOptions o{.kernel = {k, k}, .stride = {s, s}};
  for (int i = 0; i < 2 && x.valid(); ++i) {
    const int64_t n = b.dims(x)[static_cast<size_t>(2 + i)];
    int64_t out = (n - k + s - 1) / s + 1;
    if ((out - 1) * s >= n) --out;  // a window must start inside the input
    o.pads[static_cast<size_t>(2 + i)] = std::max<int64_t>((out - 1) * s + k - n, 0);
  }
  return b.MaxPool2d(x, o);
}

Value Fire(GraphBuilder& b, Value x, int64_t sq, int64_t e1, int64_t e3) {
  x = b.Relu(ConvBias(b, x, sq, 1));
  const Value y1 = b.Relu(ConvBias(b, x, e1, 1));
  const Value y3 = b.Relu(ConvBias(b, x, e3, 3));
  return b.Concat({y1, y3}, 1);
}

}  // namespace

absl::StatusOr<Graph> ResNeXtBlock(const ModelOptions& options) {
  const bool small = IsSmall(options);
  GraphBuilder b(GraphName("resnext_block", options));
  const Value x = b.Input("x", kF32, small ? Dims{1, 4, 8, 8} : Dims{1, 64, 56, 56});
  b.Output("y", Bottleneck(b, x, /*width=*/small ? 8 : 128, /*stride=*/1, /*expansion=*/2,
                           /*groups=*/small ? 4 : 32));
  return std::move(b).Build();
}

absl::StatusOr<Graph> ResNet50(const ModelOptions& options) {
  return ResNetLike(GraphName("resnet50", options),
                    IsSmall(options) ? ResNetConfig{{1, 4, 16, 16}, 0, {4, 8, 16, 32}, 4, 1}
                                     : ResNetConfig{{1, 64, 56, 56}, 0, {64, 128, 256, 512}, 4, 1});
}

absl::StatusOr<Graph> ResNeXt50(const ModelOptions& options) {
  return ResNetLike(
      GraphName("resnext50", options),
      IsSmall(options) ? ResNetConfig{{1, 3, 64, 64}, 8, {8, 16, 32, 64}, 2, 4}
                       : ResNetConfig{{1, 3, 224, 224}, 64, {128, 256, 512, 1024}, 2, 32});
}

absl::StatusOr<Graph> NasNetA(const ModelOptions& options) {
  const bool small = IsSmall(options);
  constexpr int kStages = 3, kNormalCells = 5;
  GraphBuilder b(GraphName("nasnet_a", options));
  const Value input = b.Input("x", kF32, small ? Dims{1, 3, 64, 64} : Dims{1, 3, 224, 224});
  int64_t c = small ? 4 : 128;
  Value x = MaxPool(b, Conv(b, input, small ? 8 : 64, {.kernel = {7, 7}, .stride = 2}));
  Value prev = x, cur = x;
  for (int stage = 0; stage < kStages; ++stage) {
    for (int i = 0; i < kNormalCells; ++i) {
      const Value next = NormalCell(b, prev, cur, c);
      prev = cur;
      cur = next;
    }
    c *= 2;
    x = ReductionCell(b, prev, cur, c);
    prev = cur = x;
  }
  b.Output("y", x);
  return std::move(b).Build();
}

absl::StatusOr<Graph> NasRnn(const ModelOptions& options) {
  const int64_t hidden = IsSmall(options) ? 16 : 512;
  constexpr int kLength = 5;
  GraphBuilder b(GraphName("nasrnn", options));
  std::vector<Value> xs;
  for (int i = 0; i < kLength; ++i) xs.push_back(b.Input(StrCat("x", i), kF32, {1, hidden}));
  Value h = b.Weight("h0", kF32, {1, hidden});  // the initial state is a weight, as in TASO
  for (int i = 0; i < kLength; ++i) {
    std::vector<Value> t;
    for (int j = 0; j < 8; ++j) {
      const Value xw = b.Dense(xs[static_cast<size_t>(i)], hidden);
      t.push_back(b.EwAdd(xw, b.Dense(h, hidden)));
    }
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

absl::StatusOr<Graph> Bert(const ModelOptions& options) {
  const bool small = IsSmall(options);
  // K is used untransposed (TASO's quirk), which type-checks because the
  // sequence length equals the head size in both scales.
  const int64_t batch = small ? 2 : 16, seq = small ? 8 : 64, hidden = small ? 32 : 1024,
                heads = small ? 4 : 16;
  const int64_t head = hidden / heads;
  constexpr int kLayers = 8;
  GraphBuilder b(GraphName("bert", options));
  Value x = b.Relu(b.Input("x", kF32, {batch * seq, hidden}));
  std::vector<Value> sinks;
  for (int i = 0; i < kLayers; ++i) {
    std::array<Value, 3> qkv;
    for (Value& v : qkv) {
      v = b.Transpose(b.Reshape(b.Dense(x, hidden), {batch, seq, heads, head}), {0, 2, 1, 3});
    }
    const Value a = b.MatMul(b.MatMul(qkv[0], qkv[1]), qkv[2]);
    sinks.push_back(b.Reshape(b.Transpose(a, {0, 2, 1, 3}), {batch * seq, heads * head}));
    // The output projection reads the layer's input, so each attention result
    // is a sink; it stays a graph output so that nothing may drop it.
    x = b.Dense(x, hidden);
  }
  b.Output("y", x);
  for (int i = 0; i < kLayers; ++i) b.Output(StrCat("attention", i), sinks[static_cast<size_t>(i)]);
  return std::move(b).Build();
}

absl::StatusOr<Graph> InceptionV3(const ModelOptions& options) {
  const bool small = IsSmall(options);
  const int64_t d = small ? 16 : 1;  // divides every channel count
  const int64_t batch = small ? 1 : 32, image = small ? 107 : 299;
  GraphBuilder b(GraphName("inception_v3", options));
  Value x = b.Input("x", kF32, {batch, 3, image, image});
  x = Conv(b, x, 32 / d, {.kernel = {3, 3}, .stride = 2, .same = kValid});
  x = Conv(b, x, 32 / d, {.kernel = {3, 3}, .same = kValid});
  x = Conv(b, x, 64 / d, {.kernel = {3, 3}});
  x = MaxPool(b, x, 3, 2, kValid);
  x = Conv(b, x, 80 / d, {});
  x = Conv(b, x, 192 / d, {.kernel = {3, 3}, .same = kValid});
  x = MaxPool(b, x, 3, 2, kValid);
  x = Branches(b, x, InceptionA(32, d));
  x = Branches(b, x, InceptionA(64, d));
  x = Branches(b, x, InceptionA(64, d));
  x = Branches(b, x,
               {{C(384 / d, {3, 3}, 2, kValid)},
                {C(64 / d), C(96 / d, {3, 3}), C(96 / d, {3, 3}, 2, kValid)},
                {kMax}});
  for (int64_t c7 : {128, 160, 160, 192}) x = Branches(b, x, InceptionC(c7, d));
  x = Branches(b, x,
               {{C(192 / d), C(320 / d, {3, 3}, 2, kValid)},
                {C(192 / d), C(192 / d, {1, 7}), C(192 / d, {7, 1}), C(192 / d, {3, 3}, 2, kValid)},
                {kMax}});
  x = InceptionE(b, x, d);
  x = InceptionE(b, x, d);
  // TASO's "global_avg" pool uses its default kernel (1,1): an identity-sized pool.
  b.Output("y", AvgPool(b, x, 1, 1));
  return std::move(b).Build();
}

absl::StatusOr<Graph> SqueezeNet(const ModelOptions& options) {
  const bool small = IsSmall(options);
  const int64_t d = small ? 8 : 1;  // divides every channel count but the classes
  const int64_t image = small ? 35 : 224, classes = small ? 10 : 1000;
  GraphBuilder b(GraphName("squeezenet", options));
  Value x = b.Input("x", kF32, {1, 3, image, image});
  x = MaxPoolCeil(b, b.Relu(ConvBias(b, x, 64 / d, 3, 2, kValid)));
  x = Fire(b, x, 16 / d, 64 / d, 64 / d);
  x = Fire(b, x, 16 / d, 64 / d, 64 / d);
  x = MaxPoolCeil(b, x);
  x = Fire(b, x, 32 / d, 128 / d, 128 / d);
  x = Fire(b, x, 32 / d, 128 / d, 128 / d);
  x = MaxPoolCeil(b, x);
  x = Fire(b, x, 48 / d, 192 / d, 192 / d);
  x = Fire(b, x, 48 / d, 192 / d, 192 / d);
  x = Fire(b, x, 64 / d, 256 / d, 256 / d);
  x = Fire(b, x, 64 / d, 256 / d, 256 / d);
  x = b.Relu(ConvBias(b, x, classes, 1));
  if (x.valid()) {
    // nn.AdaptiveAvgPool2d(1): an average pool over the whole image; then Flatten.
    const Dims& dims = b.dims(x);
    x = b.AvgPool2d(x, {.kernel = {dims[2], dims[3]}});
  }
  b.Output("y", b.Reshape(x, {1, classes}));
  return std::move(b).Build();
}

std::span<const ModelInfo> AllModels() {
  static constexpr std::array<ModelInfo, 8> kModels = {{
      {"resnext_block", "first ResNeXt-50 bottleneck (TASO), 1x64x56x56, 32 groups",
       ResNeXtBlock},
      {"resnet50", "ResNet-50 as in TASO (no stem/classifier/BN), 1x64x56x56", ResNet50},
      {"resnext50", "ResNeXt-50 as in TASO (7x7 stem, 32 groups, no BN), 1x3x224x224",
       ResNeXt50},
      {"nasnet_a", "NASNet-A as in TASO (3 x (5 normal + 1 reduction cell)), 1x3x224x224",
       NasNetA},
      {"nasrnn", "NASRNN as in TASO (5 unrolled cells, hidden 512), inputs 5 x 1x512", NasRnn},
      {"bert", "BERT as in TASO (8 attention layers, 16 heads), 16x64 tokens of 1024", Bert},
      {"inception_v3", "Inception-v3 as in TASO (no BN/classifier), 32x3x299x299", InceptionV3},
      {"squeezenet", "SqueezeNet 1.1 (conv biases, 1000 classes), 1x3x224x224", SqueezeNet},
  }};
  return kModels;
}

std::vector<std::string> ModelNames() {
  std::vector<std::string> names;
  for (const ModelInfo& m : AllModels()) names.emplace_back(m.name);
  return names;
}

absl::StatusOr<Graph> BuildModel(std::string_view name, const ModelOptions& options) {
  std::string names;
  for (const ModelInfo& m : AllModels()) {
    if (m.name == name) return m.build(options);
    StrAppend(&names, names.empty() ? "" : ", ", m.name);
  }
  return absl::NotFoundError(StrCat("no model named '", name, "' (models: ", names, ")"));
}

double ConvMatMulFlops(const Graph& graph) {
  double flops = 0;
  for (const Node& n : graph.nodes()) {
    if (n.op == OpKind::kConv2d) {
      const TensorType& w = graph.type(n.inputs[1]);
      // Each output element takes C/groups * kh * kw multiply-adds.
      flops += 2.0 * static_cast<double>(n.outputs[0].num_elements()) *
               static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
    } else if (n.op == OpKind::kMatMul) {
      const TensorType& a = graph.type(n.inputs[0]);
      flops += 2.0 * static_cast<double>(n.outputs[0].num_elements()) *
               static_cast<double>(a.dims.back());
    }
  }
  return flops;
}

int64_t ParameterCount(const Graph& graph) {
  int64_t count = 0;
  for (const Node& n : graph.nodes()) {
    if (n.op == OpKind::kWeight) count += n.outputs[0].num_elements();
  }
  return count;
}

}  // namespace lemma::models
