#include "ir/onnx_import.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "ir/file_io.h"
#include "ir/onnx_fold.h"
#include "ir/onnx_util.h"
#include "ir/shape_functions.h"
#include "ir/status_macros.h"
#include "ir/strings.h"
#include "onnx/onnx_pb.h"

namespace lemma {
namespace {

using onnx::AttributeProto;
using onnx::NodeProto;
using onnx::TensorProto;
using Ints = std::vector<int64_t>;


template <typename... Args>
absl::Status Err(const Args&... args) {
  return absl::InvalidArgumentError(StrCat(args...));
}

// The op types read; Shape, Gather, Cast, ... are folded when their inputs are
// static (ir/onnx_fold.h).
constexpr std::array<std::string_view, 53> kSupportedOps = {
    "Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Concat", "Constant",
    "ConstantOfShape", "Conv", "Div", "Dropout", "Equal", "Expand", "Flatten", "Floor",
    "Gather", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "Identity",
    "LayerNormalization", "Less", "MatMul", "Max", "MaxPool", "Min", "Mul", "Neg", "Not", "Pad",
    "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape", "Shape",
    "Sigmoid", "Size", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh",
    "Transpose", "Unsqueeze", "Where",
};

bool IsDefaultDomain(const std::string& domain) {
  return domain.empty() || domain == "ai.onnx";
}

// ---- Attributes of an ONNX node.

const AttributeProto* FindAttr(const NodeProto& n, std::string_view name) {
  for (const AttributeProto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}

absl::Status WrongAttrType(const AttributeProto& a, std::string_view want) {
  return Err("attribute '", a.name(), "' must be ", want);
}

absl::StatusOr<int64_t> IntAttr(const NodeProto& n, std::string_view name,
                                std::optional<int64_t> fallback) {
  const AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) {
    if (!fallback) return Err("attribute '", name, "' is required");
    return *fallback;
  }
  if (a->type() != AttributeProto::INT) return WrongAttrType(*a, "an integer");
  return a->i();
}

absl::StatusOr<std::optional<Ints>> IntsAttr(const NodeProto& n, std::string_view name) {
  const AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) return std::optional<Ints>();
  if (a->type() != AttributeProto::INTS) return WrongAttrType(*a, "a list of integers");
  return std::optional<Ints>(Ints(a->ints().begin(), a->ints().end()));
}

// A float32 as the double of its shortest decimal form (1e-05f -> 1e-05), so
// that a lemma attribute written as a float attribute reads back unchanged.
double FromFloat(float f) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf - 1, f);
  if (ec != std::errc()) return static_cast<double>(f);
  *end = '\0';
  return std::strtod(buf, nullptr);
}

absl::StatusOr<double> FloatAttr(const NodeProto& n, std::string_view name, double fallback) {
  const AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) return FromFloat(static_cast<float>(fallback));
  if (a->type() != AttributeProto::FLOAT) return WrongAttrType(*a, "a float");
  return FromFloat(a->f());
}

absl::StatusOr<std::string> StringAttr(const NodeProto& n, std::string_view name,
                                       std::string_view fallback) {
  const AttributeProto* a = FindAttr(n, name);
  if (a == nullptr) return std::string(fallback);
  if (a->type() != AttributeProto::STRING) return WrongAttrType(*a, "a string");
  return a->s();
}

// ---- Names.

std::string Sanitize(std::string_view name) {
  std::string out;
  for (char c : name) out.push_back(IsNameChar(c) ? c : '_');
  if (out.empty() || !IsNameStart(out[0])) out.insert(out.begin(), '_');
  return out;
}

// For messages: a name with control characters escaped, cut at 120 bytes.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 120)) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  if (s.size() > 120) out += "...";
  return out;
}

// ---- The importer.

// The single ONNX node of a pattern that produces the pattern's result, and
// the ONNX value it computes from.
struct GeluMatch {
  std::string x;
};

class Importer {
 public:
  Importer(std::string_view filename, int64_t opset, const OnnxImportOptions& options)
      : file_(filename), opset_(opset), options_(options) {}

  absl::StatusOr<Model> Run(const onnx::GraphProto& gp);

 private:
  // Node context for messages.
  std::string NodeLabel(int index) const;
  absl::Status NodeError(int index, const absl::Status& s) const;
  absl::Status FileError(const absl::Status& s) const {
    return absl::Status(s.code(), StrCat(file_, ": ", s.message()));
  }

  // Values.
  absl::StatusOr<const WeightValue*> ConstantData(const std::string& name);
  absl::StatusOr<ValueId> In(const std::string& name);
  absl::StatusOr<ValueId> Input(const NodeProto& n, int i);
  bool HasInput(const NodeProto& n, int i) const {
    return n.input_size() > i && !n.input(i).empty();
  }
  absl::StatusOr<const WeightValue*> ConstInput(const NodeProto& n, int i, std::string_view what);
  absl::StatusOr<Ints> ConstInts(const NodeProto& n, int i, std::string_view what);
  absl::StatusOr<std::optional<double>> ScalarConstant(const std::string& name);
  std::optional<double> ScalarOrNone(const std::string& name) {
    absl::StatusOr<std::optional<double>> v = ScalarConstant(name);
    return v.ok() ? *v : std::nullopt;
  }
  absl::Status Bind(const std::string& onnx_name, ValueId v);
  std::string UniqueName(std::string_view onnx_name);
  absl::StatusOr<ValueId> NewWeight(std::string_view base, WeightValue data);
  absl::StatusOr<ValueId> ScalarWeight(std::string_view base, DType dtype, double value);
  bool OutputUsed(const NodeProto& n, int i) const;
  bool SingleUse(const std::string& value) const;
  int SingleConsumer(const std::string& value) const;

  // IR nodes.
  absl::StatusOr<NodeId> EmitNode(OpKind op, Attributes attrs, std::vector<ValueId> in);
  absl::StatusOr<ValueId> Emit(OpKind op, Attributes attrs, std::vector<ValueId> in);
  absl::StatusOr<ValueId> Emit(OpKind op, std::vector<ValueId> in) {
    return Emit(op, Attributes(op), std::move(in));
  }
  absl::StatusOr<ValueId> Reshape(ValueId v, Dims dims);
  absl::StatusOr<ValueId> Add(ValueId a, ValueId b);
  absl::StatusOr<ValueId> Mul(ValueId a, ValueId b);
  const TensorType& T(ValueId v) const { return g_.type(v); }

  // Patterns and fusion.
  void FindGeluPatterns();
  std::optional<std::string> MatchGelu(int erf_index, std::vector<int>& nodes);
  absl::StatusOr<bool> TryLayerNorm(int index);
  std::optional<Activation> FusibleActivation(const std::string& value, int* consumer) const;

  // Conversion.
  absl::Status ConvertNode(int index);
  absl::Status Conv(int index);
  absl::Status Gemm(int index);
  absl::Status MatMul(int index);
  absl::Status Binary(const NodeProto& n);
  absl::Status Pool(const NodeProto& n, bool max);
  absl::Status GlobalPool(const NodeProto& n, bool max);
  absl::Status BatchNorm(const NodeProto& n);
  absl::Status Split(const NodeProto& n);
  absl::Status ReshapeOp(const NodeProto& n);
  absl::Status Flatten(const NodeProto& n);
  absl::Status Transpose(const NodeProto& n);
  absl::Status Softmax(const NodeProto& n);
  absl::Status LayerNorm(const NodeProto& n);
  absl::Status Pad(const NodeProto& n);
  absl::Status Slice(const NodeProto& n);
  absl::Status Squeeze(const NodeProto& n, bool unsqueeze);
  absl::Status Reduce(const NodeProto& n, OpKind op);
  absl::Status Constant(const NodeProto& n);
  absl::StatusOr<bool> TryFold(int index);
  absl::StatusOr<bool> MapDynamic(const NodeProto& n);
  absl::Status NotStatic(const NodeProto& n, int input) const;
  absl::StatusOr<std::optional<Ints>> AxesOf(const NodeProto& n, int input_since_opset);
  absl::StatusOr<std::pair<Padding, Ints>> Padding2d(const NodeProto& n, const Dims& x,
                                                     const Ints& kernel, const Ints& stride,
                                                     const Ints& dilation);

  // Declared types.
  absl::Status DeclareInput(const onnx::ValueInfoProto& info);
  absl::StatusOr<std::optional<TensorType>> DeclaredType(const onnx::ValueInfoProto& info,
                                                         bool require_shape) const;
  absl::Status CheckDeclared(const onnx::ValueInfoProto& info);

  std::string file_;
  int64_t opset_;
  const OnnxImportOptions& options_;
  const onnx::GraphProto* gp_ = nullptr;
  Graph g_;
  WeightValues weights_;

  absl::flat_hash_map<std::string, ValueId> values_;
  absl::flat_hash_map<std::string, const TensorProto*> initializers_;
  // Pointer-stable: ConstantData hands out pointers while adding entries.
  std::unordered_map<std::string, WeightValue> constants_;
  // The constants computed by folding nodes.
  absl::flat_hash_set<std::string> folded_;
  absl::flat_hash_map<std::string, int> producer_;
  absl::flat_hash_map<std::string, std::vector<int>> consumers_;
  absl::flat_hash_set<std::string> graph_outputs_;
  std::vector<bool> absorbed_;
  absl::flat_hash_map<int, GeluMatch> gelu_at_;
};

std::string Importer::NodeLabel(int index) const {
  const NodeProto& n = gp_->node(index);
  const std::string who =
      n.name().empty() ? StrCat("node #", index) : StrCat("node '", Printable(n.name()), "'");
  return StrCat(who, " (", Printable(n.op_type()), ", opset ", opset_, ")");
}

