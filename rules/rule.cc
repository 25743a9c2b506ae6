#include "rules/rule.h"

#include <set>

#include "ir/strings.h"

namespace lemma {
namespace {

constexpr std::string_view kStatusNames[] = {"tested", "proved", "unknown", "refuted"};

absl::Status RuleError(const Rule& rule, std::string_view reason) {
  return absl::InvalidArgumentError(StrCat("rule ", rule.id, ": ", reason));
}

// Node references point backwards, outputs exist, arity fits the op.
absl::Status CheckPatternShape(const Pattern& p, std::string_view side) {
  const int num_inputs = p.num_inputs();
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    const PatternNode& node = p.nodes[i];
    if (node.IsInput()) {
      if (static_cast<int>(i) >= num_inputs) {
        return absl::InvalidArgumentError(StrCat(side, ": inputs must come before ops"));
      }
      continue;
    }
    const OpInfo& info = GetOpInfo(node.op);
    if (info.Has(kTraitSource)) {
      return absl::InvalidArgumentError(StrCat(side, ": ", OpName(node.op), " is not an op"));
    }
    const int n = static_cast<int>(node.inputs.size());
    if (n < info.min_inputs || (info.max_inputs >= 0 && n > info.max_inputs)) {
      return absl::InvalidArgumentError(
          StrCat(side, ": ", OpName(node.op), " takes ", info.min_inputs,
                 info.max_inputs == info.min_inputs ? "" : " or more", " inputs, found ", n));
    }
    if (node.attrs.size() != Attributes(node.op).schema().size()) {
      return absl::InvalidArgumentError(StrCat(side, ": attributes of ", OpName(node.op),
                                               " do not follow its schema"));
    }
    for (const PatternRef& r : node.inputs) {
      if (r.node < 0 || static_cast<size_t>(r.node) >= i || r.index < 0 ||
          r.index >= p.nodes[static_cast<size_t>(r.node)].num_outputs) {
        return absl::InvalidArgumentError(
            StrCat(side, ": ", OpName(node.op), " refers to a value defined after it"));
      }
    }
  }
  for (const PatternOutput& o : p.outputs) {
    if (o.value.node < 0 || static_cast<size_t>(o.value.node) >= p.nodes.size() ||
        o.value.index < 0 ||
        o.value.index >= p.nodes[static_cast<size_t>(o.value.node)].num_outputs) {
      return absl::InvalidArgumentError(StrCat(side, ": output ", o.name, " is not a value"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckInputs(const Rule& rule) {
  const Pattern& src = rule.source;
  const int num_inputs = src.num_inputs();
  if (rule.target.num_inputs() != num_inputs) {
    return RuleError(rule, "source and target must declare the same inputs");
  }
  std::set<std::string_view> names;
  std::vector<bool> used(static_cast<size_t>(num_inputs), false);
  for (int i = 0; i < num_inputs; ++i) {
    const PatternNode& in = src.nodes[static_cast<size_t>(i)];
    const PatternNode& tin = rule.target.nodes[static_cast<size_t>(i)];
    if (tin.name != in.name || tin.dims != in.dims) {
      return RuleError(rule, "source and target must declare the same inputs");
    }
    if (!IsValidName(in.name)) return RuleError(rule, StrCat("bad input name '", in.name, "'"));
    if (!names.insert(in.name).second) {
      return RuleError(rule, StrCat("input '", in.name, "' is declared twice"));
    }
    for (const DimExpr& d : in.dims) {
      if (!d.IsConstant() && !d.AsVar()) {
        return RuleError(rule, StrCat("dim '", d.ToString(), "' of input '", in.name,
                                      "' must be a constant or a single variable"));
      }
    }
  }
  for (const PatternNode& node : src.nodes) {
    for (const PatternRef& r : node.inputs) {
      if (r.node < num_inputs) used[static_cast<size_t>(r.node)] = true;
    }
  }
  for (int i = 0; i < num_inputs; ++i) {
    if (!used[static_cast<size_t>(i)]) {
      return RuleError(rule, StrCat("input '", src.nodes[static_cast<size_t>(i)].name,
                                    "' is not used by the source"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOutputs(const Rule& rule) {
  const Pattern& src = rule.source;
  if (src.outputs.empty()) return RuleError(rule, "the source has no outputs");
  if (src.num_ops() == 0) return RuleError(rule, "the source has no ops");
  if (src.outputs.size() != rule.target.outputs.size()) {
    return RuleError(rule, StrCat("the source has ", src.outputs.size(),
                                  " outputs but the target has ", rule.target.outputs.size()));
  }
  std::set<std::string_view> names;
  for (size_t k = 0; k < src.outputs.size(); ++k) {
    if (src.outputs[k].name != rule.target.outputs[k].name) {
      return RuleError(rule, StrCat("output ", k, " is '", src.outputs[k].name,
                                    "' in the source but '", rule.target.outputs[k].name,
                                    "' in the target"));
    }
    if (!names.insert(src.outputs[k].name).second) {
      return RuleError(rule, StrCat("output '", src.outputs[k].name, "' is named twice"));
    }
    if (src.nodes[static_cast<size_t>(src.outputs[k].value.node)].IsInput()) {
      return RuleError(rule, StrCat("source output '", src.outputs[k].name, "' is an input"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVariables(const Rule& rule) {
  const PatternVariables src = CollectVariables(rule.source);
  const std::set<std::string> bound(src.bound.begin(), src.bound.end());
  for (const std::string& v : src.mentioned) {
    if (!bound.contains(v)) {
      return RuleError(rule, StrCat("variable '", v, "' is never bound by the source (use it "
                                                     "alone as an input dim or attribute)"));
    }
  }
  for (const std::string& v : CollectVariables(rule.target).mentioned) {
    if (!bound.contains(v)) {
      return RuleError(rule, StrCat("the target uses variable '", v,
                                    "' that the source does not bind"));
    }
  }
  if (!rule.example.empty()) {
    for (const std::string& v : bound) {
      if (!rule.example.contains(v)) {
        return RuleError(rule, StrCat("the example gives no value for '", v, "'"));
      }
    }
    for (const auto& [name, value] : rule.example) {
      if (!bound.contains(name)) {
        return RuleError(rule, StrCat("the example binds '", name, "', which the rule lacks"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view RuleStatusName(RuleStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

std::optional<RuleStatus> ParseRuleStatus(std::string_view name) {
  for (size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (kStatusNames[i] == name) return static_cast<RuleStatus>(i);
  }
  return std::nullopt;
}

absl::StatusOr<RuleGraphs> InstantiateRule(const Rule& rule, DType dtype, const Bindings* sizes) {
  const Bindings& b = sizes ? *sizes : rule.example;
  absl::StatusOr<Graph> source = Instantiate(rule.source, b, dtype, StrCat(rule.id, ".source"));
  if (!source.ok()) return RuleError(rule, StrCat("source: ", source.status().message()));
  absl::StatusOr<Graph> target = Instantiate(rule.target, b, dtype, StrCat(rule.id, ".target"));
  if (!target.ok()) return RuleError(rule, StrCat("target: ", target.status().message()));
  for (size_t k = 0; k < source->outputs().size(); ++k) {
    const TensorType& s = source->type(source->outputs()[k].value);
    const TensorType& t = target->type(target->outputs()[k].value);
    if (s.dtype != t.dtype || s.dims != t.dims) {
      return RuleError(rule, StrCat("output '", source->outputs()[k].name, "' is ",
                                    s.ToString(), " in the source but ", t.ToString(),
                                    " in the target"));
    }
  }
  return RuleGraphs{std::move(*source), std::move(*target)};
}

absl::Status CheckRule(const Rule& rule) {
  if (!IsValidName(rule.id)) {
    return absl::InvalidArgumentError(StrCat("rule '", rule.id, "': bad rule id"));
  }
  if (absl::Status s = CheckPatternShape(rule.source, "source"); !s.ok()) {
    return RuleError(rule, ToStd(s.message()));
  }
  if (absl::Status s = CheckPatternShape(rule.target, "target"); !s.ok()) {
    return RuleError(rule, ToStd(s.message()));
  }
  if (absl::Status s = CheckInputs(rule); !s.ok()) return s;
  if (absl::Status s = CheckOutputs(rule); !s.ok()) return s;
  if (absl::Status s = CheckVariables(rule); !s.ok()) return s;
  if (rule.status == RuleStatus::kProved && rule.axiom_set.empty()) {
    return RuleError(rule, "a proved rule must name its axiom set");
  }
  if (rule.example.empty() && !CollectVariables(rule.source).bound.empty()) {
    return absl::OkStatus();  // nothing to instantiate with
  }
  absl::StatusOr<RuleGraphs> graphs = InstantiateRule(rule);
  return graphs.ok() ? absl::OkStatus() : graphs.status();
}

absl::Status RuleSet::Add(Rule rule) {
  if (absl::Status s = CheckRule(rule); !s.ok()) return s;
  if (by_id_.contains(rule.id)) {
    return absl::InvalidArgumentError(StrCat("rule ", rule.id, ": duplicate id"));
  }
  const int index = static_cast<int>(rules_.size());
  by_id_.emplace(rule.id, index);
  if (by_root_.empty()) by_root_.resize(kNumOpKinds);
  const OpKind root =
      rule.source.nodes[static_cast<size_t>(rule.source.outputs[0].value.node)].op;
  by_root_[static_cast<size_t>(root)].push_back(index);
  rules_.push_back(std::move(rule));
  return absl::OkStatus();
}

const Rule* RuleSet::Find(std::string_view id) const {
  auto it = by_id_.find(ToAbsl(id));
  return it == by_id_.end() ? nullptr : &rules_[static_cast<size_t>(it->second)];
}

std::span<const int> RuleSet::RootedAt(OpKind op) const {
  if (by_root_.empty()) return {};
  return by_root_[static_cast<size_t>(op)];
}

RuleSet RuleSet::WithStatus(RuleStatus status) const {
  RuleSet out;
  for (const Rule& r : rules_) {
    if (r.status == status) {
      const absl::Status s = out.Add(r);  // already checked
      (void)s;
    }
  }
  return out;
}

std::vector<int> RuleSet::CountByStatus() const {
  std::vector<int> counts(std::size(kStatusNames), 0);
  for (const Rule& r : rules_) ++counts[static_cast<size_t>(r.status)];
  return counts;
}

}  // namespace lemma
