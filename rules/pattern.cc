#include "rules/pattern.h"

#include <algorithm>
#include <set>

#include "ir/strings.h"

namespace lemma {

// ---------------------------------------------------------------- DimExpr

DimExpr DimExpr::Var(std::string name) {
  DimExpr e;
  e.vars_.push_back(std::move(name));
  return e;
}

DimExpr DimExpr::operator+(const DimExpr& other) const {
  DimExpr sum;
  sum.constant_ = constant_ + other.constant_;
  sum.vars_ = vars_;
  sum.vars_.insert(sum.vars_.end(), other.vars_.begin(), other.vars_.end());
  std::sort(sum.vars_.begin(), sum.vars_.end());
  return sum;
}

std::optional<std::string_view> DimExpr::AsVar() const {
  if (vars_.size() != 1 || constant_ != 0) return std::nullopt;
  return vars_[0];
}

absl::StatusOr<int64_t> DimExpr::Evaluate(const Bindings& bindings) const {
  int64_t value = constant_;
  for (const std::string& v : vars_) {
    auto it = bindings.find(v);
    if (it == bindings.end()) return absl::InvalidArgumentError(StrCat("'", v, "' is not bound"));
    if (__builtin_add_overflow(value, it->second, &value)) {
      return absl::InvalidArgumentError(StrCat("'", ToString(), "' overflows"));
    }
  }
  return value;
}

std::string DimExpr::ToString() const {
  std::string out = StrJoin(vars_, "+");
  if (vars_.empty()) return StrCat(constant_);
  if (constant_ > 0) StrAppend(&out, "+", constant_);
  if (constant_ < 0) StrAppend(&out, constant_);
  return out;
}

// ---------------------------------------------------------------- Pattern

int Pattern::num_inputs() const {
  int n = 0;
  while (n < static_cast<int>(nodes.size()) && nodes[static_cast<size_t>(n)].IsInput()) ++n;
  return n;
}

int Pattern::FindInput(std::string_view name) const {
  for (int i = 0; i < num_inputs(); ++i) {
    if (nodes[static_cast<size_t>(i)].name == name) return i;
  }
  return -1;
}

PatternAttrValue ToPatternAttr(const AttrValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) return DimExpr(*i);
  if (const auto* d = std::get_if<double>(&value)) return *d;
  std::vector<DimExpr> list;
  for (int64_t v : std::get<std::vector<int64_t>>(value)) list.emplace_back(v);
  return list;
}

std::vector<PatternAttrValue> DefaultPatternAttrs(OpKind op) {
  std::vector<PatternAttrValue> out;
  for (const AttrSpec& spec : Attributes(op).schema()) {
    if (spec.default_value) {
      out.push_back(ToPatternAttr(*spec.default_value));
    } else if (spec.kind == AttrKind::kInts) {
      out.emplace_back(std::vector<DimExpr>{});
    } else if (spec.kind == AttrKind::kFloat) {
      out.emplace_back(0.0);
    } else {
      out.emplace_back(DimExpr(0));
    }
  }
  return out;
}

std::string FormatPatternAttr(OpKind op, size_t index, const PatternAttrValue& value) {
  const Attributes defaults(op);
  const AttrSpec& spec = defaults.schema()[index];
  if (const auto* d = std::get_if<double>(&value)) {
    Attributes attrs(op);
    if (!attrs.Set(spec.name, *d).ok()) return "?";
    return attrs.FormatValue(index);
  }
  if (const auto* list = std::get_if<std::vector<DimExpr>>(&value)) {
    std::vector<std::string> parts;
    for (const DimExpr& e : *list) parts.push_back(e.ToString());
    return StrCat("[", StrJoin(parts, ", "), "]");
  }
  const DimExpr& e = std::get<DimExpr>(value);
  if (spec.kind == AttrKind::kEnum && e.IsConstant() && e.constant() >= 0 &&
      static_cast<size_t>(e.constant()) < spec.enum_names.size()) {
    return std::string(spec.enum_names[static_cast<size_t>(e.constant())]);
  }
  return e.ToString();
}

