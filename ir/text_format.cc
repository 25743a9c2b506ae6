#include "ir/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/file_io.h"
#include "ir/lexer.h"
#include "ir/strings.h"

namespace lemma {
namespace {

// ---------------------------------------------------------------- printing

// Whether the printer writes attribute `i`: it differs from its default, where
// -0.0 differs from 0.0 (Attributes::IsDefault compares with ==).
bool PrintsAttribute(const Attributes& attrs, size_t i) {
  if (!attrs.IsDefault(i)) return true;
  const std::optional<AttrValue>& value = attrs.values()[i];
  const std::optional<AttrValue>& def = attrs.schema()[i].default_value;
  if (!value || !def || !std::holds_alternative<double>(*value)) return false;
  return std::signbit(std::get<double>(*value)) != std::signbit(std::get<double>(*def));
}

// The graph's name, bare when it is a valid name, else as a quoted string.
std::string QuoteGraphName(const std::string& name) {
  return IsValidName(name) ? name : Quote(name);
}

// The order nodes print in: topological, which is node order for every graph
// whose node order is topological (ties go to the smaller id).
std::vector<NodeId> PrintOrder(const Graph& graph) {
  std::vector<NodeId> order = graph.TopologicalOrder();
  if (static_cast<int>(order.size()) == graph.num_nodes()) return order;
  order.clear();  // a cycle: not a valid graph, but print what there is
  for (NodeId id = 0; id < graph.num_nodes(); ++id) order.push_back(id);
  return order;
}

class Printer {
 public:
  explicit Printer(const Graph& graph)
      : graph_(graph), labels_(static_cast<size_t>(graph.num_nodes())) {}

  std::string Print() && {
    StrAppend(&out_, "graph ", QuoteGraphName(graph_.name()), " {\n");
    for (NodeId id : PrintOrder(graph_)) PrintNode(id);
    for (const GraphOutput& o : graph_.outputs()) {
      StrAppend(&out_, "  output ", o.name, " = ", Label(o.value), "\n");
    }
    out_ += "}\n";
    return std::move(out_);
  }

  std::vector<std::vector<std::string>> Labels() && {
    for (NodeId id : PrintOrder(graph_)) Assign(id);
    return std::move(labels_);
  }

 private:
  // Gives the outputs of `id` their labels: the name, or the next %K.
  void Assign(NodeId id) {
    std::vector<std::string>& labels = labels_[static_cast<size_t>(id)];
    if (!labels.empty()) return;
    for (const std::string& name : graph_.node(id).names) {
      labels.push_back(name.empty() ? StrCat("%", next_anonymous_++) : name);
    }
  }

  const std::string& Label(ValueId v) {
    Assign(v.node);
    return labels_[static_cast<size_t>(v.node)][static_cast<size_t>(v.index)];
  }

  void PrintNode(NodeId id) {
    const Node& node = graph_.node(id);
    Assign(id);
    if (GetOpInfo(node.op).Has(kTraitSource)) {
      StrAppend(&out_, "  ", OpName(node.op), " ", node.names[0], ": ", node.outputs[0].ToString(),
                "\n");
      return;
    }
    StrAppend(&out_, "  ", StrJoin(labels_[static_cast<size_t>(id)], ", "), " = ", OpName(node.op),
              "(");
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      StrAppend(&out_, i == 0 ? "" : ", ", Label(node.inputs[i]));
    }
    out_ += ")";
    PrintAttributes(node.attrs);
    out_ += " : ";
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      StrAppend(&out_, i == 0 ? "" : ", ", node.outputs[i].ToString());
    }
    out_ += "\n";
  }

  void PrintAttributes(const Attributes& attrs) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < attrs.schema().size(); ++i) {
      if (PrintsAttribute(attrs, i)) {
        parts.push_back(StrCat(attrs.schema()[i].name, "=", attrs.FormatValue(i)));
      }
    }
    if (!parts.empty()) StrAppend(&out_, " {", StrJoin(parts, ", "), "}");
  }

  const Graph& graph_;
  std::vector<std::vector<std::string>> labels_;
  int next_anonymous_ = 0;
  std::string out_;
};

