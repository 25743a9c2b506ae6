#include "ir/onnx_export.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "ir/file_io.h"
#include "ir/onnx_util.h"
#include "ir/shape_functions.h"
#include "ir/strings.h"

namespace lemma {
namespace {

using Ints = std::vector<int64_t>;

template <typename... Args>
absl::Status Err(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

// A tensor of `type` holding `values` (logical order), in type.dtype.
WeightValue FromDoubles(const TensorType& type, const std::vector<double>& values) {
  switch (type.dtype) {
    case DType::kF32:
      return WeightValue::Of(type.dims, std::vector<float>(values.begin(), values.end()));
    case DType::kF64: return WeightValue::Of(type.dims, values);
    case DType::kI64: {
      std::vector<int64_t> v;
      for (double x : values) v.push_back(static_cast<int64_t>(x));
      return WeightValue::Of(type.dims, std::move(v));
    }
  }
  return WeightValue::Of(type.dims, values);
}

// The values of a constant op, computed here exactly as the reference
// evaluator defines them (kernels/reference.cc).
std::vector<double> ConstantValues(const Node& n) {
  const TensorType& t = n.outputs[0];
  std::vector<double> v(static_cast<size_t>(t.num_elements()), 0.0);
  switch (n.op) {
    case OpKind::kConstPool: {
      const Ints& k = n.attrs.GetInts("kernel");
      std::fill(v.begin(), v.end(), 1.0 / static_cast<double>(k[0] * k[1]));
      break;
    }
    case OpKind::kConstIdentityConv: {
      const Dims& d = t.dims;
      for (int64_t c = 0; c < d[0]; ++c) {
        v[static_cast<size_t>(((c * d[1] + c) * d[2] + d[2] / 2) * d[3] + d[3] / 2)] = 1.0;
      }
      break;
    }
    case OpKind::kConstIdentityMatrix: {
      const int64_t size = t.dims[0];
      for (int64_t i = 0; i < size; ++i) v[static_cast<size_t>(i * size + i)] = 1.0;
      break;
    }
    default: std::fill(v.begin(), v.end(), 1.0); break;
  }
  return v;
}

onnx::ValueInfoProto ValueInfo(const std::string& name, const TensorType& type) {
  onnx::ValueInfoProto info;
  info.set_name(name);
  auto* tt = info.mutable_type()->mutable_tensor_type();
  tt->set_elem_type(OnnxElemType(type.dtype));
  auto* shape = tt->mutable_shape();
  for (int64_t d : type.dims) shape->add_dim()->set_dim_value(d);
  return info;
}

class Exporter {
 public:
  Exporter(const Graph& g, const WeightValues& w, const OnnxExportOptions& options)
      : g_(g), w_(w), options_(options) {}

  absl::StatusOr<std::string> Run();

 private:
  std::string Fresh(std::string_view base);
  const std::string& Name(ValueId v) const {
    return names_[static_cast<size_t>(v.node)][static_cast<size_t>(v.index)];
  }
  onnx::NodeProto* AddNode(std::string_view op, std::vector<std::string> inputs,
                           std::vector<std::string> outputs);
  std::string Constant(std::string_view base, const WeightValue& value);
  std::string Ints64(std::string_view base, const Ints& values) {
    return Constant(base, WeightValue::Of({static_cast<int64_t>(values.size())}, values));
  }
  std::string Scalar(std::string_view base, DType dtype, double value) {
    return Constant(base, FromDoubles(TensorType::Make(dtype, {}), {value}));
  }
  void AssignNames();
  absl::Status DeclareSources();
  absl::Status ExportNode(NodeId id);
  void Activate(const Node& n, const std::string& pre, const std::string& out);
  void Window(onnx::NodeProto* node, const Attributes& attrs, bool conv);

  const Graph& g_;
  const WeightValues& w_;
  const OnnxExportOptions& options_;
  onnx::GraphProto* gp_ = nullptr;
  absl::flat_hash_set<std::string> taken_;
  std::vector<std::vector<std::string>> names_;
  // The ONNX name of each graph output, and those written through an Identity.
  std::vector<std::string> output_names_;
  std::vector<std::pair<ValueId, std::string>> identities_;
};

std::string Exporter::Fresh(std::string_view base) {
  std::string name(base);
  for (int k = 1; taken_.contains(name); ++k) name = StrCat(base, "_", k);
  taken_.insert(name);
  return name;
}

onnx::NodeProto* Exporter::AddNode(std::string_view op, std::vector<std::string> inputs,
                                   std::vector<std::string> outputs) {
  onnx::NodeProto* node = gp_->add_node();
  node->set_op_type(std::string(op));
  node->set_name(StrCat(op, "_", gp_->node_size() - 1));
  for (std::string& in : inputs) node->add_input(std::move(in));
  for (std::string& out : outputs) node->add_output(std::move(out));
  return node;
}

void SetInt(onnx::NodeProto* n, std::string_view name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void SetInts(onnx::NodeProto* n, std::string_view name, const Ints& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void SetFloat(onnx::NodeProto* n, std::string_view name, double v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(v));
}
void SetString(onnx::NodeProto* n, std::string_view name, std::string_view v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(std::string(name));
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(std::string(v));
}

std::string Exporter::Constant(std::string_view base, const WeightValue& value) {
  const std::string name = Fresh(base);
  *gp_->add_initializer() = EncodeTensor(name, value);
  return name;
}

// Names: sources keep theirs; a graph output names its value unless the value
// is a source of another name or already named by an earlier output; every
// other value keeps its lemma name when free, or gets "v<node>_<index>".
void Exporter::AssignNames() {
  names_.resize(static_cast<size_t>(g_.num_nodes()));
  for (NodeId id = 0; id < g_.num_nodes(); ++id) {
    names_[static_cast<size_t>(id)].resize(g_.node(id).outputs.size());
  }
  for (NodeId id = 0; id < g_.num_nodes(); ++id) {
    if (GetOpInfo(g_.node(id).op).Has(kTraitSource)) {
      names_[static_cast<size_t>(id)][0] = Fresh(g_.node(id).names[0]);
    }
  }
  for (const GraphOutput& o : g_.outputs()) {
    std::string& slot = names_[static_cast<size_t>(o.value.node)][static_cast<size_t>(o.value.index)];
    const bool source = GetOpInfo(g_.node(o.value.node).op).Has(kTraitSource);
    const bool named_here = std::find(output_names_.begin(), output_names_.end(), slot) !=
                            output_names_.end();
    if (slot.empty() && !taken_.contains(o.name)) {
      slot = Fresh(o.name);
      output_names_.push_back(slot);
    } else if (source && slot == o.name && !named_here) {
      output_names_.push_back(slot);  // an input or weight that is an output by its own name
    } else {
      output_names_.push_back(Fresh(o.name));
      identities_.emplace_back(o.value, output_names_.back());
    }
  }
  for (NodeId id = 0; id < g_.num_nodes(); ++id) {
    const Node& n = g_.node(id);
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      std::string& slot = names_[static_cast<size_t>(id)][i];
      if (slot.empty()) slot = Fresh(n.names[i].empty() ? StrCat("v", id, "_", i) : n.names[i]);
    }
  }
}

absl::Status Exporter::DeclareSources() {
  if (absl::Status s = CheckWeightValues(g_, w_); !s.ok()) return s;
  for (NodeId id : g_.InputNodes()) *gp_->add_input() = ValueInfo(Name({id, 0}), g_.node(id).outputs[0]);
  for (NodeId id : g_.WeightNodes()) {
    const Node& n = g_.node(id);
    auto it = w_.find(n.names[0]);
    if (it != w_.end()) {
      *gp_->add_initializer() = EncodeTensor(Name({id, 0}), it->second);
    } else if (options_.missing_weights == MissingWeightData::kGraphInput) {
      *gp_->add_input() = ValueInfo(Name({id, 0}), n.outputs[0]);
    } else {
      return Err("weight '", n.names[0], "' (", n.outputs[0].ToString(),
                 ") has no data: give its data, or export weights without data as graph inputs");
    }
  }
  return absl::OkStatus();
}

// The activation fused into conv2d or matmul, applied to `pre` into `out`.
void Exporter::Activate(const Node& n, const std::string& pre, const std::string& out) {
  static constexpr std::string_view kOps[] = {"", "Relu", "Sigmoid", "Tanh"};
  AddNode(kOps[static_cast<size_t>(n.attrs.GetEnum<Activation>("activation"))], {pre}, {out});
}

// Window attributes of Conv and the pools.
void Exporter::Window(onnx::NodeProto* node, const Attributes& attrs, bool conv) {
  SetInts(node, "strides", attrs.GetInts("stride"));
  if (attrs.GetEnum<Padding>("padding") == Padding::kSame) {
    SetString(node, "auto_pad", "SAME_UPPER");
  } else {
    SetInts(node, "pads", attrs.GetInts("pads"));
  }
  if (conv) SetInts(node, "dilations", attrs.GetInts("dilation"));
}

absl::Status Exporter::ExportNode(NodeId id) {
  const Node& n = g_.node(id);
  std::vector<std::string> in;
  for (ValueId v : n.inputs) in.push_back(Name(v));
  const std::string& out = Name({id, 0});
  const DType dtype = n.outputs[0].dtype;
  auto simple = [&](std::string_view op) { return AddNode(op, in, {out}); };
  switch (n.op) {
    case OpKind::kInput:
    case OpKind::kWeight: return absl::OkStatus();
    case OpKind::kMatMul:
    case OpKind::kConv2d: {
      const bool fused = n.attrs.GetEnum<Activation>("activation") != Activation::kNone;
      const std::string pre = fused ? Fresh(StrCat(out, "_pre")) : out;
      onnx::NodeProto* node = AddNode(n.op == OpKind::kMatMul ? "MatMul" : "Conv", in, {pre});
      if (n.op == OpKind::kConv2d) {
        const TensorType& w = g_.type(n.inputs[1]);
        SetInts(node, "kernel_shape", {w.dim(2), w.dim(3)});
        Window(node, n.attrs, true);
        SetInt(node, "group", n.attrs.GetInt("groups"));
      }
      if (fused) Activate(n, pre, out);
      return absl::OkStatus();
    }
    case OpKind::kEwAdd:
    case OpKind::kBroadcastAdd: simple("Add"); return absl::OkStatus();
    case OpKind::kEwMul:
    case OpKind::kScalarMul:
    case OpKind::kBroadcastMul: simple("Mul"); return absl::OkStatus();
    case OpKind::kBroadcastSub: simple("Sub"); return absl::OkStatus();
    case OpKind::kBroadcastDiv: simple("Div"); return absl::OkStatus();
    case OpKind::kRelu: simple("Relu"); return absl::OkStatus();
    case OpKind::kSigmoid: simple("Sigmoid"); return absl::OkStatus();
    case OpKind::kTanh: simple("Tanh"); return absl::OkStatus();
    case OpKind::kAvgPool2d:
    case OpKind::kMaxPool2d: {
      const bool max = n.op == OpKind::kMaxPool2d;
      onnx::NodeProto* node = simple(max ? "MaxPool" : "AveragePool");
      SetInts(node, "kernel_shape", n.attrs.GetInts("kernel"));
      Window(node, n.attrs, false);
      if (!max && n.attrs.GetInt("count_include_pad") != 0) SetInt(node, "count_include_pad", 1);
      return absl::OkStatus();
    }
    case OpKind::kConcat: SetInt(simple("Concat"), "axis", n.attrs.GetInt("axis")); return absl::OkStatus();
    case OpKind::kSplit: {
      std::vector<std::string> outs;
      for (size_t i = 0; i < n.outputs.size(); ++i) outs.push_back(Name({id, static_cast<int32_t>(i)}));
      onnx::NodeProto* node =
          AddNode("Split", {in[0], Ints64(StrCat(out, "_sizes"), n.attrs.GetInts("sizes"))}, outs);
      SetInt(node, "axis", n.attrs.GetInt("axis"));
      return absl::OkStatus();
    }
    case OpKind::kTranspose: SetInts(simple("Transpose"), "perm", n.attrs.GetInts("perm")); return absl::OkStatus();
    case OpKind::kEnlarge: {
      const TensorType& w = g_.type(n.inputs[0]);
      const int64_t dy = (n.outputs[0].dim(2) - w.dim(2)) / 2, dx = (n.outputs[0].dim(3) - w.dim(3)) / 2;
      AddNode("Pad", {in[0], Ints64(StrCat(out, "_pads"), {0, 0, dy, dx, 0, 0, dy, dx})}, {out});
      return absl::OkStatus();
    }
    case OpKind::kConstPool:
    case OpKind::kConstIdentityConv:
    case OpKind::kConstIdentityMatrix:
    case OpKind::kConstOnes: {
      const std::string c = Constant(StrCat(out, "_value"), FromDoubles(n.outputs[0], ConstantValues(n)));
      AddNode("Identity", {c}, {out});
      return absl::OkStatus();
    }
    case OpKind::kGelu: {
      // x * 0.5 * (1 + erf(x / sqrt(2))), in the order PyTorch exports it.
      const std::string s = Fresh(StrCat(out, "_scaled")), e = Fresh(StrCat(out, "_erf"));
      const std::string a = Fresh(StrCat(out, "_erf1")), m = Fresh(StrCat(out, "_xerf1"));
      AddNode("Div", {in[0], Scalar(StrCat(out, "_sqrt2"), dtype, std::sqrt(2.0))}, {s});
      AddNode("Erf", {s}, {e});
      AddNode("Add", {e, Scalar(StrCat(out, "_one"), dtype, 1.0)}, {a});
      AddNode("Mul", {in[0], a}, {m});
      AddNode("Mul", {m, Scalar(StrCat(out, "_half"), dtype, 0.5)}, {out});
      return absl::OkStatus();
    }
    case OpKind::kBatchNorm: SetFloat(simple("BatchNormalization"), "epsilon", n.attrs.GetFloat("epsilon")); return absl::OkStatus();
    case OpKind::kSoftmax: SetInt(simple("Softmax"), "axis", n.attrs.GetInt("axis")); return absl::OkStatus();
    case OpKind::kReshape: {
      const Ints& shape = n.attrs.GetInts("shape");
      onnx::NodeProto* node = AddNode("Reshape", {in[0], Ints64(StrCat(out, "_shape"), shape)}, {out});
      if (std::find(shape.begin(), shape.end(), 0) != shape.end()) SetInt(node, "allowzero", 1);
      return absl::OkStatus();
    }
    case OpKind::kLayerNorm: {
      onnx::NodeProto* node = simple("LayerNormalization");
      SetInt(node, "axis", n.attrs.GetInt("axis"));
      SetFloat(node, "epsilon", n.attrs.GetFloat("epsilon"));
      return absl::OkStatus();
    }
    case OpKind::kPad:
      AddNode("Pad", {in[0], Ints64(StrCat(out, "_pads"), n.attrs.GetInts("pads")),
                      Scalar(StrCat(out, "_value"), dtype, n.attrs.GetFloat("value"))},
              {out});
      return absl::OkStatus();
    case OpKind::kSlice: {
      Ints steps = n.attrs.GetInts("steps");
      if (steps.empty()) steps.assign(n.attrs.GetInts("axes").size(), 1);
      AddNode("Slice",
              {in[0], Ints64(StrCat(out, "_starts"), n.attrs.GetInts("starts")),
               Ints64(StrCat(out, "_ends"), n.attrs.GetInts("ends")),
               Ints64(StrCat(out, "_axes"), n.attrs.GetInts("axes")),
               Ints64(StrCat(out, "_steps"), steps)},
              {out});
      return absl::OkStatus();
    }
    case OpKind::kReduceSum: {
      onnx::NodeProto* node =
          AddNode("ReduceSum", {in[0], Ints64(StrCat(out, "_axes"), n.attrs.GetInts("axes"))}, {out});
      SetInt(node, "keepdims", n.attrs.GetInt("keepdims"));
      return absl::OkStatus();
    }
    case OpKind::kReduceMean:
    case OpKind::kReduceMax: {
      onnx::NodeProto* node = simple(n.op == OpKind::kReduceMean ? "ReduceMean" : "ReduceMax");
      SetInts(node, "axes", n.attrs.GetInts("axes"));
      SetInt(node, "keepdims", n.attrs.GetInt("keepdims"));
      return absl::OkStatus();
    }
  }
  return Err(g_.Describe(id), ": no ONNX form");
}

absl::StatusOr<std::string> Exporter::Run() {
  if (absl::Status s = g_.Validate(); !s.ok()) return s;
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.set_producer_name("lemma");
  model.set_producer_version("0.1.0");
  onnx::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxExportOpset);
  gp_ = model.mutable_graph();
  gp_->set_name(g_.name());
  AssignNames();
  if (absl::Status s = DeclareSources(); !s.ok()) return s;
  for (NodeId id : g_.TopologicalOrder()) {
    if (absl::Status s = ExportNode(id); !s.ok()) return s;
  }
  for (const auto& [value, name] : identities_) AddNode("Identity", {Name(value)}, {name});
  const absl::flat_hash_set<std::string> outputs(output_names_.begin(), output_names_.end());
  for (size_t i = 0; i < output_names_.size(); ++i) {
    *gp_->add_output() = ValueInfo(output_names_[i], g_.type(g_.outputs()[i].value));
  }
  if (options_.value_info) {
    for (NodeId id : g_.TopologicalOrder()) {
      const Node& n = g_.node(id);
      if (GetOpInfo(n.op).Has(kTraitSource)) continue;
      for (size_t i = 0; i < n.outputs.size(); ++i) {
        const std::string& name = Name({id, static_cast<int32_t>(i)});
        if (!outputs.contains(name)) *gp_->add_value_info() = ValueInfo(name, n.outputs[i]);
      }
    }
  }
  if (model.ByteSizeLong() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Err("the model is over 2 GiB, which ONNX's protobuf encoding cannot hold");
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) return absl::InternalError("protobuf serialization failed");
  return bytes;
}

}  // namespace

absl::StatusOr<std::string> SerializeOnnxModel(const Graph& graph, const WeightValues& weights,
                                               const OnnxExportOptions& options) {
  Exporter exporter(graph, weights, options);
  return exporter.Run();
}

absl::Status WriteOnnxFile(const std::string& path, const Graph& graph, const WeightValues& weights,
                           const OnnxExportOptions& options) {
  absl::StatusOr<std::string> bytes = SerializeOnnxModel(graph, weights, options);
  if (!bytes.ok()) return absl::Status(bytes.status().code(), StrCat(path, ": ", bytes.status().message()));
  return WriteFileAtomically(path, *bytes);
}

}  // namespace lemma