absl::Status Importer::NodeError(int index, const absl::Status& s) const {
  return absl::Status(s.code(), StrCat(file_, ": ", NodeLabel(index), ": ", s.message()));
}

// ---- Values.

absl::StatusOr<const WeightValue*> Importer::ConstantData(const std::string& name) {
  if (auto it = constants_.find(name); it != constants_.end()) return &it->second;
  auto init = initializers_.find(name);
  if (init == initializers_.end()) return static_cast<const WeightValue*>(nullptr);
  absl::StatusOr<WeightValue> value = DecodeTensor(*init->second, options_.max_tensor_elements);
  if (!value.ok()) return Err("initializer '", Printable(name), "': ", value.status().message());
  return &constants_.emplace(name, *std::move(value)).first->second;
}

std::string Importer::UniqueName(std::string_view onnx_name) {
  const std::string base = Sanitize(onnx_name);
  std::string name = base;
  for (int k = 1; g_.FindValue(name).has_value(); ++k) name = StrCat(base, "_", k);
  return name;
}

absl::StatusOr<ValueId> Importer::NewWeight(std::string_view base, WeightValue data) {
  const std::string name = UniqueName(base);
  absl::StatusOr<ValueId> v = g_.AddWeight(name, data.type);
  if (!v.ok()) return v.status();
  weights_.emplace(name, std::move(data));
  return v;
}

absl::StatusOr<ValueId> Importer::ScalarWeight(std::string_view base, DType dtype, double value) {
  switch (dtype) {
    case DType::kF32: return NewWeight(base, WeightValue::Of({}, std::vector<float>{static_cast<float>(value)}));
    case DType::kF64: return NewWeight(base, WeightValue::Of({}, std::vector<double>{value}));
    case DType::kI64:
      return NewWeight(base, WeightValue::Of({}, std::vector<int64_t>{static_cast<int64_t>(value)}));
  }
  return Err("bad dtype");
}

absl::StatusOr<ValueId> Importer::In(const std::string& name) {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  LEMMA_ASSIGN_OR_RETURN(const WeightValue* data, ConstantData(name));
  if (data == nullptr) {
    return Err("input '", Printable(name),
               "' is not defined by a graph input, an initializer or an earlier node");
  }
  LEMMA_ASSIGN_OR_RETURN(ValueId v, NewWeight(name, *data));
  values_.emplace(name, v);
  return v;
}

absl::StatusOr<ValueId> Importer::Input(const NodeProto& n, int i) {
  if (!HasInput(n, i)) return Err("input ", i, " is required");
  return In(n.input(i));
}

absl::StatusOr<const WeightValue*> Importer::ConstInput(const NodeProto& n, int i,
                                                        std::string_view what) {
  if (!HasInput(n, i)) return Err(what, " (input ", i, ") is required");
  LEMMA_ASSIGN_OR_RETURN(const WeightValue* data, ConstantData(n.input(i)));
  if (data == nullptr) {
    return Err(what, " (input ", i, ", '", Printable(n.input(i)),
               "') must be a constant: an initializer or the output of a Constant node");
  }
  return data;
}

absl::StatusOr<Ints> Importer::ConstInts(const NodeProto& n, int i, std::string_view what) {
  LEMMA_ASSIGN_OR_RETURN(const WeightValue* data, ConstInput(n, i, what));
  if (data->type.dtype != DType::kI64) return Err(what, " must hold integers");
  if (data->type.rank() > 1) return Err(what, " must be a list (rank 1), got ", data->type.ToString());
  return std::get<std::vector<int64_t>>(data->data);
}

absl::StatusOr<std::optional<double>> Importer::ScalarConstant(const std::string& name) {
  LEMMA_ASSIGN_OR_RETURN(const WeightValue* data, ConstantData(name));
  if (data == nullptr || data->size() != 1) return std::optional<double>();
  return std::optional<double>(data->AsDouble(0));
}

absl::Status Importer::Bind(const std::string& onnx_name, ValueId v) {
  if (onnx_name.empty()) return absl::OkStatus();
  if (values_.contains(onnx_name) || initializers_.contains(onnx_name) ||
      constants_.contains(onnx_name)) {
    return Err("value '", Printable(onnx_name), "' is defined twice");
  }
  values_.emplace(onnx_name, v);
  const Node& node = g_.node(v.node);
  if (!GetOpInfo(node.op).Has(kTraitSource) && node.names[static_cast<size_t>(v.index)].empty()) {
    return g_.SetName(v, UniqueName(onnx_name));
  }
  return absl::OkStatus();
}

bool Importer::OutputUsed(const NodeProto& n, int i) const {
  if (n.output_size() <= i || n.output(i).empty()) return false;
  return consumers_.contains(n.output(i)) || graph_outputs_.contains(n.output(i));
}

// Whether `value` is read by exactly one node input and is no graph output.
bool Importer::SingleUse(const std::string& value) const {
  return SingleConsumer(value) >= 0;
}

int Importer::SingleConsumer(const std::string& value) const {
  if (graph_outputs_.contains(value)) return -1;
  auto it = consumers_.find(value);
  if (it == consumers_.end() || it->second.size() != 1) return -1;
  return it->second[0];
}

// ---- IR nodes.

absl::StatusOr<NodeId> Importer::EmitNode(OpKind op, Attributes attrs, std::vector<ValueId> in) {
  absl::StatusOr<NodeId> id = g_.AddNode(op, std::move(attrs), std::move(in));
  if (!id.ok()) return id.status();
  for (const TensorType& t : g_.node(*id).outputs) {
    if (t.num_elements() > options_.max_tensor_elements) {
      return Err(OpName(op), ": output ", t.ToString(), " has more than ",
                 options_.max_tensor_elements, " elements");
    }
  }
  return id;
}

absl::StatusOr<ValueId> Importer::Emit(OpKind op, Attributes attrs, std::vector<ValueId> in) {
  LEMMA_ASSIGN_OR_RETURN(NodeId id, EmitNode(op, std::move(attrs), std::move(in)));
  return ValueId{id, 0};
}

absl::StatusOr<Attributes> MakeAttrs(OpKind op,
                                     std::initializer_list<std::pair<std::string_view, AttrValue>> kv) {
  Attributes attrs(op);
  for (const auto& [name, value] : kv) {
    if (absl::Status s = attrs.Set(name, value); !s.ok()) return s;
  }
  return attrs;
}

absl::StatusOr<ValueId> Importer::Reshape(ValueId v, Dims dims) {
  LEMMA_ASSIGN_OR_RETURN(Attributes a, MakeAttrs(OpKind::kReshape, {{"shape", std::move(dims)}}));
  return Emit(OpKind::kReshape, std::move(a), {v});
}

absl::StatusOr<ValueId> Importer::Add(ValueId a, ValueId b) {
  return Emit(T(a).dims == T(b).dims ? OpKind::kEwAdd : OpKind::kBroadcastAdd, {a, b});
}

absl::StatusOr<ValueId> Importer::Mul(ValueId a, ValueId b) {
  if (T(a).dims == T(b).dims) return Emit(OpKind::kEwMul, {a, b});
  if (T(b).rank() == 0) return Emit(OpKind::kScalarMul, {a, b});
  if (T(a).rank() == 0) return Emit(OpKind::kScalarMul, {b, a});
  return Emit(OpKind::kBroadcastMul, {a, b});
}

// ---- Patterns.

bool Near(std::optional<double> v, double want) {
  return v && std::fabs(*v - want) <= 1e-4 * std::max(1.0, std::fabs(want));
}

// The GELU of Erf form, as PyTorch and most exporters write it:
//   e = Erf(Div(x, sqrt(2)))   (or Mul(x, 1/sqrt(2)))
//   y = Mul(Mul(x, Add(e, 1)), 0.5)   or   Mul(Mul(x, 0.5), Add(e, 1))
// (operands of Add and Mul in either order). Returns x and fills `nodes` with
// the pattern's nodes, the result's node last.
std::optional<std::string> Importer::MatchGelu(int erf, std::vector<int>& nodes) {
  const auto& N = [&](int i) -> const NodeProto& { return gp_->node(i); };
  auto is = [&](int i, std::string_view op, int inputs) {
    return i >= 0 && !absorbed_[static_cast<size_t>(i)] && IsDefaultDomain(N(i).domain()) &&
           N(i).op_type() == op && N(i).input_size() == inputs && N(i).output_size() >= 1;
  };
  auto scalar = [&](const std::string& name) { return ScalarOrNone(name); };
  // The operand of binary node i that is not `other`, when the other is.
  auto other_operand = [&](int i, const std::string& known) -> std::optional<std::string> {
    if (N(i).input(0) == known) return N(i).input(1);
    if (N(i).input(1) == known) return N(i).input(0);
    return std::nullopt;
  };
  // The operand of binary node i that is the scalar constant `c`; returns the other one.
  auto with_constant = [&](int i, double c, bool either_order) -> std::optional<std::string> {
    if (Near(scalar(N(i).input(1)), c)) return N(i).input(0);
    if (either_order && Near(scalar(N(i).input(0)), c)) return N(i).input(1);
    return std::nullopt;
  };
  if (!is(erf, "Erf", 1) || !SingleUse(N(erf).input(0))) return std::nullopt;
  auto p = producer_.find(N(erf).input(0));
  if (p == producer_.end()) return std::nullopt;
  const int scale = p->second;
  std::optional<std::string> x;
  if (is(scale, "Div", 2)) x = with_constant(scale, std::sqrt(2.0), false);
  if (is(scale, "Mul", 2)) x = with_constant(scale, 1.0 / std::sqrt(2.0), true);
  if (!x) return std::nullopt;
  const int add = SingleConsumer(N(erf).output(0));
  if (!is(add, "Add", 2) || !with_constant(add, 1.0, true) ||
      !other_operand(add, N(erf).output(0)))
    return std::nullopt;
  const int mul = SingleConsumer(N(add).output(0));
  if (!is(mul, "Mul", 2)) return std::nullopt;
  const std::optional<std::string> m_other = other_operand(mul, N(add).output(0));
  if (!m_other) return std::nullopt;
  nodes = {scale, erf, add};
  if (*m_other == *x) {
    // Mul(Mul(x, a), 0.5)
    const int half = SingleConsumer(N(mul).output(0));
    if (!is(half, "Mul", 2) || with_constant(half, 0.5, true) != N(mul).output(0)) {
      return std::nullopt;
    }
    nodes.push_back(mul);
    nodes.push_back(half);
    return x;
  }
  // Mul(Mul(x, 0.5), a)
  auto h = producer_.find(*m_other);
  if (h == producer_.end() || !is(h->second, "Mul", 2) || !SingleUse(*m_other) ||
      with_constant(h->second, 0.5, true) != x) {
    return std::nullopt;
  }
  nodes.push_back(h->second);
  nodes.push_back(mul);
  return x;
}