std::vector<std::string> PatternExpressions(const Pattern& pattern) {
  std::vector<std::string> text(pattern.nodes.size());
  auto ref = [&](PatternRef r) {
    const PatternNode& node = pattern.nodes[static_cast<size_t>(r.node)];
    std::string s = text[static_cast<size_t>(r.node)];
    if (node.num_outputs > 1) s.insert(s.find('('), StrCat("#", r.index));
    return s;
  };
  for (size_t i = 0; i < pattern.nodes.size(); ++i) {
    const PatternNode& node = pattern.nodes[i];
    if (node.IsInput()) {
      text[i] = node.name;
      continue;
    }
    std::vector<std::string> args;
    for (const PatternRef& r : node.inputs) args.push_back(ref(r));
    text[i] = StrCat(OpName(node.op), "(", StrJoin(args, ", "), ")");
  }
  std::vector<std::string> out;
  for (const PatternOutput& o : pattern.outputs) out.push_back(ref(o.value));
  return out;
}

// ---------------------------------------------------------------- instantiation

bool IsPatternDTypeAttr(const AttrSpec& spec) {
  return spec.kind == AttrKind::kEnum && spec.name == "dtype";
}

absl::StatusOr<Attributes> InstantiateAttributes(const PatternNode& node,
                                                 const Bindings& bindings, DType dtype) {
  Attributes attrs(node.op);
  const std::span<const AttrSpec> schema = attrs.schema();
  for (size_t i = 0; i < schema.size() && i < node.attrs.size(); ++i) {
    AttrValue value;
    if (IsPatternDTypeAttr(schema[i])) {
      value = static_cast<int64_t>(dtype);
    } else if (const auto* e = std::get_if<DimExpr>(&node.attrs[i])) {
      absl::StatusOr<int64_t> v = e->Evaluate(bindings);
      if (!v.ok()) return v.status();
      value = *v;
    } else if (const auto* list = std::get_if<std::vector<DimExpr>>(&node.attrs[i])) {
      std::vector<int64_t> values;
      for (const DimExpr& x : *list) {
        absl::StatusOr<int64_t> v = x.Evaluate(bindings);
        if (!v.ok()) return v.status();
        values.push_back(*v);
      }
      value = std::move(values);
    } else {
      value = std::get<double>(node.attrs[i]);
    }
    if (absl::Status s = attrs.Set(schema[i].name, std::move(value)); !s.ok()) return s;
  }
  if (absl::Status s = attrs.CheckComplete(); !s.ok()) return s;
  return attrs;
}

absl::StatusOr<std::vector<ValueId>> InstantiateInto(const Pattern& pattern,
                                                     const Bindings& bindings, DType dtype,
                                                     std::span<const ValueId> inputs,
                                                     Graph& graph) {
  const int num_inputs = pattern.num_inputs();
  if (static_cast<int>(inputs.size()) != num_inputs) {
    return absl::InvalidArgumentError(
        StrCat("pattern has ", num_inputs, " inputs but ", inputs.size(), " values were bound"));
  }
  // values[i]: the graph node that pattern node i became (inputs: the bound value).
  std::vector<std::vector<ValueId>> values(pattern.nodes.size());
  for (int i = 0; i < num_inputs; ++i) values[static_cast<size_t>(i)] = {inputs[static_cast<size_t>(i)]};
  for (size_t i = static_cast<size_t>(num_inputs); i < pattern.nodes.size(); ++i) {
    const PatternNode& node = pattern.nodes[i];
    absl::StatusOr<Attributes> attrs = InstantiateAttributes(node, bindings, dtype);
    if (!attrs.ok()) {
      return absl::InvalidArgumentError(
          StrCat("pattern node ", i, " (", OpName(node.op), "): ", attrs.status().message()));
    }
    std::vector<ValueId> args;
    for (const PatternRef& r : node.inputs) {
      args.push_back(values[static_cast<size_t>(r.node)][static_cast<size_t>(r.index)]);
    }
    absl::StatusOr<NodeId> id = graph.AddNode(node.op, std::move(*attrs), std::move(args));
    if (!id.ok()) {
      return absl::InvalidArgumentError(
          StrCat("pattern node ", i, ": ", id.status().message()));
    }
    const int produced = static_cast<int>(graph.node(*id).outputs.size());
    if (produced != node.num_outputs) {
      return absl::InvalidArgumentError(StrCat("pattern node ", i, " (", OpName(node.op),
                                               ") has ", produced, " outputs, the pattern uses ",
                                               node.num_outputs));
    }
    for (int k = 0; k < produced; ++k) values[i].push_back(ValueId{*id, k});
  }
  std::vector<ValueId> outputs;
  for (const PatternOutput& o : pattern.outputs) {
    outputs.push_back(values[static_cast<size_t>(o.value.node)][static_cast<size_t>(o.value.index)]);
  }
  return outputs;
}