// ---------------------------------------------------------------- parsing

std::string ShapeString(const TensorType& t) {
  return StrCat(DTypeName(t.dtype), DimsToString(t.dims));
}

// Where a value was defined, for redefinition messages.
struct Symbol {
  ValueId value;
  int line;
  int col;
};

// The parts of a node statement, gathered before the node is added.
struct NodeStatement {
  std::vector<Token> results;
  Token op_token;
  OpKind op = OpKind::kInput;
  std::vector<ValueId> args;
  Token colon;
  std::vector<std::pair<Token, TensorType>> declared;
};

class Parser : private TokenCursor {
 public:
  Parser(std::vector<Token> tokens, std::string_view file)
      : TokenCursor(std::move(tokens), file) {}

  absl::StatusOr<Graph> Run() && {
    if (absl::Status s = ParseHeader(); !s.ok()) return s;
    while (!IsPunct(Peek(), '}')) {
      if (absl::Status s = ParseStatement(); !s.ok()) return s;
    }
    Next();
    if (Peek().kind != TokenKind::kEnd) {
      return Error(Peek(), StrCat("unexpected ", DescribeToken(Peek()), " after the graph"));
    }
    return std::move(graph_);
  }

 private:
  absl::Status ParseHeader() {
    if (Peek().kind != TokenKind::kName || Peek().text != "graph") {
      return Expected("'graph NAME {'");
    }
    Next();
    const Token& name = Peek();
    if (name.kind == TokenKind::kName) {
      graph_.set_name(std::string(name.text));
    } else if (name.kind == TokenKind::kString) {
      graph_.set_name(Unescape(name.text));
    } else {
      return Expected("the graph's name after 'graph'");
    }
    Next();
    return Expect('{', "after the graph's name");
  }

  absl::Status ParseStatement() {
    const Token& t = Peek();
    if (t.kind == TokenKind::kName && Peek(1).kind == TokenKind::kName) {
      if (t.text == "input") return ParseSource(OpKind::kInput);
      if (t.text == "weight") return ParseSource(OpKind::kWeight);
      if (t.text == "output") return ParseOutput();
      return Error(t, StrCat("unknown statement ", DescribeToken(t),
                             " (expected input, weight, output or RESULTS = OP(...))"));
    }
    if (t.kind == TokenKind::kName || t.kind == TokenKind::kLabel) return ParseNode();
    return Expected("a statement or '}'");
  }

  absl::Status CheckUndefined(const Token& t) const {
    auto it = symbols_.find(ToAbsl(t.text));
    if (it == symbols_.end()) return absl::OkStatus();
    return Error(t, StrCat("redefinition of '", t.text, "' (first defined at ", it->second.line,
                           ":", it->second.col, ")"));
  }

  void Define(const Token& t, ValueId v) {
    symbols_.emplace(std::string(t.text), Symbol{v, t.line, t.col});
  }

  // input NAME: TYPE, weight NAME: TYPE
  absl::Status ParseSource(OpKind kind) {
    Next();
    const Token name = Next();
    if (absl::Status s = CheckUndefined(name); !s.ok()) return s;
    if (absl::Status s = Expect(':', "after the name"); !s.ok()) return s;
    const Token type_token = Peek();
    absl::StatusOr<TensorType> type = ParseType();
    if (!type.ok()) return type.status();
    absl::StatusOr<ValueId> v = kind == OpKind::kInput
                                    ? graph_.AddInput(std::string(name.text), std::move(*type))
                                    : graph_.AddWeight(std::string(name.text), std::move(*type));
    if (!v.ok()) return Error(type_token, ToStd(v.status().message()));
    Define(name, *v);
    return absl::OkStatus();
  }

  // output NAME = VALUE
  absl::Status ParseOutput() {
    Next();
    const Token name = Next();
    if (output_names_.contains(ToAbsl(name.text))) {
      return Error(name, StrCat("output '", name.text, "' is already defined"));
    }
    if (absl::Status s = Expect('=', "after the output name"); !s.ok()) return s;
    absl::StatusOr<ValueId> v = ParseValueRef();
    if (!v.ok()) return v.status();
    if (absl::Status s = graph_.AddOutput(std::string(name.text), *v); !s.ok()) {
      return Error(name, ToStd(s.message()));
    }
    output_names_.emplace(std::string(name.text));
    return absl::OkStatus();
  }

