#include "optimizer/cost_model.h"

#include <algorithm>
#include <array>

#include "ir/hash.h"
#include "ir/strings.h"

namespace lemma {
namespace {

double Elements(const TensorType& t) { return static_cast<double>(t.num_elements()); }
double Bytes(const TensorType& t) { return Elements(t) * DTypeSize(t.dtype); }

bool IsGemm(OpKind op) { return op == OpKind::kConv2d || op == OpKind::kMatMul; }

// Whether the kernel of `op` writes its output in whatever layout it is given.
bool WritesAnyLayout(OpKind op) {
  return IsGemm(op) || IsLayoutPreserving(op) || GetOpInfo(op).Has(kTraitConstant);
}

bool IsConv4d(const OpCostKey& key) {
  return key.op == OpKind::kConv2d && key.inputs.size() >= 2 && key.inputs[0].rank() == 4 &&
         key.inputs[1].rank() == 4 && !key.outputs.empty() && key.outputs[0].rank() == 4;
}

// Whether conv `key` has groups of several channels (not a depthwise conv).
bool IsGroupedConv(const OpCostKey& key) {
  const TensorType& w = key.inputs[1];
  const int64_t groups = key.attrs.GetInt("groups");
  return groups > 1 && !(w.dim(1) == 1 && w.dim(0) == groups);
}

// The layout conv `key` computes in at full speed.
Layout NativeConvLayout(const MachineSpec& spec, const OpCostKey& key) {
  return IsGroupedConv(key) ? spec.grouped_conv_layout : spec.conv_layout;
}

// The speed of conv `key` computed in `layout`, relative to its native one.
double ConvLayoutSpeed(const MachineSpec& spec, const OpCostKey& key, Layout layout) {
  return layout == NativeConvLayout(spec, key) ? 1.0 : spec.other_conv_layout_speed;
}

// The layout the analytical model's kernel reads input `index` in.
Layout NativeInputLayout(const MachineSpec& spec, const OpCostKey& key, int index) {
  const TensorType& in = key.inputs[static_cast<size_t>(index)];
  if (key.op == OpKind::kConv2d && in.rank() == 4) return NativeConvLayout(spec, key);
  if (key.op == OpKind::kMatMul && in.rank() == 2) {
    return index == 0 ? Layout::kRowMajor : Layout::kColMajor;
  }
  if (IsLayoutPreserving(key.op) && !key.outputs.empty() &&
      in.rank() == key.outputs[0].rank()) {
    return key.outputs[0].layout;
  }
  return DefaultLayout(in.rank());
}

}  // namespace

// ---------------------------------------------------------------- OpCostKey

uint64_t OpCostKey::Hash() const {
  uint64_t h = HashAttributes(attrs);
  h = HashCombine(h, inputs.size());
  for (const TensorType& t : inputs) h = HashCombine(h, HashTensorType(t));
  h = HashCombine(h, outputs.size());
  for (const TensorType& t : outputs) h = HashCombine(h, HashTensorType(t));
  return h;
}

std::string OpCostKey::ToString() const {
  std::vector<std::string> attr_text;
  for (size_t i = 0; i < attrs.values().size(); ++i) {
    if (attrs.values()[i] && !attrs.IsDefault(i)) attr_text.push_back(attrs.FormatValue(i));
  }
  std::vector<std::string> in, out;
  for (const TensorType& t : inputs) in.push_back(t.ToString());
  for (const TensorType& t : outputs) out.push_back(t.ToString());
  return StrCat(OpName(op), attr_text.empty() ? "" : StrCat("{", StrJoin(attr_text, ", "), "}"),
                "(", StrJoin(in, ", "), ") -> ", StrJoin(out, ", "));
}

// ---------------------------------------------------------------- layouts

std::span<const Layout> AllowedLayouts(int rank) {
  static constexpr std::array<Layout, 2> kRank4 = {Layout::kNCHW, Layout::kNHWC};
  static constexpr std::array<Layout, 2> kRank2 = {Layout::kRowMajor, Layout::kColMajor};
  static constexpr std::array<Layout, 1> kOther = {Layout::kRowMajor};
  if (rank == 4) return kRank4;
  if (rank == 2) return kRank2;
  return kOther;
}

bool IsLayoutPreserving(OpKind op) {
  switch (op) {
    case OpKind::kScalarMul:
    case OpKind::kConcat:
    case OpKind::kSplit:
    case OpKind::kAvgPool2d:
    case OpKind::kMaxPool2d:
    case OpKind::kBatchNorm:
    // The runtimes broadcast along any strides, and fuse a conv's bias add
    // into the conv in whichever layout it writes. Charged two reorders here,
    // channels-last SqueezeNet cost 2.18 ms against 1.98 for the mixed
    // layouts the descent then chose, which ran 1.26-1.32x slower on the CPU
    // backend than the channels-last graph it chooses now.
    case OpKind::kBroadcastAdd:
    case OpKind::kBroadcastMul:
      return true;
    default:
      return GetOpInfo(op).Has(kTraitElementwise);
  }
}

// ---------------------------------------------------------------- analytical

double AnalyticalCostModel::Flops(const OpCostKey& key) {
  if (key.outputs.empty()) return 0;
  const double out = Elements(key.outputs[0]);
  switch (key.op) {
    case OpKind::kConv2d: {
      const TensorType& w = key.inputs[1];
      return 2.0 * out * static_cast<double>(w.dim(1) * w.dim(2) * w.dim(3));
    }
    case OpKind::kMatMul:
      return 2.0 * out * static_cast<double>(key.inputs[0].dims.back());
    case OpKind::kEwAdd:
    case OpKind::kEwMul:
    case OpKind::kScalarMul:
    case OpKind::kRelu:
    case OpKind::kBroadcastAdd:
    case OpKind::kBroadcastMul:
      return out;
    case OpKind::kSigmoid:
    case OpKind::kTanh:
    case OpKind::kGelu:
      return 20.0 * out;
    case OpKind::kAvgPool2d:
    case OpKind::kMaxPool2d: {
      const std::vector<int64_t>& k = key.attrs.GetInts("kernel");
      return out * static_cast<double>(k[0] * k[1]);
    }
    case OpKind::kBatchNorm:
      return 2.0 * out;
    case OpKind::kLayerNorm:
      return 8.0 * out;
    case OpKind::kSoftmax:
      return 25.0 * out;
    case OpKind::kReduceSum:
    case OpKind::kReduceMean:
    case OpKind::kReduceMax:
      return Elements(key.inputs[0]);
    default:
      return 0;  // data movement and constants
  }
}

double AnalyticalCostModel::TransferTime(double bytes) const {
  const double bandwidth =
      bytes <= spec_.cache_bytes ? spec_.cache_bandwidth : spec_.dram_bandwidth;
  return bytes / bandwidth;
}

double AnalyticalCostModel::ConversionCost(const TensorType& type) const {
  const double bytes = 2.0 * Bytes(type);
  return spec_.op_overhead + std::max(TransferTime(bytes), bytes / spec_.reorder_bandwidth);
}

double AnalyticalCostModel::ComputeCost(const OpCostKey& key, double speed) const {
  double bytes = 0;
  for (const TensorType& t : key.inputs) bytes += Bytes(t);
  for (const TensorType& t : key.outputs) bytes += Bytes(t);
  const double efficiency = IsGemm(key.op) ? spec_.gemm_efficiency : spec_.other_efficiency;
  return spec_.op_overhead +
         std::max(Flops(key) / (spec_.peak_flops * efficiency * speed), TransferTime(bytes));
}

double AnalyticalCostModel::ConvCostIn(const OpCostKey& key, Layout layout, int skip) const {
  double seconds = ComputeCost(key, ConvLayoutSpeed(spec_, key, layout));
  // A grouped conv reads and writes the other layout a group's few channels
  // at a time, with a stride: ResNeXt's 128x56x56 conv of 32 groups took
  // 0.36 ms more with an NHWC output, 0.82 ms more with an NHWC input, and
  // a reorder of that tensor 0.19 ms (bench/README.md).
  const double reorders = IsGroupedConv(key) ? spec_.grouped_conv_reorders : 1.0;
  for (size_t i = 0; i < key.inputs.size(); ++i) {
    const TensorType& t = key.inputs[i];
    if (static_cast<int>(i) != skip && t.rank() == 4 && t.layout != layout) {
      seconds += reorders * ConversionCost(t);
    }
  }
  if (key.outputs[0].layout != layout) seconds += reorders * ConversionCost(key.outputs[0]);
  return seconds;
}

Layout AnalyticalCostModel::ConvComputeLayout(const OpCostKey& key, int skip) const {
  const Layout native = NativeConvLayout(spec_, key);
  // lemma's grouped conv kernels compute NCHW whatever the layouts around them.
  if (IsGroupedConv(key)) return native;
  const Layout other = native == Layout::kNCHW ? Layout::kNHWC : Layout::kNCHW;
  return ConvCostIn(key, other, skip) < ConvCostIn(key, native, skip) ? other : native;
}

bool AnalyticalCostModel::IsView(const OpCostKey& key) const {
  if (key.op == OpKind::kReshape) {
    return key.inputs[0].layout == DefaultLayout(key.inputs[0].rank()) &&
           key.outputs[0].layout == DefaultLayout(key.outputs[0].rank());
  }
  return false;
}

double AnalyticalCostModel::OpCost(const OpCostKey& key) {
  if (GetOpInfo(key.op).Has(kTraitSource)) return 0;
  double seconds = 0;
  if (key.op == OpKind::kSplit) {
    // Pieces are views of the input; one in another layout is a reorder of it.
    for (const TensorType& o : key.outputs) {
      if (o.layout != key.inputs[0].layout) seconds += ConversionCost(o);
    }
    return seconds;
  }
  if (IsConv4d(key)) return ConvCostIn(key, ConvComputeLayout(key, -1), -1);
  if (!IsView(key)) seconds = ComputeCost(key, 1.0);
  for (size_t i = 0; i < key.inputs.size(); ++i) {
    if (key.inputs[i].layout != NativeInputLayout(spec_, key, static_cast<int>(i))) {
      seconds += ConversionCost(key.inputs[i]);
    }
  }
  for (size_t i = 0; i < key.outputs.size(); ++i) {
    const TensorType& o = key.outputs[i];
    const Layout native = WritesAnyLayout(key.op)
                              ? (IsLayoutPreserving(key.op) ? key.outputs[0].layout : o.layout)
                              : DefaultLayout(o.rank());
    if (o.layout != native) seconds += ConversionCost(o);
  }
  return seconds;
}

Layout AnalyticalCostModel::PreferredInputLayout(const OpCostKey& key, int index) {
  if (IsConv4d(key) && key.inputs[static_cast<size_t>(index)].rank() == 4) {
    return ConvComputeLayout(key, index);
  }
  return NativeInputLayout(spec_, key, index);
}

std::string AnalyticalCostModel::Name() const {
  return StrCat("analytical roofline (", spec_.peak_flops / 1e9, " GFLOP/s, ",
                spec_.dram_bandwidth / 1e9, " GB/s DRAM, ", spec_.cache_bandwidth / 1e9,
                " GB/s cache, ", LayoutName(spec_.conv_layout), " convs, ",
                LayoutName(spec_.grouped_conv_layout), " grouped ones)");
}

// ---------------------------------------------------------------- measured

double MeasuredCostModel::OpCost(const OpCostKey& key) {
  if (GetOpInfo(key.op).Has(kTraitSource)) return 0;
  absl::StatusOr<double> seconds = measurer_->Measure(key);
  if (seconds.ok()) {
    ++measured_;
    return *seconds;
  }
  ++fell_back_;
  return fallback_->OpCost(key);
}

Layout MeasuredCostModel::PreferredInputLayout(const OpCostKey& key, int index) {
  return measurer_->PreferredInputLayout(key, index);
}

std::string MeasuredCostModel::Name() const {
  return StrCat("measured on ", measurer_->Name(), ", else ", fallback_->Name());
}

// ---------------------------------------------------------------- cache

double CachedCostModel::OpCost(const OpCostKey& key) {
  const uint64_t hash = key.Hash();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Entry>& bucket = costs_[hash];
  for (const Entry& e : bucket) {
    if (e.key == key) {
      ++hits_;
      return e.cost;
    }
  }
  ++misses_;
  const double cost = model_->OpCost(key);
  bucket.push_back({key, cost});
  ++entries_;
  return cost;
}

int64_t CachedCostModel::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

int64_t CachedCostModel::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

int64_t CachedCostModel::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_;
}

}  // namespace lemma