void Importer::FindGeluPatterns() {
  for (int i = 0; i < gp_->node_size(); ++i) {
    std::vector<int> nodes;
    std::optional<std::string> x = MatchGelu(i, nodes);
    if (!x) continue;
    for (size_t k = 0; k + 1 < nodes.size(); ++k) absorbed_[static_cast<size_t>(nodes[k])] = true;
    gelu_at_.emplace(nodes.back(), GeluMatch{*x});
  }
}

// LayerNorm decomposed as exporters write it, matched at its first node m:
//   m = ReduceMean(x, axes), d = Sub(x, m), v = ReduceMean(Pow(d, 2), axes)
//   y = Div(d, Sqrt(Add(v, eps)))  [then Mul(y, scale)]  [then Add(., bias)]
// with trailing axes and keepdims=1. Returns whether it matched (and emitted).
absl::StatusOr<bool> Importer::TryLayerNorm(int index) {
  const auto& N = [&](int i) -> const NodeProto& { return gp_->node(i); };
  auto is = [&](int i, std::string_view op, int inputs) {
    return i >= 0 && !absorbed_[static_cast<size_t>(i)] && IsDefaultDomain(N(i).domain()) &&
           N(i).op_type() == op && N(i).input_size() >= inputs && N(i).output_size() >= 1;
  };
  auto out = [&](int i) -> const std::string& { return N(i).output(0); };
  const NodeProto& mean = N(index);
  if (!is(index, "ReduceMean", 1) || IntAttr(mean, "keepdims", 1).value_or(0) != 1) return false;
  absl::StatusOr<std::optional<Ints>> axes = AxesOf(mean, 18);
  if (!axes.ok() || !*axes || (*axes)->empty()) return false;
  const std::string& x_name = mean.input(0);
  auto x_it = values_.find(x_name);
  if (x_it == values_.end()) return false;
  const ValueId x = x_it->second;
  const int rank = T(x).rank();
  Ints sorted;
  for (int64_t a : **axes) {
    if (a < -rank || a >= rank) return false;
    sorted.push_back(a < 0 ? a + rank : a);
  }
  std::sort(sorted.begin(), sorted.end());
  for (size_t k = 0; k < sorted.size(); ++k) {
    if (sorted[k] != rank - static_cast<int64_t>(sorted.size() - k)) return false;
  }
  const int sub = SingleConsumer(out(index));
  if (!is(sub, "Sub", 2) || N(sub).input(0) != x_name || N(sub).input(1) != out(index)) return false;
  const std::string& d = out(sub);
  auto d_users = consumers_.find(d);
  if (graph_outputs_.contains(d) || d_users == consumers_.end() || d_users->second.size() != 2) {
    return false;
  }
  int square = -1, div = -1;
  for (int u : d_users->second) {
    if (is(u, "Div", 2) && N(u).input(0) == d) div = u;
    if (is(u, "Pow", 2) && N(u).input(0) == d && Near(ScalarOrNone(N(u).input(1)), 2.0)) square = u;
    if (is(u, "Mul", 2) && N(u).input(0) == d && N(u).input(1) == d) square = u;
  }
  if (square < 0 || div < 0) return false;
  const int var = SingleConsumer(out(square));
  if (!is(var, "ReduceMean", 1) || IntAttr(N(var), "keepdims", 1).value_or(0) != 1) return false;
  absl::StatusOr<std::optional<Ints>> var_axes = AxesOf(N(var), 18);
  if (!var_axes.ok() || *var_axes != *axes) return false;
  const int add_eps = SingleConsumer(out(var));
  if (!is(add_eps, "Add", 2)) return false;
  const std::string& eps_name =
      N(add_eps).input(0) == out(var) ? N(add_eps).input(1) : N(add_eps).input(0);
  std::optional<double> eps = ScalarOrNone(eps_name);
  if (!eps || !(*eps >= 0)) return false;
  eps = FromFloat(static_cast<float>(*eps));  // as the LayerNormalization attribute holds it
  const int sqrt = SingleConsumer(out(add_eps));
  if (!is(sqrt, "Sqrt", 1) || SingleConsumer(out(sqrt)) != div || N(div).input(1) != out(sqrt)) {
    return false;
  }
  const Dims norm(T(x).dims.end() - static_cast<ptrdiff_t>(sorted.size()), T(x).dims.end());
  // An operand usable as scale or bias: defined now, of the normalized dims.
  auto param = [&](const std::string& name) -> std::optional<ValueId> {
    auto it = values_.find(name);
    if (it != values_.end()) {
      return T(it->second).dims == norm ? std::optional<ValueId>(it->second) : std::nullopt;
    }
    absl::StatusOr<const WeightValue*> c = ConstantData(name);
    if (!c.ok() || *c == nullptr || (*c)->type.dims != norm) return std::nullopt;
    absl::StatusOr<ValueId> v = In(name);
    return v.ok() ? std::optional<ValueId>(*v) : std::nullopt;
  };
  std::vector<int> nodes = {index, sub, square, var, add_eps, sqrt, div};
  std::optional<ValueId> scale, bias;
  int last = div;
  if (const int m = SingleConsumer(out(div)); is(m, "Mul", 2)) {
    const std::string& other = N(m).input(0) == out(div) ? N(m).input(1) : N(m).input(0);
    if ((scale = param(other))) {
      nodes.push_back(m);
      last = m;
      if (const int b = SingleConsumer(out(m)); is(b, "Add", 2)) {
        const std::string& o = N(b).input(0) == out(m) ? N(b).input(1) : N(b).input(0);
        if ((bias = param(o))) {
          nodes.push_back(b);
          last = b;
        }
      }
    }
  }
  const DType dtype = T(x).dtype;
  auto filled = [&](double v) {
    const int64_t n = NumElements(norm);
    if (dtype == DType::kF64) return WeightValue::Of(norm, std::vector<double>(static_cast<size_t>(n), v));
    return WeightValue::Of(norm, std::vector<float>(static_cast<size_t>(n), static_cast<float>(v)));
  };
  if (!scale) {
    LEMMA_ASSIGN_OR_RETURN(scale, NewWeight(StrCat(out(last), "_scale"), filled(1.0)));
  }
  if (!bias) {
    LEMMA_ASSIGN_OR_RETURN(bias, NewWeight(StrCat(out(last), "_bias"), filled(0.0)));
  }
  LEMMA_ASSIGN_OR_RETURN(
      Attributes attrs,
      MakeAttrs(OpKind::kLayerNorm, {{"axis", sorted.front()}, {"epsilon", *eps}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kLayerNorm, std::move(attrs), {x, *scale, *bias}));
  for (int k : nodes) absorbed_[static_cast<size_t>(k)] = true;
  LEMMA_RETURN_IF_ERROR(Bind(out(last), y));
  return true;
}

std::optional<Activation> Importer::FusibleActivation(const std::string& value,
                                                      int* consumer) const {
  if (!options_.fuse_activations) return std::nullopt;
  const int c = SingleConsumer(value);
  if (c < 0 || absorbed_[static_cast<size_t>(c)] || gelu_at_.contains(c)) return std::nullopt;
  const NodeProto& n = gp_->node(c);
  if (!IsDefaultDomain(n.domain()) || n.input_size() != 1 || n.output_size() < 1) {
    return std::nullopt;
  }
  *consumer = c;
  if (n.op_type() == "Relu") return Activation::kRelu;
  if (n.op_type() == "Sigmoid") return Activation::kSigmoid;
  if (n.op_type() == "Tanh") return Activation::kTanh;
  return std::nullopt;
}

// ---- Op conversion.

absl::StatusOr<std::optional<Ints>> Importer::AxesOf(const NodeProto& n, int input_since_opset) {
  if (opset_ >= input_since_opset) {
    if (!HasInput(n, 1)) return std::optional<Ints>();
    LEMMA_ASSIGN_OR_RETURN(Ints axes, ConstInts(n, 1, "axes"));
    return std::optional<Ints>(std::move(axes));
  }
  return IntsAttr(n, "axes");
}

// Strides, dilations (in [1, 2^20]) and pads (in [0, 2^30]) of a window, so that
// window arithmetic cannot overflow.
constexpr int64_t kMaxStride = int64_t{1} << 20;
constexpr int64_t kMaxPad = int64_t{1} << 30;

absl::StatusOr<Ints> Ints2(const NodeProto& n, std::string_view name, Ints fallback) {
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> v, IntsAttr(n, name));
  if (!v) return fallback;
  if (v->size() != 2) return Err("attribute '", name, "' must have 2 elements for a 2-D window");
  for (int64_t x : *v) {
    if (x < 1 || x > kMaxStride) return Err(name, " ", DimsToString(*v), " must be in [1, 2^20]");
  }
  return *v;
}

