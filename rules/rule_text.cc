#include "rules/rule_text.h"

#include <cinttypes>
#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_split.h"
#include "ir/file_io.h"
#include "ir/lexer.h"
#include "ir/strings.h"

namespace lemma {
namespace {

// ---------------------------------------------------------------- printing

std::string FormatFingerprint(uint64_t fp) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, fp);
  return buf;
}

class PatternPrinter {
 public:
  PatternPrinter(const Pattern& p, std::string* out) : p_(p), out_(*out) {}

  void Print(std::string_view side, bool declare_inputs) {
    StrAppend(&out_, "  ", side, " {\n");
    labels_.resize(p_.nodes.size());
    for (size_t i = 0; i < p_.nodes.size(); ++i) {
      const PatternNode& node = p_.nodes[i];
      if (node.IsInput()) {
        labels_[i] = {node.name};
        if (declare_inputs) {
          std::vector<std::string> dims;
          for (const DimExpr& d : node.dims) dims.push_back(d.ToString());
          StrAppend(&out_, "    input ", node.name, ": [", StrJoin(dims, ", "), "]\n");
        }
        continue;
      }
      for (int k = 0; k < node.num_outputs; ++k) labels_[i].push_back(StrCat("%", next_++));
      StrAppend(&out_, "    ", StrJoin(labels_[i], ", "), " = ", OpName(node.op), "(");
      for (size_t a = 0; a < node.inputs.size(); ++a) {
        StrAppend(&out_, a == 0 ? "" : ", ", Label(node.inputs[a]));
      }
      out_ += ")";
      PrintAttributes(node);
      out_ += "\n";
    }
    for (const PatternOutput& o : p_.outputs) {
      StrAppend(&out_, "    output ", o.name, " = ", Label(o.value), "\n");
    }
    out_ += "  }\n";
  }

 private:
  const std::string& Label(PatternRef r) const {
    return labels_[static_cast<size_t>(r.node)][static_cast<size_t>(r.index)];
  }

  void PrintAttributes(const PatternNode& node) {
    const std::vector<PatternAttrValue> defaults = DefaultPatternAttrs(node.op);
    const Attributes schema_holder(node.op);
    const std::span<const AttrSpec> schema = schema_holder.schema();
    std::vector<std::string> parts;
    for (size_t a = 0; a < node.attrs.size(); ++a) {
      if (IsPatternDTypeAttr(schema[a])) continue;
      if (schema[a].default_value && node.attrs[a] == defaults[a]) continue;
      parts.push_back(StrCat(schema[a].name, "=", FormatPatternAttr(node.op, a, node.attrs[a])));
    }
    if (!parts.empty()) StrAppend(&out_, " {", StrJoin(parts, ", "), "}");
  }

  const Pattern& p_;
  std::string& out_;
  std::vector<std::vector<std::string>> labels_;
  int next_ = 0;
};

// ---------------------------------------------------------------- parsing

class RuleParser : private TokenCursor {
 public:
  RuleParser(std::vector<Token> tokens, std::string_view file)
      : TokenCursor(std::move(tokens), file) {}

  absl::StatusOr<RuleSet> Run() && {
    RuleSet rules;
    while (Peek().kind != TokenKind::kEnd) {
      const Token at = Peek();
      absl::StatusOr<Rule> rule = ParseRule();
      if (!rule.ok()) return rule.status();
      if (absl::Status s = rules.Add(std::move(*rule)); !s.ok()) return Error(at, ToStd(s.message()));
    }
    return rules;
  }

