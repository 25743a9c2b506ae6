#include "generator/space.h"

#include <set>

#include "ir/graph.h"
#include "ir/strings.h"

namespace lemma {
namespace {

bool SpatialDimsConstant(const SymShape& s) {
  return s.dims[2].IsConstant() && s.dims[3].IsConstant();
}

bool HasRole(const SymShape& s, Role role) {
  switch (role) {
    case Role::kAny:
      return true;
    case Role::kNonScalar:
      return s.rank() >= 1;
    case Role::kScalar:
      return s.rank() == 0;
    case Role::kSpatial:
      return s.rank() == 4 && !s.dims[2].IsConstant() && !s.dims[3].IsConstant();
    case Role::kKernel:
      return s.rank() == 4 && SpatialDimsConstant(s);
    case Role::kSmallKernel:
      return s.rank() == 4 && SpatialDimsConstant(s) &&
             !(s.dims[2] == SymSize::Const(3) && s.dims[3] == SymSize::Const(3));
  }
  return false;
}

// An attribute value at one assignment.
AttrValue Evaluate(const SymAttr& attr, std::span<const int64_t> values) {
  if (!attr.is_list) return attr.values[0].Evaluate(values);
  std::vector<int64_t> list;
  for (const SymSize& s : attr.values) list.push_back(s.Evaluate(values));
  return list;
}

// The conv groups of input channels `cx` and kernel input channels `cw`, when
// they can be written in size variables.
std::optional<SymSize> ConvGroups(const SymSize& cx, const SymSize& cw) {
  if (cx.SameSum(cw)) return SymSize::Const(1);
  if (cw == SymSize::Const(1)) return cx;
  const int j = cx.Multiple(cw);
  if (j >= 2 && j <= 127) return SymSize::Const(j);
  return std::nullopt;
}

}  // namespace

absl::StatusOr<SearchSpace> SearchSpace::Create(Universe universe,
                                                std::vector<OpTemplate> templates) {
  if (universe.tensors.empty()) return absl::InvalidArgumentError("the universe has no tensors");
  if (universe.tensors.size() > static_cast<size_t>(kMaxTensors)) {
    return absl::InvalidArgumentError(StrCat("the universe has ", universe.tensors.size(),
                                             " tensors; at most ", kMaxTensors, " fit the encoding"));
  }
  if (templates.empty()) return absl::InvalidArgumentError("no op templates");
  if (templates.size() > static_cast<size_t>(kMaxTemplates)) {
    return absl::InvalidArgumentError(StrCat(templates.size(), " templates; at most ",
                                             kMaxTemplates, " fit the encoding"));
  }
  std::set<std::string> names;
  for (const SizeVariable& v : universe.variables) {
    if (!IsValidName(v.name) || !names.insert(v.name).second) {
      return absl::InvalidArgumentError(StrCat("bad or repeated size variable '", v.name, "'"));
    }
    if (v.a < 1 || v.b < 1 || v.a == v.b) {
      return absl::InvalidArgumentError(
          StrCat("size variable '", v.name, "' needs two different positive values"));
    }
  }
  for (const UniverseTensor& t : universe.tensors) {
    if (!IsValidName(t.name) || !names.insert(t.name).second) {
      return absl::InvalidArgumentError(StrCat("bad or repeated tensor name '", t.name, "'"));
    }
    for (const SymSize& d : t.shape.dims) {
      if (d.num_parts() != 1) {
        return absl::InvalidArgumentError(
            StrCat("tensor '", t.name, "': each dim must be one variable or constant"));
      }
      if (d.part(0) >= static_cast<int>(universe.variables.size())) {
        return absl::InvalidArgumentError(StrCat("tensor '", t.name, "' uses an unknown variable"));
      }
    }
  }
  for (const OpTemplate& t : templates) {
    if (!GetOpInfo(t.op).Has(kTraitGenerator)) {
      return absl::InvalidArgumentError(
          StrCat("template '", t.name, "': ", OpName(t.op), " is not in the generator op set"));
    }
    if (t.arity < 0 || t.arity > 2) {
      return absl::InvalidArgumentError(StrCat("template '", t.name, "' takes 0 to 2 inputs"));
    }
  }
  SearchSpace space;
  space.universe_ = std::move(universe);
  space.templates_ = std::move(templates);
  space.names_ = space.universe_.VariableNames();
  space.values_a_ = space.universe_.Values(0);
  space.values_b_ = space.universe_.Values(1);
  return space;
}

TensorType SearchSpace::TypeOf(const SymShape& shape, int which) const {
  return TensorType::Make(DType::kF32, shape.Evaluate(values(which)));
}

bool SearchSpace::InputsFit(const OpTemplate& t, std::span<const SymShape* const> inputs) const {
  if (static_cast<int>(inputs.size()) != t.arity) return false;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (t.ranks[i] >= 0 && inputs[i]->rank() != t.ranks[i]) return false;
    if (!HasRole(*inputs[i], t.roles[i])) return false;
  }
  return true;
}