absl::Status CheckPads(const Ints& pads) {
  for (int64_t p : pads) {
    if (p < 0 || p > kMaxPad) return Err("pads ", DimsToString(pads), " must be in [0, 2^30]");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<Padding, Ints>> Importer::Padding2d(const NodeProto& n, const Dims& x,
                                                             const Ints& kernel, const Ints& stride,
                                                             const Ints& dilation) {
  LEMMA_ASSIGN_OR_RETURN(std::string auto_pad, StringAttr(n, "auto_pad", "NOTSET"));
  if (auto_pad == "SAME_UPPER") return std::pair(Padding::kSame, Ints{0, 0, 0, 0});
  if (auto_pad == "VALID") return std::pair(Padding::kExplicit, Ints{0, 0, 0, 0});
  if (auto_pad == "SAME_LOWER") {
    Ints pads(4);
    for (int i = 0; i < 2; ++i) {
      if (stride[static_cast<size_t>(i)] < 1) return Err("strides must be positive");
      const int64_t in = x[static_cast<size_t>(2 + i)], s = stride[static_cast<size_t>(i)];
      const int64_t extent = (kernel[static_cast<size_t>(i)] - 1) * dilation[static_cast<size_t>(i)] + 1;
      const int64_t out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>((out - 1) * s + extent - in, 0);
      pads[static_cast<size_t>(i)] = total - total / 2;
      pads[static_cast<size_t>(i + 2)] = total / 2;
    }
    return std::pair(Padding::kExplicit, pads);
  }
  if (auto_pad != "NOTSET") return Err("auto_pad '", Printable(auto_pad), "' is not supported");
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> pads, IntsAttr(n, "pads"));
  if (!pads) return std::pair(Padding::kExplicit, Ints{0, 0, 0, 0});
  if (pads->size() != 4) return Err("pads must have 4 elements for a 2-D window");
  LEMMA_RETURN_IF_ERROR(CheckPads(*pads));
  return std::pair(Padding::kExplicit, *pads);
}



absl::Status RankIs(const TensorType& t, int rank, std::string_view what) {
  if (t.rank() != rank) return Err(what, " must have rank ", rank, ", got ", t.ToString());
  return absl::OkStatus();
}

absl::Status Importer::Conv(int index) {
  const NodeProto& n = gp_->node(index);
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(ValueId w, Input(n, 1));
  if (T(x).rank() != 4) {
    return Err("only 2-D convolutions (rank-4 input) are supported, got ", T(x).ToString());
  }
  LEMMA_RETURN_IF_ERROR(RankIs(T(w), 4, "the weight"));
  LEMMA_ASSIGN_OR_RETURN(Ints stride, Ints2(n, "strides", {1, 1}));
  LEMMA_ASSIGN_OR_RETURN(Ints dilation, Ints2(n, "dilations", {1, 1}));
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> kernel_shape, IntsAttr(n, "kernel_shape"));
  const Ints kernel = {T(w).dim(2), T(w).dim(3)};
  if (kernel_shape && *kernel_shape != kernel) {
    return Err("kernel_shape ", DimsToString(*kernel_shape), " differs from the weight ",
               T(w).ToString());
  }
  LEMMA_ASSIGN_OR_RETURN(int64_t group, IntAttr(n, "group", 1));
  if (group < 1 || group > std::max<int64_t>(T(x).dim(1), 1)) {
    return Err("group ", group, " must be in [1, ", T(x).dim(1), "] (the input channels)");
  }
  LEMMA_ASSIGN_OR_RETURN(auto padding, Padding2d(n, T(x).dims, kernel, stride, dilation));
  const bool bias = HasInput(n, 2);
  int consumer = -1;
  const std::optional<Activation> act = bias ? std::nullopt : FusibleActivation(n.output(0), &consumer);
  Attributes attrs(OpKind::kConv2d);
  LEMMA_RETURN_IF_ERROR(attrs.Set("stride", stride));
  LEMMA_RETURN_IF_ERROR(attrs.Set("padding", static_cast<int64_t>(padding.first)));
  LEMMA_RETURN_IF_ERROR(attrs.Set("pads", padding.second));
  LEMMA_RETURN_IF_ERROR(attrs.Set("dilation", dilation));
  LEMMA_RETURN_IF_ERROR(attrs.Set("groups", group));
  LEMMA_RETURN_IF_ERROR(attrs.Set("activation", static_cast<int64_t>(act.value_or(Activation::kNone))));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kConv2d, std::move(attrs), {x, w}));
  if (bias) {
    LEMMA_ASSIGN_OR_RETURN(ValueId b, Input(n, 2));
    if (T(b).rank() != 1 || T(b).dim(0) != T(y).dim(1)) {
      return Err("the bias ", T(b).ToString(), " must have shape [", T(y).dim(1), "]");
    }
    LEMMA_ASSIGN_OR_RETURN(ValueId b4, Reshape(b, {1, T(b).dim(0), 1, 1}));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(OpKind::kBroadcastAdd, {y, b4}));
  }
  if (act) {
    absorbed_[static_cast<size_t>(consumer)] = true;
    return Bind(gp_->node(consumer).output(0), y);
  }
  return Bind(n.output(0), y);
}

absl::Status Importer::Gemm(int index) {
  const NodeProto& n = gp_->node(index);
  LEMMA_ASSIGN_OR_RETURN(ValueId a, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(ValueId b, Input(n, 1));
  LEMMA_RETURN_IF_ERROR(RankIs(T(a), 2, "A"));
  LEMMA_RETURN_IF_ERROR(RankIs(T(b), 2, "B"));
  LEMMA_ASSIGN_OR_RETURN(double alpha, FloatAttr(n, "alpha", 1.0));
  LEMMA_ASSIGN_OR_RETURN(double beta, FloatAttr(n, "beta", 1.0));
  LEMMA_ASSIGN_OR_RETURN(int64_t trans_a, IntAttr(n, "transA", 0));
  LEMMA_ASSIGN_OR_RETURN(int64_t trans_b, IntAttr(n, "transB", 0));
  LEMMA_ASSIGN_OR_RETURN(Attributes perm, MakeAttrs(OpKind::kTranspose, {{"perm", Ints{1, 0}}}));
  if (trans_a != 0) {
    LEMMA_ASSIGN_OR_RETURN(a, Emit(OpKind::kTranspose, perm, {a}));
  }
  if (trans_b != 0) {
    LEMMA_ASSIGN_OR_RETURN(b, Emit(OpKind::kTranspose, perm, {b}));
  }
  const bool plain = !HasInput(n, 2) && alpha == 1.0;
  int consumer = -1;
  const std::optional<Activation> act = plain ? FusibleActivation(n.output(0), &consumer) : std::nullopt;
  LEMMA_ASSIGN_OR_RETURN(
      Attributes attrs,
      MakeAttrs(OpKind::kMatMul, {{"activation", static_cast<int64_t>(act.value_or(Activation::kNone))}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kMatMul, std::move(attrs), {a, b}));
  const std::string& out = n.output(0);
  if (alpha != 1.0) {
    LEMMA_ASSIGN_OR_RETURN(ValueId s, ScalarWeight(StrCat(out, "_alpha"), T(y).dtype, alpha));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(OpKind::kScalarMul, {y, s}));
  }
  if (HasInput(n, 2) && beta != 0.0) {
    LEMMA_ASSIGN_OR_RETURN(ValueId c, Input(n, 2));
    if (beta != 1.0) {
      LEMMA_ASSIGN_OR_RETURN(ValueId s, ScalarWeight(StrCat(out, "_beta"), T(c).dtype, beta));
      LEMMA_ASSIGN_OR_RETURN(c, Emit(OpKind::kScalarMul, {c, s}));
    }
    LEMMA_ASSIGN_OR_RETURN(y, Add(y, c));
  }
  if (act) {
    absorbed_[static_cast<size_t>(consumer)] = true;
    return Bind(gp_->node(consumer).output(0), y);
  }
  return Bind(out, y);
}

absl::Status Importer::MatMul(int index) {
  const NodeProto& n = gp_->node(index);
  LEMMA_ASSIGN_OR_RETURN(ValueId a, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(ValueId b, Input(n, 1));
  if (T(a).rank() == 0 || T(b).rank() == 0) return Err("MatMul operands must have rank >= 1");
  const bool a_vector = T(a).rank() == 1, b_vector = T(b).rank() == 1;
  if (a_vector) {
    LEMMA_ASSIGN_OR_RETURN(a, Reshape(a, {1, T(a).dim(0)}));
  }
  if (b_vector) {
    LEMMA_ASSIGN_OR_RETURN(b, Reshape(b, {T(b).dim(0), 1}));
  }
  int consumer = -1;
  const std::optional<Activation> act =
      a_vector || b_vector ? std::nullopt : FusibleActivation(n.output(0), &consumer);
  LEMMA_ASSIGN_OR_RETURN(
      Attributes attrs,
      MakeAttrs(OpKind::kMatMul, {{"activation", static_cast<int64_t>(act.value_or(Activation::kNone))}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kMatMul, std::move(attrs), {a, b}));
  if (a_vector || b_vector) {
    Dims dims = T(y).dims;
    if (b_vector) dims.pop_back();
    if (a_vector) dims.erase(dims.end() - (b_vector ? 1 : 2));
    LEMMA_ASSIGN_OR_RETURN(y, Reshape(y, dims));
  }
  if (act) {
    absorbed_[static_cast<size_t>(consumer)] = true;
    return Bind(gp_->node(consumer).output(0), y);
  }
  return Bind(n.output(0), y);
}

absl::Status Importer::Binary(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId a, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(ValueId b, Input(n, 1));
  const std::string& op = n.op_type();
  ValueId y;
  if (op == "Add") {
    LEMMA_ASSIGN_OR_RETURN(y, Add(a, b));
  } else if (op == "Mul") {
    LEMMA_ASSIGN_OR_RETURN(y, Mul(a, b));
  } else {
    LEMMA_ASSIGN_OR_RETURN(y, Emit(op == "Sub" ? OpKind::kBroadcastSub : OpKind::kBroadcastDiv, {a, b}));
  }
  return Bind(n.output(0), y);
}

absl::Status Importer::Pool(const NodeProto& n, bool max) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_RETURN_IF_ERROR(RankIs(T(x), 4, "the input (2-D pooling)"));
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> kernel, IntsAttr(n, "kernel_shape"));
  if (!kernel) return Err("attribute 'kernel_shape' is required");
  if (kernel->size() != 2) return Err("kernel_shape must have 2 elements for 2-D pooling");
  LEMMA_ASSIGN_OR_RETURN(Ints stride, Ints2(n, "strides", {1, 1}));
  LEMMA_ASSIGN_OR_RETURN(Ints dilation, Ints2(n, "dilations", {1, 1}));
  if (dilation != Ints{1, 1}) return Err("dilated pooling is not supported");
  LEMMA_ASSIGN_OR_RETURN(int64_t ceil_mode, IntAttr(n, "ceil_mode", 0));
  LEMMA_ASSIGN_OR_RETURN(auto padding, Padding2d(n, T(x).dims, *kernel, stride, dilation));
  Ints pads = padding.second;
  if (ceil_mode != 0 && padding.first == Padding::kExplicit) {
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = T(x).dim(static_cast<int>(2 + i)), k = (*kernel)[i], s = stride[i];
      const int64_t padded = in + pads[i] + pads[i + 2];
      if (s < 1 || k < 1 || padded < k) continue;  // shape inference reports it
      int64_t out = (padded - k + s - 1) / s + 1;
      if ((out - 1) * s >= in + pads[i]) --out;
      pads[i + 2] += std::max<int64_t>(0, (out - 1) * s + k - padded);
    }
  }
  Attributes attrs(max ? OpKind::kMaxPool2d : OpKind::kAvgPool2d);
  LEMMA_RETURN_IF_ERROR(attrs.Set("kernel", *kernel));
  LEMMA_RETURN_IF_ERROR(attrs.Set("stride", stride));
  LEMMA_RETURN_IF_ERROR(attrs.Set("padding", static_cast<int64_t>(padding.first)));
  LEMMA_RETURN_IF_ERROR(attrs.Set("pads", pads));
  if (max) {
    LEMMA_ASSIGN_OR_RETURN(int64_t order, IntAttr(n, "storage_order", 0));
    if (order != 0) return Err("storage_order=1 is not supported");
    if (OutputUsed(n, 1)) return Err("the Indices output is not supported");
  } else {
    LEMMA_ASSIGN_OR_RETURN(int64_t include, IntAttr(n, "count_include_pad", 0));
    if (include != 0 && pads != padding.second) {
      return Err("ceil_mode with count_include_pad=1 is not supported");
    }
    LEMMA_RETURN_IF_ERROR(attrs.Set("count_include_pad", include != 0 ? 1 : 0));
  }
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(attrs.op(), std::move(attrs), {x}));
  return Bind(n.output(0), y);
}