 private:
  absl::StatusOr<Rule> ParseRule() {
    if (absl::Status s = ExpectWord("rule"); !s.ok()) return s;
    if (Peek().kind != TokenKind::kName) return Expected("a rule id");
    Rule rule;
    rule.id = std::string(Next().text);
    if (absl::Status s = Expect('{', "after the rule id"); !s.ok()) return s;
    while (!PeekWord("source")) {
      if (absl::Status s = ParseMetadata(rule); !s.ok()) return s;
    }
    Next();
    symbols_.clear();
    if (absl::Status s = ParsePattern(rule.source, /*is_source=*/true); !s.ok()) return s;
    if (absl::Status s = ExpectWord("target"); !s.ok()) return s;
    // The target starts with the source's inputs, visible by name.
    symbols_.clear();
    for (int i = 0; i < rule.source.num_inputs(); ++i) {
      rule.target.nodes.push_back(rule.source.nodes[static_cast<size_t>(i)]);
      symbols_.emplace(rule.source.nodes[static_cast<size_t>(i)].name, PatternRef{i, 0});
    }
    if (absl::Status s = ParsePattern(rule.target, /*is_source=*/false); !s.ok()) return s;
    if (absl::Status s = Expect('}', "to end the rule"); !s.ok()) return s;
    return rule;
  }

  absl::Status ParseMetadata(Rule& rule) {
    const Token key = Peek();
    if (key.kind != TokenKind::kName) return Expected("'status', 'uses', 'fingerprint', 'origin', 'example' or 'source'");
    Next();
    if (key.text == "status") {
      const Token name = Peek();
      if (name.kind != TokenKind::kName) return Expected("a status");
      std::optional<RuleStatus> status = ParseRuleStatus(name.text);
      if (!status) {
        return Error(name, StrCat("unknown status ", DescribeToken(name),
                                  " (expected tested, proved, unknown or refuted)"));
      }
      Next();
      rule.status = *status;
      if (*status == RuleStatus::kTested) return absl::OkStatus();
      absl::StatusOr<std::string> detail = ParseString();
      if (!detail.ok()) return detail.status();
      (*status == RuleStatus::kProved ? rule.axiom_set : rule.note) = std::move(*detail);
      return absl::OkStatus();
    }
    if (key.text == "uses") {
      if (absl::Status s = Expect('[', "after 'uses'"); !s.ok()) return s;
      while (!IsPunct(Peek(), ']')) {
        if (Peek().kind != TokenKind::kName) return Expected("an axiom name");
        rule.axioms_used.emplace_back(Next().text);
        if (!IsPunct(Peek(), ',')) break;
        Next();
      }
      return Expect(']', "or ',' in the list of axioms");
    }
    if (key.text == "fingerprint") {
      const Token t = Peek();
      absl::StatusOr<std::string> hex = ParseString();
      if (!hex.ok()) return hex.status();
      uint64_t fp = 0;
      if (hex->empty() || hex->size() > 16) return Error(t, "a fingerprint is 1 to 16 hex digits");
      for (const char c : *hex) {
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
        if (d < 0) return Error(t, "a fingerprint is lowercase hex digits");
        fp = fp * 16 + static_cast<uint64_t>(d);
      }
      rule.fingerprint = fp;
      return absl::OkStatus();
    }
    if (key.text == "origin") {
      absl::StatusOr<std::string> origin = ParseString();
      if (!origin.ok()) return origin.status();
      rule.origin = std::move(*origin);
      return absl::OkStatus();
    }
    if (key.text == "example") {
      for (;;) {
        const Token name = Peek();
        if (name.kind != TokenKind::kName) return Expected("a variable name");
        Next();
        if (absl::Status s = Expect('=', "after the variable"); !s.ok()) return s;
        absl::StatusOr<int64_t> v = ParseInt();
        if (!v.ok()) return v.status();
        if (!rule.example.emplace(std::string(name.text), *v).second) {
          return Error(name, StrCat("'", name.text, "' is given twice"));
        }
        if (!IsPunct(Peek(), ',')) return absl::OkStatus();
        Next();
      }
    }
    return Error(key, StrCat("unknown rule field ", DescribeToken(key),
                             " (expected status, uses, fingerprint, origin, example or source)"));
  }