  absl::StatusOr<ValueId> ParseValueRef() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kName && t.kind != TokenKind::kLabel) {
      return Expected("a value (a name or %N)");
    }
    auto it = symbols_.find(ToAbsl(t.text));
    if (it == symbols_.end()) return Error(t, StrCat("'", t.text, "' is not defined"));
    Next();
    return it->second.value;
  }

  // RESULTS = OP(ARGS) [{ATTRS}] [: TYPES]
  absl::Status ParseNode() {
    NodeStatement st;
    if (absl::Status s = ParseResults(st); !s.ok()) return s;
    if (absl::Status s = ParseOp(st); !s.ok()) return s;
    if (absl::Status s = ParseArgs(st); !s.ok()) return s;
    Attributes attrs(st.op);
    if (IsPunct(Peek(), '{')) {
      if (absl::Status s = ParseAttributes(attrs); !s.ok()) return s;
    }
    if (IsPunct(Peek(), ':')) {
      if (absl::Status s = ParseDeclaredTypes(st); !s.ok()) return s;
    }
    return AddNode(st, std::move(attrs));
  }

  absl::Status ParseResults(NodeStatement& st) {
    absl::flat_hash_set<absl::string_view> seen;
    for (;;) {
      const Token& t = Peek();
      if (t.kind != TokenKind::kName && t.kind != TokenKind::kLabel) {
        return Expected("a result (a name or %N)");
      }
      if (absl::Status s = CheckUndefined(t); !s.ok()) return s;
      if (!seen.insert(ToAbsl(t.text)).second) {
        return Error(t, StrCat("'", t.text, "' is named twice in one statement"));
      }
      st.results.push_back(Next());
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    return Expect('=', "after the results");
  }

  absl::Status ParseOp(NodeStatement& st) {
    if (Peek().kind != TokenKind::kName) return Expected("an op name");
    st.op_token = Next();
    const std::optional<OpKind> op = FindOp(st.op_token.text);
    if (!op) return Error(st.op_token, StrCat("unknown op '", st.op_token.text, "'"));
    if (GetOpInfo(*op).Has(kTraitSource)) {
      return Error(st.op_token, StrCat("'", st.op_token.text, "' is not an op; declare it as '",
                                       st.op_token.text, " NAME: TYPE'"));
    }
    st.op = *op;
    return absl::OkStatus();
  }

  absl::Status ParseArgs(NodeStatement& st) {
    if (absl::Status s = Expect('(', "after the op name"); !s.ok()) return s;
    if (IsPunct(Peek(), ')')) {
      Next();
      return absl::OkStatus();
    }
    for (;;) {
      absl::StatusOr<ValueId> v = ParseValueRef();
      if (!v.ok()) return v.status();
      st.args.push_back(*v);
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    return Expect(')', "or ',' after an argument");
  }

  absl::Status ParseAttributes(Attributes& attrs) {
    Next();
    if (IsPunct(Peek(), '}')) {
      Next();
      return absl::OkStatus();
    }
    std::vector<bool> seen(attrs.schema().size(), false);
    for (;;) {
      if (absl::Status s = ParseAttribute(attrs, seen); !s.ok()) return s;
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    return Expect('}', "or ',' after an attribute");
  }

  std::string AttributeNames(const Attributes& attrs) const {
    std::vector<std::string_view> names;
    for (const AttrSpec& spec : attrs.schema()) names.push_back(spec.name);
    if (names.empty()) return "it has none";
    return StrCat("it has ", StrJoin(names, ", "));
  }

  // NAME=VALUE
  absl::Status ParseAttribute(Attributes& attrs, std::vector<bool>& seen) {
    if (Peek().kind != TokenKind::kName) return Expected("an attribute name");
    const Token name = Next();
    const std::span<const AttrSpec> schema = attrs.schema();
    size_t i = 0;
    while (i < schema.size() && schema[i].name != name.text) ++i;
    if (i == schema.size()) {
      return Error(name, StrCat(OpName(attrs.op()), " has no attribute '", name.text, "' (",
                                AttributeNames(attrs), ")"));
    }
    if (seen[i]) return Error(name, StrCat("attribute '", name.text, "' is given twice"));
    seen[i] = true;
    if (absl::Status s = Expect('=', "after the attribute name"); !s.ok()) return s;
    const Token value_token = Peek();
    absl::StatusOr<AttrValue> value = ParseAttrValue(attrs, schema[i]);
    if (!value.ok()) return value.status();
    if (absl::Status s = attrs.Set(schema[i].name, std::move(*value)); !s.ok()) {
      return Error(value_token, ToStd(s.message()));
    }
    return absl::OkStatus();
  }

  absl::Status KindError(const Attributes& attrs, const AttrSpec& spec) const {
    return Error(Peek(), StrCat("attribute '", spec.name, "' of ", OpName(attrs.op()), " must be ",
                                AttrKindDescription(spec.kind), ", found ", DescribeToken(Peek())));
  }

  absl::StatusOr<AttrValue> ParseAttrValue(const Attributes& attrs, const AttrSpec& spec) {
    switch (spec.kind) {
      case AttrKind::kInt:
        if (Peek().kind != TokenKind::kInt) return KindError(attrs, spec);
        return ToAttr(ParseInt());
      case AttrKind::kInts:
        if (!IsPunct(Peek(), '[')) return KindError(attrs, spec);
        return ToAttr(ParseIntList("to start a list"));
      case AttrKind::kFloat:
        return ParseFloat(attrs, spec);
      case AttrKind::kEnum:
        return ParseEnum(attrs, spec);
    }
    return KindError(attrs, spec);
  }

  template <typename T>
  static absl::StatusOr<AttrValue> ToAttr(absl::StatusOr<T> v) {
    if (!v.ok()) return v.status();
    return AttrValue(std::move(*v));
  }

  absl::StatusOr<AttrValue> ParseFloat(const Attributes& attrs, const AttrSpec& spec) {
    const Token& t = Peek();
    const bool word = t.kind == TokenKind::kName && (t.text == "inf" || t.text == "nan");
    if (t.kind != TokenKind::kInt && t.kind != TokenKind::kFloat && !word) {
      return KindError(attrs, spec);
    }
    return ToAttr(ParseNumber());
  }

  absl::StatusOr<AttrValue> ParseEnum(const Attributes& attrs, const AttrSpec& spec) {
    const Token& t = Peek();
    for (size_t e = 0; t.kind == TokenKind::kName && e < spec.enum_names.size(); ++e) {
      if (spec.enum_names[e] == t.text) {
        Next();
        return AttrValue(static_cast<int64_t>(e));
      }
    }
    return Error(t,
                 StrCat("attribute '", spec.name, "' of ", OpName(attrs.op()), " must be one of ",
                        StrJoin(spec.enum_names, ", "), ", found ", DescribeToken(t)));
  }

  // DTYPE[DIMS][@LAYOUT]
  absl::StatusOr<TensorType> ParseType() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kName) return Expected("a type like f32[1,2]");
    const std::optional<DType> dtype = ParseDType(t.text);
    if (!dtype) {
      return Error(t, StrCat("unknown dtype ", DescribeToken(t), " (expected f32, f64 or i64)"));
    }
    Next();
    const Token dims_token = Peek();
    absl::StatusOr<Dims> dims = ParseIntList("after the dtype");
    if (!dims.ok()) return dims.status();
    if (dims->size() > static_cast<size_t>(kMaxParseRank)) {
      return Error(dims_token,
                   StrCat("rank ", dims->size(), " exceeds the limit of ", kMaxParseRank));
    }
    TensorType type = TensorType::Make(*dtype, std::move(*dims));
    if (!IsPunct(Peek(), '@')) return type;
    Next();
    return ParseLayoutSuffix(std::move(type));
  }

  absl::StatusOr<TensorType> ParseLayoutSuffix(TensorType type) {
    const Token& t = Peek();
    if (t.kind != TokenKind::kName) return Expected("a layout name after '@'");
    const std::optional<Layout> layout = ParseLayout(t.text);
    if (!layout) {
      return Error(t, StrCat("unknown layout ", DescribeToken(t),
                             " (expected row_major, col_major, nchw or nhwc)"));
    }
    if (!LayoutFitsRank(*layout, type.rank())) {
      return Error(t, StrCat("layout ", LayoutName(*layout), " does not fit rank ", type.rank()));
    }
    Next();
    type.layout = *layout;
    return type;
  }

  absl::Status ParseDeclaredTypes(NodeStatement& st) {
    st.colon = Next();
    for (;;) {
      const Token t = Peek();
      absl::StatusOr<TensorType> type = ParseType();
      if (!type.ok()) return type.status();
      st.declared.emplace_back(t, std::move(*type));
      if (!IsPunct(Peek(), ',')) return absl::OkStatus();
      Next();
    }
  }

  absl::Status AddNode(const NodeStatement& st, Attributes attrs) {
    absl::StatusOr<NodeId> id = graph_.AddNode(st.op, std::move(attrs), st.args);
    if (!id.ok()) return Error(st.op_token, ToStd(id.status().message()));
    const Node& node = graph_.node(*id);
    for (const TensorType& t : node.outputs) {
      if (t.rank() > kMaxParseRank) {
        return Error(st.op_token,
                     StrCat("output rank ", t.rank(), " exceeds the limit of ", kMaxParseRank));
      }
    }
    if (node.outputs.size() != st.results.size()) {
      return Error(st.results[0], StrCat(st.results.size(), " result(s) named but ", OpName(st.op),
                                         " has ", node.outputs.size(), " output(s)"));
    }
    if (absl::Status s = ApplyDeclaredTypes(st, *id); !s.ok()) return s;
    return DefineResults(st, *id);
  }

  absl::Status ApplyDeclaredTypes(const NodeStatement& st, NodeId id) {
    if (st.declared.empty()) return absl::OkStatus();
    const size_t n = graph_.node(id).outputs.size();
    if (st.declared.size() != n) {
      return Error(st.colon, StrCat(st.declared.size(), " type(s) declared for ", n, " output(s)"));
    }
    for (size_t i = 0; i < n; ++i) {
      const ValueId v{id, static_cast<int32_t>(i)};
      const auto& [token, declared] = st.declared[i];
      const TensorType& inferred = graph_.type(v);
      if (declared.dtype != inferred.dtype || declared.dims != inferred.dims) {
        return Error(token, StrCat("declared type ", ShapeString(declared),
                                   " does not match the inferred type ", ShapeString(inferred)));
      }
      if (absl::Status s = graph_.SetLayout(v, declared.layout); !s.ok()) {
        return Error(token, ToStd(s.message()));
      }
    }
    return absl::OkStatus();
  }

  absl::Status DefineResults(const NodeStatement& st, NodeId id) {
    for (size_t i = 0; i < st.results.size(); ++i) {
      const Token& t = st.results[i];
      const ValueId v{id, static_cast<int32_t>(i)};
      if (t.kind == TokenKind::kName) {
        if (absl::Status s = graph_.SetName(v, std::string(t.text)); !s.ok()) {
          return Error(t, ToStd(s.message()));
        }
      }
      Define(t, v);
    }
    return absl::OkStatus();
  }

  Graph graph_;
  absl::flat_hash_map<std::string, Symbol> symbols_;
  absl::flat_hash_set<std::string> output_names_;
};

}  // namespace

std::string PrintGraph(const Graph& graph) { return Printer(graph).Print(); }

std::vector<std::vector<std::string>> PrintedValueLabels(const Graph& graph) {
  return Printer(graph).Labels();
}

absl::StatusOr<Graph> ParseGraph(std::string_view text, std::string_view filename) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(text, filename);
  if (!tokens.ok()) return tokens.status();
  return Parser(std::move(*tokens), filename).Run();
}

absl::StatusOr<Graph> ReadGraphFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseGraph(*text, path);
}

absl::Status WriteGraphFile(const std::string& path, const Graph& graph) {
  return WriteFileAtomically(path, PrintGraph(graph));
}

}  // namespace lemma