absl::Status Importer::GlobalPool(const NodeProto& n, bool max) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  if (T(x).rank() < 3) return Err("the input must have rank >= 3, got ", T(x).ToString());
  ValueId y;
  if (T(x).rank() == 4 && T(x).dim(2) > 0 && T(x).dim(3) > 0) {
    LEMMA_ASSIGN_OR_RETURN(
        Attributes attrs,
        MakeAttrs(max ? OpKind::kMaxPool2d : OpKind::kAvgPool2d,
                  {{"kernel", Ints{T(x).dim(2), T(x).dim(3)}}}));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(attrs.op(), std::move(attrs), {x}));
  } else {
    Ints axes;
    for (int d = 2; d < T(x).rank(); ++d) axes.push_back(d);
    const OpKind op = max ? OpKind::kReduceMax : OpKind::kReduceMean;
    LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(op, {{"axes", axes}}));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(op, std::move(attrs), {x}));
  }
  return Bind(n.output(0), y);
}

absl::Status Importer::BatchNorm(const NodeProto& n) {
  std::vector<ValueId> in;
  for (int i = 0; i < 5; ++i) {
    LEMMA_ASSIGN_OR_RETURN(ValueId v, Input(n, i));
    in.push_back(v);
  }
  LEMMA_ASSIGN_OR_RETURN(double eps, FloatAttr(n, "epsilon", 1e-5));
  LEMMA_ASSIGN_OR_RETURN(int64_t training, IntAttr(n, "training_mode", 0));
  if (training != 0) return Err("training_mode=1 is not supported (inference only)");
  for (int i = 1; i < n.output_size(); ++i) {
    if (OutputUsed(n, i)) return Err("output ", i, " (training statistics) is not supported");
  }
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(OpKind::kBatchNorm, {{"epsilon", eps}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kBatchNorm, std::move(attrs), std::move(in)));
  return Bind(n.output(0), y);
}

absl::Status Importer::Split(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(int64_t axis_attr, IntAttr(n, "axis", 0));
  LEMMA_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, T(x).rank()));
  const int64_t parts = n.output_size();
  if (parts < 1) return Err("Split needs at least one output");
  const int64_t dim = T(x).dim(axis);
  Ints sizes;
  if (opset_ >= 13 && HasInput(n, 1)) {
    LEMMA_ASSIGN_OR_RETURN(sizes, ConstInts(n, 1, "split"));
  } else if (opset_ < 13) {
    LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> split, IntsAttr(n, "split"));
    if (split) sizes = *split;
  }
  if (sizes.empty()) {
    // Equal parts; from opset 18 (num_outputs) the last part may be smaller.
    const int64_t part = opset_ >= 18 ? (dim + parts - 1) / parts : dim / parts;
    if (opset_ < 18 && dim % parts != 0) {
      return Err("dimension ", dim, " does not split into ", parts, " equal parts");
    }
    for (int64_t i = 0; i < parts; ++i) sizes.push_back(std::clamp<int64_t>(dim - i * part, 0, part));
  }
  if (static_cast<int64_t>(sizes.size()) != parts) {
    return Err("split sizes ", DimsToString(sizes), " do not match ", parts, " outputs");
  }
  for (int64_t size : sizes) {
    if (size < 0 || size > dim) {
      return Err("split sizes ", DimsToString(sizes), " must be in [0, ", dim, "]");
    }
  }
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs,
                         MakeAttrs(OpKind::kSplit, {{"axis", int64_t{axis}}, {"sizes", sizes}}));
  LEMMA_ASSIGN_OR_RETURN(NodeId id, EmitNode(OpKind::kSplit, std::move(attrs), {x}));
  for (int i = 0; i < n.output_size(); ++i) {
    LEMMA_RETURN_IF_ERROR(Bind(n.output(i), ValueId{id, i}));
  }
  return absl::OkStatus();
}

absl::Status Importer::ReshapeOp(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(Ints shape, ConstInts(n, 1, "shape"));
  LEMMA_ASSIGN_OR_RETURN(int64_t allow_zero, IntAttr(n, "allowzero", 0));
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != 0 || allow_zero != 0) continue;
    if (i >= static_cast<size_t>(T(x).rank())) {
      return Err("shape ", DimsToString(shape), " copies dimension ", i, " that ",
                 T(x).ToString(), " lacks");
    }
    shape[i] = T(x).dim(static_cast<int>(i));
  }
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Reshape(x, shape));
  return Bind(n.output(0), y);
}

absl::Status Importer::Flatten(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(int64_t axis, IntAttr(n, "axis", 1));
  const int rank = T(x).rank();
  if (axis < -rank || axis > rank) return Err("axis ", axis, " is out of range for rank ", rank);
  if (axis < 0) axis += rank;
  const Dims& d = T(x).dims;
  const Dims shape = {NumElements(std::span(d).first(static_cast<size_t>(axis))),
                      NumElements(std::span(d).subspan(static_cast<size_t>(axis)))};
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Reshape(x, shape));
  return Bind(n.output(0), y);
}

absl::Status Importer::Transpose(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> perm, IntsAttr(n, "perm"));
  if (!perm) {
    perm.emplace();
    for (int d = T(x).rank(); d-- > 0;) perm->push_back(d);
  }
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(OpKind::kTranspose, {{"perm", *perm}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kTranspose, std::move(attrs), {x}));
  return Bind(n.output(0), y);
}