  absl::Status ParsePattern(Pattern& p, bool is_source) {
    if (absl::Status s = Expect('{', "to start the pattern"); !s.ok()) return s;
    while (!IsPunct(Peek(), '}')) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kName && Peek(1).kind == TokenKind::kName && t.text == "input") {
        if (!is_source) return Error(t, "the target uses the source's inputs; it declares none");
        if (p.num_ops() > 0) return Error(t, "inputs must be declared before ops");
        if (absl::Status s = ParseInput(p); !s.ok()) return s;
      } else if (t.kind == TokenKind::kName && Peek(1).kind == TokenKind::kName &&
                 t.text == "output") {
        if (absl::Status s = ParseOutput(p); !s.ok()) return s;
      } else if (t.kind == TokenKind::kName || t.kind == TokenKind::kLabel) {
        if (!p.outputs.empty()) return Error(t, "ops must come before outputs");
        if (absl::Status s = ParseNode(p); !s.ok()) return s;
      } else {
        return Expected("input, output, a node or '}'");
      }
    }
    Next();
    if (p.outputs.empty()) return Error(Peek(), "a pattern needs at least one output");
    return absl::OkStatus();
  }

  absl::Status Define(const Token& t, PatternRef ref) {
    if (!symbols_.emplace(std::string(t.text), ref).second) {
      return Error(t, StrCat("redefinition of '", t.text, "'"));
    }
    return absl::OkStatus();
  }

  // input NAME: [DIM, ...]
  absl::Status ParseInput(Pattern& p) {
    Next();
    const Token name = Next();
    PatternNode node;
    node.name = std::string(name.text);
    if (absl::Status s = Define(name, PatternRef{static_cast<int>(p.nodes.size()), 0}); !s.ok()) {
      return s;
    }
    if (absl::Status s = Expect(':', "after the input name"); !s.ok()) return s;
    if (absl::Status s = Expect('[', "to start the dims"); !s.ok()) return s;
    while (!IsPunct(Peek(), ']')) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kInt) {
        absl::StatusOr<int64_t> v = ParseInt();
        if (!v.ok()) return v.status();
        node.dims.emplace_back(*v);
      } else if (t.kind == TokenKind::kName) {
        node.dims.push_back(DimExpr::Var(std::string(Next().text)));
      } else {
        return Expected("a dim (an integer or a variable)");
      }
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    if (absl::Status s = Expect(']', "or ',' in the dims"); !s.ok()) return s;
    p.nodes.push_back(std::move(node));
    return absl::OkStatus();
  }

  // output NAME = VALUE
  absl::Status ParseOutput(Pattern& p) {
    Next();
    const Token name = Next();
    for (const PatternOutput& o : p.outputs) {
      if (o.name == name.text) return Error(name, StrCat("output '", name.text, "' is already defined"));
    }
    if (absl::Status s = Expect('=', "after the output name"); !s.ok()) return s;
    absl::StatusOr<PatternRef> v = ParseRef();
    if (!v.ok()) return v.status();
    p.outputs.push_back(PatternOutput{std::string(name.text), *v});
    return absl::OkStatus();
  }

  absl::StatusOr<PatternRef> ParseRef() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kName && t.kind != TokenKind::kLabel) {
      return Expected("a value (a name or %N)");
    }
    auto it = symbols_.find(ToAbsl(t.text));
    if (it == symbols_.end()) return Error(t, StrCat("'", t.text, "' is not defined"));
    Next();
    return it->second;
  }

  // RESULTS = OP(ARGS) [{ATTRS}]
  absl::Status ParseNode(Pattern& p) {
    std::vector<Token> results;
    for (;;) {
      const Token& t = Peek();
      if (t.kind != TokenKind::kName && t.kind != TokenKind::kLabel) {
        return Expected("a result (a name or %N)");
      }
      results.push_back(Next());
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    if (absl::Status s = Expect('=', "after the results"); !s.ok()) return s;
    const Token op_token = Peek();
    if (op_token.kind != TokenKind::kName) return Expected("an op name");
    const std::optional<OpKind> op = FindOp(op_token.text);
    if (!op) return Error(op_token, StrCat("unknown op '", op_token.text, "'"));
    if (GetOpInfo(*op).Has(kTraitSource)) {
      return Error(op_token, StrCat("'", op_token.text, "' is not an op"));
    }
    Next();
    PatternNode node;
    node.op = *op;
    node.attrs = DefaultPatternAttrs(*op);
    node.num_outputs = static_cast<int>(results.size());
    if (absl::Status s = Expect('(', "after the op name"); !s.ok()) return s;
    while (!IsPunct(Peek(), ')')) {
      absl::StatusOr<PatternRef> v = ParseRef();
      if (!v.ok()) return v.status();
      node.inputs.push_back(*v);
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    if (absl::Status s = Expect(')', "or ',' after an argument"); !s.ok()) return s;
    if (IsPunct(Peek(), '{')) {
      if (absl::Status s = ParseAttributes(node); !s.ok()) return s;
    } else if (absl::Status s = CheckRequired(node, op_token); !s.ok()) {
      return s;
    }
    const int id = static_cast<int>(p.nodes.size());
    for (size_t k = 0; k < results.size(); ++k) {
      if (absl::Status s = Define(results[k], PatternRef{id, static_cast<int>(k)}); !s.ok()) {
        return s;
      }
    }
    p.nodes.push_back(std::move(node));
    return absl::OkStatus();
  }

  absl::Status CheckRequired(const PatternNode& node, const Token& at,
                             const std::vector<bool>* seen = nullptr) {
    const Attributes holder(node.op);
    for (size_t a = 0; a < holder.schema().size(); ++a) {
      if (!holder.schema()[a].default_value && (seen == nullptr || !(*seen)[a])) {
        return Error(at, StrCat(OpName(node.op), " needs attribute '", holder.schema()[a].name,
                                "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseAttributes(PatternNode& node) {
    const Token open = Next();
    const Attributes holder(node.op);
    const std::span<const AttrSpec> schema = holder.schema();
    std::vector<bool> seen(schema.size(), false);
    while (!IsPunct(Peek(), '}')) {
      const Token name = Peek();
      if (name.kind != TokenKind::kName) return Expected("an attribute name");
      Next();
      size_t a = 0;
      while (a < schema.size() && schema[a].name != name.text) ++a;
      if (a == schema.size()) {
        return Error(name, StrCat(OpName(node.op), " has no attribute '", name.text, "'"));
      }
      if (seen[a]) return Error(name, StrCat("attribute '", name.text, "' is given twice"));
      if (IsPatternDTypeAttr(schema[a])) {
        return Error(name, "patterns are generic over the element type; drop 'dtype'");
      }
      seen[a] = true;
      if (absl::Status s = Expect('=', "after the attribute name"); !s.ok()) return s;
      absl::StatusOr<PatternAttrValue> v = ParseAttrValue(node.op, schema[a]);
      if (!v.ok()) return v.status();
      if (schema[a].kind == AttrKind::kInts && schema[a].length >= 0 &&
          std::get<std::vector<DimExpr>>(*v).size() != static_cast<size_t>(schema[a].length)) {
        return Error(name, StrCat("attribute '", name.text, "' needs ", schema[a].length,
                                  " elements"));
      }
      node.attrs[a] = std::move(*v);
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    if (absl::Status s = Expect('}', "or ',' after an attribute"); !s.ok()) return s;
    return CheckRequired(node, open, &seen);
  }

  // INT | NAME, joined by '+'.
  absl::StatusOr<DimExpr> ParseExpr() {
    DimExpr sum;
    for (;;) {
      const Token& t = Peek();
      if (t.kind == TokenKind::kInt) {
        absl::StatusOr<int64_t> v = ParseInt();
        if (!v.ok()) return v.status();
        sum = sum + DimExpr(*v);
      } else if (t.kind == TokenKind::kName) {
        sum = sum + DimExpr::Var(std::string(Next().text));
      } else {
        return Expected("an integer or a variable");
      }
      if (!IsPunct(Peek(), '+')) return sum;
      Next();
    }
  }

  absl::StatusOr<PatternAttrValue> ParseAttrValue(OpKind op, const AttrSpec& spec) {
    switch (spec.kind) {
      case AttrKind::kInt: {
        absl::StatusOr<DimExpr> e = ParseExpr();
        if (!e.ok()) return e.status();
        return PatternAttrValue(std::move(*e));
      }
      case AttrKind::kInts: {
        if (absl::Status s = Expect('[', "to start a list"); !s.ok()) return s;
        std::vector<DimExpr> list;
        while (!IsPunct(Peek(), ']')) {
          absl::StatusOr<DimExpr> e = ParseExpr();
          if (!e.ok()) return e.status();
          list.push_back(std::move(*e));
          if (!IsPunct(Peek(), ',')) break;
          Next();
        }
        if (absl::Status s = Expect(']', "or ',' in a list"); !s.ok()) return s;
        return PatternAttrValue(std::move(list));
      }
      case AttrKind::kFloat: {
        absl::StatusOr<double> d = ParseNumber();
        if (!d.ok()) return d.status();
        return PatternAttrValue(*d);
      }
      case AttrKind::kEnum: {
        const Token& t = Peek();
        for (size_t e = 0; t.kind == TokenKind::kName && e < spec.enum_names.size(); ++e) {
          if (spec.enum_names[e] == t.text) {
            Next();
            return PatternAttrValue(DimExpr(static_cast<int64_t>(e)));
          }
        }
        return Error(t, StrCat("attribute '", spec.name, "' of ", OpName(op),
                               " must be one of ", StrJoin(spec.enum_names, ", "), ", found ",
                               DescribeToken(t)));
      }
    }
    return Expected("an attribute value");
  }

  absl::flat_hash_map<std::string, PatternRef> symbols_;
};

}  // namespace

std::string PrintRule(const Rule& rule) {
  std::string out = StrCat("rule ", rule.id, " {\n  status ", RuleStatusName(rule.status));
  if (rule.status == RuleStatus::kProved) StrAppend(&out, " ", Quote(rule.axiom_set));
  if (rule.status == RuleStatus::kUnknown || rule.status == RuleStatus::kRefuted) {
    StrAppend(&out, " ", Quote(rule.note));
  }
  out += "\n";
  if (!rule.axioms_used.empty()) StrAppend(&out, "  uses [", StrJoin(rule.axioms_used, ", "), "]\n");
  if (rule.fingerprint) StrAppend(&out, "  fingerprint \"", FormatFingerprint(*rule.fingerprint), "\"\n");
  if (!rule.origin.empty()) StrAppend(&out, "  origin ", Quote(rule.origin), "\n");
  if (!rule.example.empty()) {
    std::vector<std::string> parts;
    for (const auto& [name, value] : rule.example) parts.push_back(StrCat(name, "=", value));
    StrAppend(&out, "  example ", StrJoin(parts, ", "), "\n");
  }
  PatternPrinter(rule.source, &out).Print("source", true);
  PatternPrinter(rule.target, &out).Print("target", false);
  out += "}\n";
  return out;
}

std::string PrintRules(const RuleSet& rules, std::string_view header) {
  std::string out;
  if (!header.empty()) {
    size_t start = 0;
    while (start <= header.size()) {
      size_t end = header.find('\n', start);
      if (end == std::string_view::npos) end = header.size();
      const std::string_view line = header.substr(start, end - start);
      StrAppend(&out, line.empty() ? "#" : "# ", line, "\n");
      start = end + 1;
    }
  }
  for (const Rule& r : rules.rules()) {
    if (!out.empty()) out += "\n";
    out += PrintRule(r);
  }
  return out;
}

absl::StatusOr<RuleSet> ParseRules(std::string_view text, std::string_view filename) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text, filename);
  if (!tokens.ok()) return tokens.status();
  return RuleParser(std::move(*tokens), filename).Run();
}

absl::StatusOr<RuleSet> ReadRuleFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseRules(*text, path);
}

absl::StatusOr<RuleSet> ReadRuleFiles(std::string_view paths) {
  RuleSet merged;
  for (absl::string_view part : absl::StrSplit(ToAbsl(paths), ',', absl::SkipEmpty())) {
    const std::string path(part);
    absl::StatusOr<RuleSet> rules = ReadRuleFile(path);
    if (!rules.ok()) return rules.status();
    for (const Rule& rule : rules->rules()) {
      if (absl::Status s = merged.Add(rule); !s.ok()) {
        return absl::InvalidArgumentError(StrCat(path, ": ", ToStd(s.message())));
      }
    }
  }
  return merged;
}

absl::Status WriteRuleFile(const std::string& path, const RuleSet& rules,
                           std::string_view header) {
  return WriteFileAtomically(path, PrintRules(rules, header));
}

}  // namespace lemma
