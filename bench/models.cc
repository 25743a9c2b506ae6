#include "bench/models.h"

#include <array>

#include "ir/builder.h"
#include "ir/strings.h"

namespace lemma::models {
namespace {

constexpr DType kF32 = DType::kF32;

// TASO's conv2d: no bias, "same" padding, optional fused ReLU.
Value Conv(GraphBuilder& b, Value x, int64_t out, int64_t k, int64_t stride = 1,
           int64_t groups = 1, bool relu = true) {
  return b.Conv2d(x, out, {k, k},
                  {.stride = {stride, stride},
                   .padding = Padding::kSame,
                   .groups = groups,
                   .activation = relu ? Activation::kRelu : Activation::kNone});
}

// Bottleneck of ResNet/ResNeXt as in TASO's examples; the projection shortcut
// carries a ReLU (a TASO quirk kept on purpose).
Value Bottleneck(GraphBuilder& b, Value x, int64_t width, int64_t stride, int64_t expansion,
                 int64_t groups) {
  const int64_t cin = b.dims(x)[1];
  const int64_t cout = expansion * width;
  Value t = Conv(b, x, width, 1);
  t = Conv(b, t, width, 3, stride, groups);
  t = Conv(b, t, cout, 1, 1, 1, /*relu=*/false);
  const Value shortcut = (stride > 1 || cin != cout) ? Conv(b, x, cout, 1, stride) : x;
  return b.Relu(b.EwAdd(shortcut, t));
}

}  // namespace

absl::StatusOr<Graph> ResNeXtBlock() {
  GraphBuilder b("resnext_block");
  const Value x = b.Input("x", kF32, {1, 64, 56, 56});
  b.Output("y", Bottleneck(b, x, /*width=*/128, /*stride=*/1, /*expansion=*/2, /*groups=*/32));
  return std::move(b).Build();
}

absl::StatusOr<Graph> ResNet50() {
  GraphBuilder b("resnet50");
  Value x = b.Input("x", kF32, {1, 64, 56, 56});
  const std::array<int64_t, 4> widths = {64, 128, 256, 512};
  const std::array<int, 4> depths = {3, 4, 6, 3};
  for (size_t stage = 0; stage < widths.size(); ++stage) {
    for (int j = 0; j < depths[stage]; ++j) {
      const int64_t stride = (stage > 0 && j == 0) ? 2 : 1;
      x = Bottleneck(b, x, widths[stage], stride, /*expansion=*/4, /*groups=*/1);
    }
  }
  b.Output("y", x);
  return std::move(b).Build();
}

std::span<const ModelInfo> AllModels() {
  static const std::array<ModelInfo, 2> kModels = {{
      {"resnext_block", "first ResNeXt-50 bottleneck, 1x64x56x56, 32 groups", ResNeXtBlock},
      {"resnet50", "ResNet-50 as in TASO (no stem/classifier), 1x64x56x56", ResNet50},
  }};
  return kModels;
}

absl::StatusOr<Graph> BuildModel(std::string_view name) {
  std::string names;
  for (const ModelInfo& m : AllModels()) {
    if (m.name == name) return m.build();
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

}  // namespace lemma::models