absl::Status Importer::Softmax(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  const int rank = T(x).rank();
  LEMMA_ASSIGN_OR_RETURN(int64_t axis_attr, IntAttr(n, "axis", opset_ >= 13 ? -1 : 1));
  if (rank == 0) return Err("the input must have rank >= 1");
  LEMMA_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, rank));
  ValueId y;
  if (opset_ >= 13 || axis == rank - 1) {
    LEMMA_ASSIGN_OR_RETURN(Attributes attrs,
                           MakeAttrs(OpKind::kSoftmax, {{"axis", opset_ >= 13 ? axis_attr : -1}}));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(OpKind::kSoftmax, std::move(attrs), {x}));
  } else {
    // Before opset 13, Softmax normalises over all dims from axis on.
    const Dims& d = T(x).dims;
    const size_t a = static_cast<size_t>(axis);
    LEMMA_ASSIGN_OR_RETURN(ValueId flat, Reshape(x, {NumElements(std::span(d).first(a)),
                                                     NumElements(std::span(d).subspan(a))}));
    LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(OpKind::kSoftmax, {{"axis", int64_t{1}}}));
    LEMMA_ASSIGN_OR_RETURN(ValueId s, Emit(OpKind::kSoftmax, std::move(attrs), {flat}));
    LEMMA_ASSIGN_OR_RETURN(y, Reshape(s, d));
  }
  return Bind(n.output(0), y);
}

absl::Status Importer::LayerNorm(const NodeProto& n) {
  if (opset_ < 17) return Err("LayerNormalization is an op of opset 17 and later");
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(ValueId scale, Input(n, 1));
  LEMMA_ASSIGN_OR_RETURN(int64_t axis, IntAttr(n, "axis", -1));
  LEMMA_ASSIGN_OR_RETURN(double eps, FloatAttr(n, "epsilon", 1e-5));
  for (int i = 1; i < n.output_size(); ++i) {
    if (OutputUsed(n, i)) return Err("output ", i, " (Mean or InvStdDev) is not supported");
  }
  ValueId bias;
  if (HasInput(n, 2)) {
    LEMMA_ASSIGN_OR_RETURN(bias, Input(n, 2));
  } else {
    const TensorType& s = T(scale);
    const size_t count = static_cast<size_t>(s.num_elements());
    WeightValue zeros = s.dtype == DType::kF64
                            ? WeightValue::Of(s.dims, std::vector<double>(count, 0.0))
                            : WeightValue::Of(s.dims, std::vector<float>(count, 0.0f));
    LEMMA_ASSIGN_OR_RETURN(bias, NewWeight(StrCat(n.output(0), "_bias"), std::move(zeros)));
  }
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs,
                         MakeAttrs(OpKind::kLayerNorm, {{"axis", axis}, {"epsilon", eps}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kLayerNorm, std::move(attrs), {x, scale, bias}));
  return Bind(n.output(0), y);
}

absl::Status Importer::Pad(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(std::string mode, StringAttr(n, "mode", "constant"));
  if (mode != "constant") return Err("mode '", Printable(mode), "' is not supported (only constant)");
  LEMMA_ASSIGN_OR_RETURN(Ints pads, ConstInts(n, 1, "pads"));
  double value = 0;
  if (HasInput(n, 2)) {
    LEMMA_ASSIGN_OR_RETURN(const WeightValue* c, ConstInput(n, 2, "constant_value"));
    if (c->size() != 1) return Err("constant_value must be a scalar");
    value = c->AsDouble(0);
    if (T(x).dtype == DType::kF32) value = FromFloat(static_cast<float>(value));
  }
  const int rank = T(x).rank();
  if (HasInput(n, 3)) {
    LEMMA_ASSIGN_OR_RETURN(Ints axes, ConstInts(n, 3, "axes"));
    if (pads.size() != 2 * axes.size()) return Err("pads must have 2 x len(axes) elements");
    Ints full(2 * static_cast<size_t>(rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      LEMMA_ASSIGN_OR_RETURN(int a, NormalizeAxis(axes[i], rank));
      full[static_cast<size_t>(a)] = pads[i];
      full[static_cast<size_t>(a + rank)] = pads[i + axes.size()];
    }
    pads = full;
  }
  for (int64_t p : pads) {
    if (p < 0) return Err("negative pads ", DimsToString(pads), " (cropping) are not supported");
  }
  LEMMA_RETURN_IF_ERROR(CheckPads(pads));
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(OpKind::kPad, {{"pads", pads}, {"value", value}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kPad, std::move(attrs), {x}));
  return Bind(n.output(0), y);
}

absl::Status Importer::Slice(const NodeProto& n) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(Ints starts, ConstInts(n, 1, "starts"));
  LEMMA_ASSIGN_OR_RETURN(Ints ends, ConstInts(n, 2, "ends"));
  const int rank = T(x).rank();
  Ints axes, steps(starts.size(), 1);
  if (HasInput(n, 3)) {
    LEMMA_ASSIGN_OR_RETURN(axes, ConstInts(n, 3, "axes"));
  } else {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (HasInput(n, 4)) {
    LEMMA_ASSIGN_OR_RETURN(steps, ConstInts(n, 4, "steps"));
  }
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return Err("starts, ends, axes and steps must have the same length");
  }
  Ints out_axes, out_starts, out_ends, out_steps;
  for (size_t i = 0; i < starts.size(); ++i) {
    LEMMA_ASSIGN_OR_RETURN(int a, NormalizeAxis(axes[i], rank));
    const int64_t dim = T(x).dim(a);
    if (steps[i] < 1) return Err("step ", steps[i], " is not supported (steps must be positive)");
    steps[i] = std::min(steps[i], std::max<int64_t>(dim, 1));  // a longer step reads one element
    auto clamp = [dim](int64_t v) {
      if (v < 0) v = v < -dim ? 0 : v + dim;
      return std::min(v, dim);
    };
    const int64_t s = clamp(starts[i]);
    out_axes.push_back(a);
    out_starts.push_back(s);
    out_ends.push_back(std::max(s, clamp(ends[i])));
    out_steps.push_back(steps[i]);
  }
  const bool unit = std::all_of(out_steps.begin(), out_steps.end(), [](int64_t s) { return s == 1; });
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs,
                         MakeAttrs(OpKind::kSlice, {{"axes", out_axes},
                                                    {"starts", out_starts},
                                                    {"ends", out_ends},
                                                    {"steps", unit ? Ints{} : out_steps}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kSlice, std::move(attrs), {x}));
  return Bind(n.output(0), y);
}

absl::Status Importer::Squeeze(const NodeProto& n, bool unsqueeze) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> axes, AxesOf(n, 13));
  const Dims& d = T(x).dims;
  Dims out;
  if (unsqueeze) {
    if (!axes) return Err("axes are required");
    const int rank = T(x).rank() + static_cast<int>(axes->size());
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int64_t a : *axes) {
      LEMMA_ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, rank));
      if (inserted[static_cast<size_t>(axis)]) return Err("axis ", a, " is repeated");
      inserted[static_cast<size_t>(axis)] = true;
    }
    size_t next = 0;
    for (int i = 0; i < rank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? 1 : d[next++]);
  } else {
    std::vector<bool> removed(d.size(), false);
    if (axes) {
      for (int64_t a : *axes) {
        LEMMA_ASSIGN_OR_RETURN(int axis, NormalizeAxis(a, T(x).rank()));
        if (d[static_cast<size_t>(axis)] != 1) {
          return Err("axis ", a, " of ", T(x).ToString(), " has size ", d[static_cast<size_t>(axis)],
                     ", not 1");
        }
        removed[static_cast<size_t>(axis)] = true;
      }
    } else {
      for (size_t i = 0; i < d.size(); ++i) removed[i] = d[i] == 1;
    }
    for (size_t i = 0; i < d.size(); ++i) {
      if (!removed[i]) out.push_back(d[i]);
    }
  }
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Reshape(x, out));
  return Bind(n.output(0), y);
}

absl::Status Importer::Reduce(const NodeProto& n, OpKind op) {
  LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
  LEMMA_ASSIGN_OR_RETURN(std::optional<Ints> axes, AxesOf(n, op == OpKind::kReduceSum ? 13 : 18));
  LEMMA_ASSIGN_OR_RETURN(int64_t keepdims, IntAttr(n, "keepdims", 1));
  LEMMA_ASSIGN_OR_RETURN(int64_t noop, IntAttr(n, "noop_with_empty_axes", 0));
  if (!axes || axes->empty()) {
    if (noop != 0) return Bind(n.output(0), x);
    axes.emplace();
    for (int d = 0; d < T(x).rank(); ++d) axes->push_back(d);
    if (axes->empty()) return Bind(n.output(0), x);
  }
  LEMMA_ASSIGN_OR_RETURN(Attributes attrs,
                         MakeAttrs(op, {{"axes", *axes}, {"keepdims", keepdims != 0 ? 1 : 0}}));
  LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(op, std::move(attrs), {x}));
  return Bind(n.output(0), y);
}

absl::Status Importer::Constant(const NodeProto& n) {
  if (n.attribute_size() != 1) return Err("Constant must have exactly one attribute");
  const AttributeProto& a = n.attribute(0);
  WeightValue value;
  if (a.name() == "value" && a.type() == AttributeProto::TENSOR) {
    LEMMA_ASSIGN_OR_RETURN(value, DecodeTensor(a.t(), options_.max_tensor_elements));
  } else if (a.name() == "value_float" && a.type() == AttributeProto::FLOAT) {
    value = WeightValue::Of({}, std::vector<float>{a.f()});
  } else if (a.name() == "value_floats" && a.type() == AttributeProto::FLOATS) {
    value = WeightValue::Of({a.floats_size()}, std::vector<float>(a.floats().begin(), a.floats().end()));
  } else if (a.name() == "value_int" && a.type() == AttributeProto::INT) {
    value = WeightValue::Of({}, std::vector<int64_t>{a.i()});
  } else if (a.name() == "value_ints" && a.type() == AttributeProto::INTS) {
    value = WeightValue::Of({a.ints_size()}, std::vector<int64_t>(a.ints().begin(), a.ints().end()));
  } else {
    return Err("attribute '", Printable(a.name()), "' is not supported (value, value_float(s) and value_int(s) are)");
  }
  if (n.output_size() != 1 || n.output(0).empty()) return Err("Constant must have one output");
  const std::string& name = n.output(0);
  if (values_.contains(name) || initializers_.contains(name) || constants_.contains(name)) {
    return Err("value '", Printable(name), "' is defined twice");
  }
  constants_.emplace(name, std::move(value));
  return absl::OkStatus();
}