int SearchSpace::NumChoices(int tmpl, std::span<const SymShape* const> inputs) const {
  const OpTemplate& t = templates_[static_cast<size_t>(tmpl)];
  if (!InputsFit(t, inputs)) return 0;
  if (t.derived != DerivedAttr::kSplitSizes) return 1;
  if (t.axis >= inputs[0]->rank()) return 0;
  return inputs[0]->dims[static_cast<size_t>(t.axis)].num_parts() - 1;
}

std::optional<Application> SearchSpace::Apply(int tmpl, int choice,
                                              std::span<const SymShape* const> inputs) const {
  const OpTemplate& t = templates_[static_cast<size_t>(tmpl)];
  if (choice < 0 || choice >= NumChoices(tmpl, inputs)) return std::nullopt;
  Application app{t.fixed, {}, {}, {}};
  const std::span<const AttrSpec> schema = app.attrs.schema();
  auto index_of = [&](std::string_view name) {
    for (size_t i = 0; i < schema.size(); ++i) {
      if (schema[i].name == name) return i;
    }
    return schema.size();
  };
  for (const SymAttr& a : t.symbolic) app.symbolic.emplace_back(index_of(a.name), a);
  if (t.derived == DerivedAttr::kSplitSizes) {
    const SymSize& whole = inputs[0]->dims[static_cast<size_t>(t.axis)];
    app.symbolic.emplace_back(
        index_of("sizes"), SymAttr{"sizes", {whole.Prefix(choice + 1), whole.Suffix(choice + 1)}, true});
  } else if (t.derived == DerivedAttr::kConvGroups) {
    std::optional<SymSize> groups = ConvGroups(inputs[0]->dims[1], inputs[1]->dims[1]);
    if (!groups) return std::nullopt;
    app.symbolic.emplace_back(index_of("groups"), SymAttr{"groups", {*groups}, false});
  }
  Attributes attrs_b = t.fixed;
  std::vector<SymSize> extra;
  for (const auto& [index, attr] : app.symbolic) {
    if (index >= schema.size()) return std::nullopt;
    if (!app.attrs.Set(attr.name, Evaluate(attr, values_a_)).ok()) return std::nullopt;
    if (!attrs_b.Set(attr.name, Evaluate(attr, values_b_)).ok()) return std::nullopt;
    extra.insert(extra.end(), attr.values.begin(), attr.values.end());
  }
  std::vector<TensorType> in_a, in_b;
  for (const SymShape* s : inputs) {
    in_a.push_back(TypeOf(*s, 0));
    in_b.push_back(TypeOf(*s, 1));
  }
  absl::StatusOr<std::vector<TensorType>> out_a = InferOutputTypes(t.op, in_a, app.attrs);
  if (!out_a.ok()) return std::nullopt;
  absl::StatusOr<std::vector<TensorType>> out_b = InferOutputTypes(t.op, in_b, attrs_b);
  if (!out_b.ok() || out_b->size() != out_a->size()) return std::nullopt;
  for (size_t j = 0; j < out_a->size(); ++j) {
    std::optional<SymShape> shape = MatchOutputShape(inputs, extra, (*out_a)[j].dims,
                                                     (*out_b)[j].dims, values_a_, values_b_);
    if (!shape) return std::nullopt;
    app.outputs.push_back(std::move(*shape));
  }
  app.types = std::move(*out_a);
  return app;
}

std::vector<PatternAttrValue> SearchSpace::PatternAttrs(const Application& app) const {
  std::vector<PatternAttrValue> out;
  for (const std::optional<AttrValue>& v : app.attrs.values()) out.push_back(ToPatternAttr(*v));
  for (const auto& [index, attr] : app.symbolic) {
    if (attr.is_list) {
      std::vector<DimExpr> list;
      for (const SymSize& s : attr.values) list.push_back(s.ToDimExpr(names_));
      out[index] = std::move(list);
    } else {
      out[index] = attr.values[0].ToDimExpr(names_);
    }
  }
  return out;
}

}  // namespace lemma
