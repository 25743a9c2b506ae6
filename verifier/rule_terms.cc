#include "verifier/rule_terms.h"

#include <map>

#include "ir/strings.h"

namespace lemma::verifier {
namespace {

IntTerm ToInt(const DimExpr& e, std::map<std::string, IntTerm>& vars) {
  IntTerm sum = e.constant();
  bool first = e.constant() == 0;
  for (const std::string& name : e.vars()) {
    auto it = vars.find(name);
    if (it == vars.end()) it = vars.emplace(name, IntVar(name, 1, 8)).first;
    sum = first ? it->second : sum + it->second;
    first = false;
  }
  return sum;
}

// The terms of one side: one per output of each node (inputs: the shared
// tensor variables).
class SideBuilder {
 public:
  SideBuilder(const Pattern& pattern, const Graph& instance,
              const std::vector<TensorTerm>& inputs, std::map<std::string, IntTerm>& vars)
      : pattern_(pattern), instance_(instance), vars_(vars) {
    for (const TensorTerm& in : inputs) values_.push_back({in});
  }

  absl::Status Build(std::vector<TensorTerm>& every_output) {
    for (size_t i = values_.size(); i < pattern_.nodes.size(); ++i) {
      const PatternNode& node = pattern_.nodes[i];
      const OpInfo& info = GetOpInfo(node.op);
      if (!info.Has(kTraitGenerator)) {
        return absl::UnimplementedError(
            StrCat("op ", info.name, " is outside the verifier's op set (it has no axioms)"));
      }
      std::vector<TensorTerm> args;
      for (const PatternRef& r : node.inputs) {
        args.push_back(values_[static_cast<size_t>(r.node)][static_cast<size_t>(r.index)]);
      }
      absl::StatusOr<std::pair<std::vector<int>, std::vector<IntTerm>>> attrs = Attrs(i, node);
      if (!attrs.ok()) return attrs.status();
      std::vector<TensorTerm> outs;
      for (int k = 0; k < node.num_outputs; ++k) {
        outs.push_back(ApplyFlat(node.op, attrs->first, attrs->second, args, k, node.num_outputs));
        every_output.push_back(outs.back());
      }
      values_.push_back(std::move(outs));
    }
    return absl::OkStatus();
  }

  TensorTerm Value(PatternRef r) const {
    return values_[static_cast<size_t>(r.node)][static_cast<size_t>(r.index)];
  }

 private:
  absl::StatusOr<std::pair<std::vector<int>, std::vector<IntTerm>>> Attrs(
      size_t index, const PatternNode& node) {
    const Attributes holder(node.op);
    const std::span<const AttrSpec> schema = holder.schema();
    std::vector<int> lengths;
    std::vector<IntTerm> flat;
    for (size_t a = 0; a < schema.size(); ++a) {
      const PatternAttrValue& value = node.attrs[a];
      if (IsPatternDTypeAttr(schema[a])) {
        lengths.push_back(0);
      } else if (const auto* e = std::get_if<DimExpr>(&value)) {
        lengths.push_back(1);
        flat.push_back(schema[a].name == "axis" ? Axis(index, node, *e) : ToInt(*e, vars_));
      } else if (const auto* list = std::get_if<std::vector<DimExpr>>(&value)) {
        lengths.push_back(static_cast<int>(list->size()));
        for (const DimExpr& x : *list) flat.push_back(ToInt(x, vars_));
      } else {
        return absl::UnimplementedError(StrCat("attribute ", schema[a].name, " of ",
                                               OpName(node.op), " is not an integer"));
      }
    }
    return std::pair{std::move(lengths), std::move(flat)};
  }

  // A concat or split axis, counted from the front. The rank is the first
  // input's in the instance at the example sizes (ranks do not depend on sizes).
  IntTerm Axis(size_t index, const PatternNode& node, const DimExpr& e) {
    const ValueId in = instance_.node(static_cast<NodeId>(index)).inputs[0];
    const int64_t rank = instance_.type(in).rank();
    if (e.IsConstant()) return e.constant() < 0 ? e.constant() + rank : e.constant();
    const IntTerm axis = ToInt(e, vars_);
    return Ite(axis < IntTerm(0), axis + IntTerm(rank), axis);
  }

  const Pattern& pattern_;
  const Graph& instance_;
  std::map<std::string, IntTerm>& vars_;
  std::vector<std::vector<TensorTerm>> values_;
};

}  // namespace

absl::StatusOr<RuleTerms> RuleToTerms(const Rule& rule) {
  if (rule.example.empty() && !CollectVariables(rule.source).bound.empty()) {
    return absl::FailedPreconditionError("the rule has variables but no example sizes");
  }
  absl::StatusOr<RuleGraphs> graphs = InstantiateRule(rule);
  if (!graphs.ok()) return graphs.status();
  const Pattern& src = rule.source;
  if (graphs->source.num_nodes() != static_cast<int>(src.nodes.size()) ||
      graphs->target.num_nodes() != static_cast<int>(rule.target.nodes.size())) {
    return absl::InternalError("the instance's nodes do not follow the pattern's");
  }
  std::map<std::string, IntTerm> vars;
  RuleTerms out;
  std::vector<TensorTerm> inputs;
  for (int i = 0; i < src.num_inputs(); ++i) {
    const PatternNode& in = src.nodes[static_cast<size_t>(i)];
    const TensorTerm x = TensorVar(in.name);
    inputs.push_back(x);
    out.hypotheses.push_back(Ok(x));
    out.hypotheses.push_back(Rank(x) == IntTerm(static_cast<int64_t>(in.dims.size())));
    for (size_t d = 0; d < in.dims.size(); ++d) {
      const IntTerm size = ToInt(in.dims[d], vars);
      out.hypotheses.push_back(Dim(x, IntTerm(static_cast<int64_t>(d))) == size);
      out.hypotheses.push_back(IntTerm(1) <= size);
    }
  }
  SideBuilder source(src, graphs->source, inputs, vars);
  SideBuilder target(rule.target, graphs->target, inputs, vars);
  std::vector<TensorTerm> nodes;
  if (absl::Status s = source.Build(nodes); !s.ok()) return s;
  if (absl::Status s = target.Build(nodes); !s.ok()) return s;
  for (const TensorTerm& n : nodes) out.hypotheses.push_back(Ok(n));
  for (size_t k = 0; k < src.outputs.size(); ++k) {
    out.outputs.emplace_back(source.Value(src.outputs[k].value),
                             target.Value(rule.target.outputs[k].value));
  }
  for (const auto& [name, var] : vars) out.variables.push_back(var);
  return out;
}

}  // namespace lemma::verifier