// ---- Folding of static values (shape computations).

// Folds node `index` into a constant when its inputs are known (ir/onnx_fold.h):
// always for the fold-only ops, for the others when every input is a constant
// and they are all integers or one was folded itself (arithmetic on shapes);
// arithmetic on float initializers stays in the graph. Returns false when the
// node is left to the op conversion.
absl::StatusOr<bool> Importer::TryFold(int index) {
  const NodeProto& n = gp_->node(index);
  const std::string& op = n.op_type();
  if (n.output(0).empty()) return Err("output 0 has no name");
  WeightValue value;
  if (op == "Shape" || op == "Size") {
    if (!HasInput(n, 0)) return Err("input 0 is required");
    Dims dims;
    if (auto it = values_.find(n.input(0)); it != values_.end()) {
      dims = T(it->second).dims;
    } else {
      LEMMA_ASSIGN_OR_RETURN(const WeightValue* c, ConstantData(n.input(0)));
      if (c == nullptr) return NotStatic(n, 0);
      dims = c->type.dims;
    }
    LEMMA_ASSIGN_OR_RETURN(value, FoldShapeOf(n, dims));
  } else {
    std::vector<const WeightValue*> in;
    bool all_int = true, from_fold = false;
    int missing = -1;
    for (int i = 0; i < n.input_size(); ++i) {
      const WeightValue* c = nullptr;
      if (!n.input(i).empty()) {
        LEMMA_ASSIGN_OR_RETURN(c, ConstantData(n.input(i)));
        if (c == nullptr && missing < 0) missing = i;
      }
      all_int = all_int && (c == nullptr || c->type.dtype == DType::kI64);
      from_fold = from_fold || folded_.contains(n.input(i));
      in.push_back(c);
    }
    if (missing >= 0) {
      if (!IsFoldOnlyOnnxOp(op)) return false;
      LEMMA_ASSIGN_OR_RETURN(bool mapped, MapDynamic(n));
      if (mapped) return true;
      return NotStatic(n, missing);
    }
    if (!IsFoldOnlyOnnxOp(op) && (!(all_int || from_fold) || n.input_size() == 0)) return false;
    LEMMA_ASSIGN_OR_RETURN(value, FoldOnnxNode(n, opset_, in, options_.max_tensor_elements));
  }
  for (int i = 1; i < n.output_size(); ++i) {
    if (OutputUsed(n, i)) return Err("output ", i, " is not supported");
  }
  const std::string& name = n.output(0);
  if (values_.contains(name) || initializers_.contains(name) || constants_.contains(name)) {
    return Err("value '", Printable(name), "' is defined twice");
  }
  constants_.emplace(name, std::move(value));
  folded_.insert(name);
  return true;
}

absl::Status Importer::NotStatic(const NodeProto& n, int input) const {
  const std::string& name = n.input(input);
  if (!values_.contains(name)) {
    return Err("input ", input, " ('", Printable(name),
               "') is not defined by a graph input, an initializer or an earlier node");
  }
  return Err("input ", input, " ('", Printable(name), "') is not known when the model is read: ",
             "lemma reads ", Printable(n.op_type()),
             " only by computing its value at import time (a shape computation whose inputs "
             "are static: shapes, initializers, constants)");
}

// Fold-only ops applied to a computed tensor where lemma has an op for them:
// Expand (reshape or broadcast), Gather of constant indices that pick a
// contiguous range (slice), a Cast to the tensor's own type. Returns false
// for anything else.
absl::StatusOr<bool> Importer::MapDynamic(const NodeProto& n) {
  const std::string& op = n.op_type();
  if (op != "Expand" && op != "Gather" && op != "Cast") return false;
  auto x_it = values_.find(n.input(0));
  if (x_it == values_.end()) return false;
  const ValueId x = x_it->second;
  for (int i = 1; i < n.input_size(); ++i) {
    LEMMA_ASSIGN_OR_RETURN(const WeightValue* c, ConstantData(n.input(i)));
    if (c == nullptr) return NotStatic(n, i);
  }
  ValueId y = x;
  if (op == "Cast") {
    LEMMA_ASSIGN_OR_RETURN(int64_t to, IntAttr(n, "to", std::nullopt));
    if (to != OnnxElemType(T(x).dtype)) {
      return Err("a Cast of a computed tensor (", T(x).ToString(), ") to ONNX element type ", to,
                 " is not supported (lemma computes in one element type)");
    }
  } else if (op == "Expand") {
    LEMMA_ASSIGN_OR_RETURN(Ints shape, ConstInts(n, 1, "shape"));
    LEMMA_ASSIGN_OR_RETURN(Dims dims, BroadcastDims(T(x).dims, shape));
    LEMMA_RETURN_IF_ERROR(CheckedNumElements(dims, options_.max_tensor_elements).status());
    if (dims != T(x).dims) {
      if (NumElements(dims) == T(x).num_elements()) {
        LEMMA_ASSIGN_OR_RETURN(y, Reshape(x, dims));
      } else {
        // x + zeros of the result's shape: the broadcast as an op lemma has.
        const size_t count = static_cast<size_t>(NumElements(dims));
        WeightValue zeros = T(x).dtype == DType::kF64
                                ? WeightValue::Of(dims, std::vector<double>(count, 0.0))
                                : WeightValue::Of(dims, std::vector<float>(count, 0.0f));
        if (T(x).dtype == DType::kI64) zeros = WeightValue::Of(dims, std::vector<int64_t>(count, 0));
        LEMMA_ASSIGN_OR_RETURN(ValueId z, NewWeight(StrCat(n.output(0), "_zeros"), std::move(zeros)));
        LEMMA_ASSIGN_OR_RETURN(y, Emit(OpKind::kBroadcastAdd, {x, z}));
      }
    }
  } else {
    LEMMA_ASSIGN_OR_RETURN(const WeightValue* idx, ConstInput(n, 1, "indices"));
    if (idx->type.dtype != DType::kI64 || idx->type.rank() > 1 || idx->size() == 0) {
      return Err("Gather of a computed tensor takes a scalar or a non-empty list of integer "
                 "indices, got ", idx->type.ToString());
    }
    LEMMA_ASSIGN_OR_RETURN(int64_t axis_attr, IntAttr(n, "axis", 0));
    LEMMA_ASSIGN_OR_RETURN(int axis, NormalizeAxis(axis_attr, T(x).rank()));
    const int64_t extent = T(x).dim(axis);
    Ints k = std::get<std::vector<int64_t>>(idx->data);
    for (int64_t& i : k) {
      if (i < -extent || i >= extent) return Err("index ", i, " is out of range for dimension ", extent);
      if (i < 0) i += extent;
    }
    for (size_t i = 1; i < k.size(); ++i) {
      if (k[i] != k[0] + static_cast<int64_t>(i)) {
        return Err("Gather of a computed tensor takes indices that form an ascending run "
                   "(a slice), got ", DimsToString(k));
      }
    }
    LEMMA_ASSIGN_OR_RETURN(
        Attributes attrs,
        MakeAttrs(OpKind::kSlice, {{"axes", Ints{axis}},
                                   {"starts", Ints{k.front()}},
                                   {"ends", Ints{k.back() + 1}},
                                   {"steps", Ints{}}}));
    LEMMA_ASSIGN_OR_RETURN(y, Emit(OpKind::kSlice, std::move(attrs), {x}));
    if (idx->type.rank() == 0) {
      Dims dims = T(y).dims;
      dims.erase(dims.begin() + axis);
      LEMMA_ASSIGN_OR_RETURN(y, Reshape(y, dims));
    }
  }
  LEMMA_RETURN_IF_ERROR(Bind(n.output(0), y));
  return true;
}