absl::StatusOr<Graph> Instantiate(const Pattern& pattern, const Bindings& bindings, DType dtype,
                                  std::string name) {
  Graph graph(std::move(name));
  std::vector<ValueId> inputs;
  for (int i = 0; i < pattern.num_inputs(); ++i) {
    const PatternNode& in = pattern.nodes[static_cast<size_t>(i)];
    Dims dims;
    for (const DimExpr& d : in.dims) {
      absl::StatusOr<int64_t> v = d.Evaluate(bindings);
      if (!v.ok()) return absl::InvalidArgumentError(StrCat("input ", in.name, ": ", v.status().message()));
      dims.push_back(*v);
    }
    absl::StatusOr<ValueId> v = graph.AddInput(in.name, TensorType::Make(dtype, std::move(dims)));
    if (!v.ok()) return v.status();
    inputs.push_back(*v);
  }
  absl::StatusOr<std::vector<ValueId>> outputs = InstantiateInto(pattern, bindings, dtype, inputs, graph);
  if (!outputs.ok()) return outputs.status();
  for (size_t k = 0; k < outputs->size(); ++k) {
    if (absl::Status s = graph.AddOutput(pattern.outputs[k].name, (*outputs)[k]); !s.ok()) return s;
  }
  return graph;
}

// ---------------------------------------------------------------- binding

namespace {

class Binder {
 public:
  // First pass: bind single variables; second pass: check everything.
  // `where()` names the dim or attribute; it is only formatted on failure.
  template <typename Where>
  absl::Status Dim(const DimExpr& e, int64_t actual, bool bind_pass, const Where& where) {
    if (bind_pass) {
      const std::optional<std::string_view> var = e.AsVar();
      if (!var) return absl::OkStatus();
      auto [it, inserted] = bindings_.emplace(std::string(*var), actual);
      if (inserted || it->second == actual) return absl::OkStatus();
      return absl::FailedPreconditionError(StrCat(where(), ": '", *var, "' is ", it->second,
                                                  " elsewhere but ", actual, " here"));
    }
    absl::StatusOr<int64_t> v = e.Evaluate(bindings_);
    if (!v.ok()) return absl::FailedPreconditionError(StrCat(where(), ": ", v.status().message()));
    if (*v == actual) return absl::OkStatus();
    return absl::FailedPreconditionError(
        StrCat(where(), ": expected ", e.ToString(), " = ", *v, ", found ", actual));
  }

  template <typename Where>
  absl::Status Attr(const PatternAttrValue& pattern, const AttrValue& actual, bool bind_pass,
                    const Where& where) {
    if (const auto* d = std::get_if<double>(&pattern)) {
      const auto* a = std::get_if<double>(&actual);
      if (bind_pass || (a && (*a == *d || (*a != *a && *d != *d)))) return absl::OkStatus();
      return absl::FailedPreconditionError(StrCat(where(), " differs"));
    }
    if (const auto* e = std::get_if<DimExpr>(&pattern)) {
      const auto* a = std::get_if<int64_t>(&actual);
      if (!a) return absl::FailedPreconditionError(StrCat(where(), " has the wrong kind"));
      return Dim(*e, *a, bind_pass, where);
    }
    const auto& list = std::get<std::vector<DimExpr>>(pattern);
    const auto* a = std::get_if<std::vector<int64_t>>(&actual);
    if (!a || a->size() != list.size()) {
      return absl::FailedPreconditionError(StrCat(where(), " has a different length"));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      if (absl::Status s = Dim(list[i], (*a)[i], bind_pass, where); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  Bindings bindings_;
};

}  // namespace

absl::StatusOr<Bindings> BindPattern(const Pattern& pattern,
                                     std::span<const TensorType> input_types,
                                     std::span<const Attributes* const> node_attrs) {
  const int num_inputs = pattern.num_inputs();
  if (static_cast<int>(input_types.size()) != num_inputs ||
      node_attrs.size() != pattern.nodes.size()) {
    return absl::InvalidArgumentError("BindPattern: sizes do not match the pattern");
  }
  Binder binder;
  for (const bool bind_pass : {true, false}) {
    for (int i = 0; i < num_inputs; ++i) {
      const PatternNode& in = pattern.nodes[static_cast<size_t>(i)];
      const TensorType& type = input_types[static_cast<size_t>(i)];
      if (type.rank() != static_cast<int>(in.dims.size())) {
        return absl::FailedPreconditionError(StrCat("input ", in.name, " must have rank ",
                                                    in.dims.size(), ", found ", type.rank()));
      }
      for (size_t d = 0; d < in.dims.size(); ++d) {
        if (absl::Status s = binder.Dim(in.dims[d], type.dims[d], bind_pass,
                                        [&] { return StrCat("dim ", d, " of input ", in.name); });
            !s.ok()) {
          return s;
        }
      }
    }
    for (size_t i = static_cast<size_t>(num_inputs); i < pattern.nodes.size(); ++i) {
      const PatternNode& node = pattern.nodes[i];
      const Attributes* attrs = node_attrs[i];
      if (attrs == nullptr || attrs->op() != node.op) {
        return absl::InvalidArgumentError("BindPattern: node attributes do not match the pattern");
      }
      for (size_t a = 0; a < node.attrs.size(); ++a) {
        if (IsPatternDTypeAttr(attrs->schema()[a])) continue;
        const std::optional<AttrValue>& actual = attrs->values()[a];
        if (!actual) return absl::FailedPreconditionError("attribute unset");
        if (absl::Status s = binder.Attr(node.attrs[a], *actual, bind_pass, [&] {
              return StrCat("attribute ", attrs->schema()[a].name, " of ", OpName(node.op),
                            " (pattern node ", i, ")");
            });
            !s.ok()) {
          return s;
        }
      }
    }
  }
  return std::move(binder.bindings_);
}

PatternVariables CollectVariables(const Pattern& pattern) {
  std::set<std::string> bound, mentioned;
  auto visit = [&](const DimExpr& e, bool binds) {
    for (const std::string& v : e.vars()) mentioned.insert(v);
    if (binds && e.AsVar()) bound.insert(std::string(*e.AsVar()));
  };
  for (const PatternNode& node : pattern.nodes) {
    for (const DimExpr& d : node.dims) visit(d, true);
    for (const PatternAttrValue& a : node.attrs) {
      if (const auto* e = std::get_if<DimExpr>(&a)) visit(*e, true);
      if (const auto* list = std::get_if<std::vector<DimExpr>>(&a)) {
        for (const DimExpr& e : *list) visit(e, true);
      }
    }
  }
  return {{bound.begin(), bound.end()}, {mentioned.begin(), mentioned.end()}};
}

}  // namespace lemma