absl::Status Importer::ConvertNode(int index) {
  const NodeProto& n = gp_->node(index);
  if (!IsDefaultDomain(n.domain())) {
    return Err("op '", Printable(n.op_type()), "' of domain '", Printable(n.domain()),
               "' is not supported (lemma reads the default ONNX domain)");
  }
  if (n.output_size() < 1) return Err("a node must have an output");
  if (auto it = gelu_at_.find(index); it != gelu_at_.end()) {
    LEMMA_ASSIGN_OR_RETURN(ValueId x, In(it->second.x));
    LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kGelu, {x}));
    return Bind(n.output(0), y);
  }
  if (IsFoldableOnnxOp(n.op_type())) {
    LEMMA_ASSIGN_OR_RETURN(bool folded, TryFold(index));
    if (folded) return absl::OkStatus();
  }
  const std::string& op = n.op_type();
  if (op == "ReduceMean") {
    LEMMA_ASSIGN_OR_RETURN(bool matched, TryLayerNorm(index));
    if (matched) return absl::OkStatus();
  }
  auto unary = [&](OpKind kind) -> absl::Status {
    LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
    LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(kind, {x}));
    return Bind(n.output(0), y);
  };
  if (op == "Conv") return Conv(index);
  if (op == "Gemm") return Gemm(index);
  if (op == "MatMul") return MatMul(index);
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return Binary(n);
  if (op == "Relu") return unary(OpKind::kRelu);
  if (op == "Sigmoid") return unary(OpKind::kSigmoid);
  if (op == "Tanh") return unary(OpKind::kTanh);
  if (op == "Gelu") {
    LEMMA_ASSIGN_OR_RETURN(std::string approx, StringAttr(n, "approximate", "none"));
    if (approx != "none") return Err("approximate='", Printable(approx), "' is not supported");
    return unary(OpKind::kGelu);
  }
  if (op == "BatchNormalization") return BatchNorm(n);
  if (op == "MaxPool") return Pool(n, true);
  if (op == "AveragePool") return Pool(n, false);
  if (op == "GlobalAveragePool") return GlobalPool(n, false);
  if (op == "GlobalMaxPool") return GlobalPool(n, true);
  if (op == "Concat") {
    std::vector<ValueId> in;
    for (int i = 0; i < n.input_size(); ++i) {
      LEMMA_ASSIGN_OR_RETURN(ValueId v, Input(n, i));
      in.push_back(v);
    }
    LEMMA_ASSIGN_OR_RETURN(int64_t axis, IntAttr(n, "axis", std::nullopt));
    LEMMA_ASSIGN_OR_RETURN(Attributes attrs, MakeAttrs(OpKind::kConcat, {{"axis", axis}}));
    LEMMA_ASSIGN_OR_RETURN(ValueId y, Emit(OpKind::kConcat, std::move(attrs), std::move(in)));
    return Bind(n.output(0), y);
  }
  if (op == "Split") return Split(n);
  if (op == "Reshape") return ReshapeOp(n);
  if (op == "Flatten") return Flatten(n);
  if (op == "Transpose") return Transpose(n);
  if (op == "Softmax") return Softmax(n);
  if (op == "LayerNormalization") return LayerNorm(n);
  if (op == "Pad") return Pad(n);
  if (op == "Slice") return Slice(n);
  if (op == "Squeeze") return Squeeze(n, false);
  if (op == "Unsqueeze") return Squeeze(n, true);
  if (op == "ReduceMean") return Reduce(n, OpKind::kReduceMean);
  if (op == "ReduceSum") return Reduce(n, OpKind::kReduceSum);
  if (op == "ReduceMax") return Reduce(n, OpKind::kReduceMax);
  if (op == "Constant") return Constant(n);
  if (op == "Identity" || op == "Dropout") {
    if (op == "Dropout" && OutputUsed(n, 1)) return Err("the mask output is not supported");
    LEMMA_ASSIGN_OR_RETURN(ValueId x, Input(n, 0));
    return Bind(n.output(0), x);
  }
  return absl::UnimplementedError(
      StrCat("op '", Printable(op), "' of opset ", opset_, " is not supported"));
}

// ---- Declared types.

absl::StatusOr<std::optional<TensorType>> Importer::DeclaredType(const onnx::ValueInfoProto& info,
                                                                 bool require_shape) const {
  const std::string name = Printable(info.name());
  if (!info.has_type() || !info.type().has_tensor_type()) {
    if (require_shape) return Err("'", name, "' is not a tensor");
    return std::optional<TensorType>();
  }
  const auto& tt = info.type().tensor_type();
  absl::StatusOr<DType> dtype = DTypeOfOnnx(tt.elem_type());
  if (!dtype.ok()) return Err("'", name, "': ", dtype.status().message());
  if (!tt.has_shape()) {
    if (require_shape) return Err("'", name, "' has no shape");
    return std::optional<TensorType>();
  }
  Dims dims;
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value()) {
      if (d.dim_value() < 0) return Err("'", name, "' has a negative dimension");
      dims.push_back(d.dim_value());
    } else if (d.has_dim_param() && options_.dim_params.contains(d.dim_param())) {
      dims.push_back(options_.dim_params.find(d.dim_param())->second);
    } else if (require_shape) {
      return Err("'", name, "' has a symbolic dimension '", Printable(d.dim_param()),
                 "' (give its value, e.g. lemma import --dim ", Printable(d.dim_param()), "=1)");
    } else {
      return std::optional<TensorType>();
    }
  }
  if (dims.size() > 32) return Err("'", name, "' has rank ", dims.size(), ", over 32");
  absl::StatusOr<int64_t> count = CheckedNumElements(dims, options_.max_tensor_elements);
  if (!count.ok()) return Err("'", name, "': ", count.status().message());
  return std::optional<TensorType>(TensorType::Make(*dtype, dims));
}

absl::Status Importer::DeclareInput(const onnx::ValueInfoProto& info) {
  if (initializers_.contains(info.name())) return absl::OkStatus();  // an input with a default
  if (values_.contains(info.name())) {
    return Err("graph input '", Printable(info.name()), "' is declared twice");
  }
  absl::StatusOr<std::optional<TensorType>> type = DeclaredType(info, true);
  if (!type.ok()) return Err("graph input ", type.status().message());
  absl::StatusOr<ValueId> v = g_.AddInput(UniqueName(info.name()), **type);
  if (!v.ok()) return v.status();
  values_.emplace(info.name(), *v);
  return absl::OkStatus();
}

absl::Status Importer::CheckDeclared(const onnx::ValueInfoProto& info) {
  auto it = values_.find(info.name());
  if (it == values_.end()) return absl::OkStatus();  // folded away or a constant
  absl::StatusOr<std::optional<TensorType>> declared = DeclaredType(info, false);
  if (!declared.ok()) return declared.status();
  if (!declared->has_value()) return absl::OkStatus();
  const TensorType& inferred = T(it->second);
  if ((*declared)->dtype == inferred.dtype && (*declared)->dims == inferred.dims) {
    return absl::OkStatus();
  }
  std::string where;
  if (auto p = producer_.find(info.name()); p != producer_.end()) {
    where = StrCat(NodeLabel(p->second), ": ");
  }
  return Err(where, "value '", Printable(info.name()), "': the model declares ",
             (*declared)->ToString(), " but lemma infers ", inferred.ToString());
}

absl::StatusOr<Model> Importer::Run(const onnx::GraphProto& gp) {
  gp_ = &gp;
  g_.set_name(gp.name().empty() ? "onnx" : Sanitize(gp.name()));
  if (gp.sparse_initializer_size() > 0) return FileError(Err("sparse initializers are not supported"));
  for (const TensorProto& t : gp.initializer()) {
    if (t.name().empty()) return FileError(Err("an initializer has no name"));
    if (!initializers_.emplace(t.name(), &t).second) {
      return FileError(Err("initializer '", Printable(t.name()), "' is defined twice"));
    }
  }
  for (const onnx::ValueInfoProto& o : gp.output()) graph_outputs_.insert(o.name());
  for (int i = 0; i < gp.node_size(); ++i) {
    const NodeProto& n = gp.node(i);
    for (const std::string& in : n.input()) {
      if (!in.empty()) consumers_[in].push_back(i);
    }
    for (const std::string& out : n.output()) {
      if (!out.empty() && !producer_.emplace(out, i).second) {
        return NodeError(i, Err("value '", Printable(out), "' is defined twice"));
      }
    }
  }
  for (const onnx::ValueInfoProto& in : gp.input()) {
    if (absl::Status s = DeclareInput(in); !s.ok()) return FileError(s);
  }
  absorbed_.assign(static_cast<size_t>(gp.node_size()), false);
  FindGeluPatterns();
  for (int i = 0; i < gp.node_size(); ++i) {
    if (absorbed_[static_cast<size_t>(i)]) continue;
    if (absl::Status s = ConvertNode(i); !s.ok()) return NodeError(i, s);
  }
  absl::flat_hash_set<std::string> output_names;
  for (const onnx::ValueInfoProto& o : gp.output()) {
    absl::StatusOr<ValueId> v = In(o.name());
    if (!v.ok()) return FileError(Err("graph output: ", v.status().message()));
    std::string name = Sanitize(o.name());
    for (int k = 1; output_names.contains(name); ++k) name = StrCat(Sanitize(o.name()), "_", k);
    output_names.insert(name);
    if (absl::Status s = g_.AddOutput(name, *v); !s.ok()) return FileError(s);
  }
  for (const onnx::ValueInfoProto& info : gp.output()) {
    if (absl::Status s = CheckDeclared(info); !s.ok()) return FileError(s);
  }
  for (const onnx::ValueInfoProto& info : gp.value_info()) {
    if (absl::Status s = CheckDeclared(info); !s.ok()) return FileError(s);
  }
  if (absl::Status s = g_.Validate(); !s.ok()) return FileError(s);
  return Model{std::move(g_), std::move(weights_)};
}

}  // namespace

std::span<const std::string_view> SupportedOnnxOps() { return kSupportedOps; }

absl::StatusOr<Model> ParseOnnxModel(std::string_view bytes, std::string_view filename,
                                     const OnnxImportOptions& options) {
  const std::string file(filename);
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Err(file, ": the file is over 2 GiB, which ONNX's protobuf encoding cannot hold");
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Err(file, ": not a valid ONNX model (the protobuf does not parse: a truncated or "
                     "corrupt file?)");
  }
  if (!model.has_graph()) return Err(file, ": the model has no graph");
  std::optional<int64_t> opset;
  for (const auto& o : model.opset_import()) {
    if (IsDefaultDomain(o.domain())) opset = o.version();
  }
  if (!opset) return Err(file, ": the model imports no opset of the default ONNX domain");
  if (*opset < kMinOnnxOpset || *opset > kMaxOnnxOpset) {
    return Err(file, ": opset ", *opset, " is not supported (lemma reads opsets ", kMinOnnxOpset,
               " to ", kMaxOnnxOpset, ")");
  }
  Importer importer(file, *opset, options);
  return importer.Run(model.graph());
}

absl::StatusOr<Model> ReadOnnxFile(const std::string& path, const OnnxImportOptions& options) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseOnnxModel(*bytes, path, options);
}

}  // namespace lemma
