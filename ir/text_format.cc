#include "ir/text_format.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "ir/file_io.h"
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
  if (IsValidName(name)) return name;
  std::string out = "\"";
  for (const char c : name) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      StrAppend(&out, '\\', c);
    } else if (byte < 0x20 || byte == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      StrAppend(&out, "\\x", kHex[byte >> 4], kHex[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
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

// ---------------------------------------------------------------- lexing

enum class TokenKind : uint8_t { kEnd, kName, kInt, kFloat, kLabel, kString, kPunct };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // as written, quotes and signs included
  int line = 1;
  int col = 1;
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

constexpr std::string_view kPunctuation = "{}()[],=:@";

absl::Status ErrorAt(std::string_view file, int line, int col, std::string_view reason) {
  return absl::InvalidArgumentError(StrCat(file, ":", line, ":", col, ": ", reason));
}

// A character for a message: 'c' when printable, else its byte value.
std::string DescribeChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7f) return StrCat("'", c, "'");
  static constexpr char kHex[] = "0123456789abcdef";
  return StrCat("byte 0x", kHex[byte >> 4], kHex[byte & 15]);
}

class Lexer {
 public:
  Lexer(std::string_view text, std::string_view file) : text_(text), file_(file) {}

  /// Every token of the text, ending with a kEnd token, or the first error.
  absl::StatusOr<std::vector<Token>> Run() && {
    std::vector<Token> tokens;
    for (;;) {
      SkipSpaceAndComments();
      const size_t start = pos_;
      const int line = line_, col = col_;
      absl::StatusOr<TokenKind> kind = Scan();
      if (!kind.ok()) return kind.status();
      tokens.push_back(Token{*kind, text_.substr(start, pos_ - start), line, col});
      if (*kind == TokenKind::kEnd) return tokens;
    }
  }

 private:
  // The character `ahead` bytes on, or '\0' past the end.
  char At(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  void Advance(size_t n) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i, ++pos_) {
      if (text_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }

  absl::Status Error(std::string_view reason) const { return ErrorAt(file_, line_, col_, reason); }

  void SkipSpaceAndComments() {
    while (pos_ < text_.size()) {
      if (IsSpace(text_[pos_])) {
        Advance(1);
      } else if (text_[pos_] == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') Advance(1);
      } else {
        return;
      }
    }
  }

  absl::StatusOr<TokenKind> Scan() {
    if (pos_ >= text_.size()) return TokenKind::kEnd;
    const char c = text_[pos_];
    if (IsNameStart(c)) {
      Advance(NameLength(0));
      return TokenKind::kName;
    }
    if (IsDigit(c) || c == '-') return ScanNumber();
    if (c == '%') return ScanLabel();
    if (c == '"') return ScanString();
    if (c != '\0' && kPunctuation.find(c) != std::string_view::npos) {
      Advance(1);
      return TokenKind::kPunct;
    }
    return Error(StrCat("unexpected character ", DescribeChar(c)));
  }

  // Length of the run of name characters starting `from` bytes ahead.
  size_t NameLength(size_t from) const {
    size_t n = from;
    while (IsNameChar(At(n))) ++n;
    return n - from;
  }

  size_t DigitsLength(size_t from) const {
    size_t n = from;
    while (IsDigit(At(n))) ++n;
    return n - from;
  }

  // -?DIGITS[.DIGITS][(e|E)[+-]DIGITS], or -inf / -nan.
  absl::StatusOr<TokenKind> ScanNumber() {
    size_t n = At(0) == '-' ? 1 : 0;
    if (!IsDigit(At(n))) {
      const std::string_view word = text_.substr(pos_ + n, NameLength(n));
      if (word != "inf" && word != "nan") return Error("'-' must be followed by a number");
      Advance(n + word.size());
      return TokenKind::kFloat;
    }
    n += DigitsLength(n);
    bool is_float = false;
    if (At(n) == '.' && IsDigit(At(n + 1))) {
      is_float = true;
      n += 1 + DigitsLength(n + 1);
    }
    if (At(n) == 'e' || At(n) == 'E') {
      const size_t sign = (At(n + 1) == '+' || At(n + 1) == '-') ? 1 : 0;
      if (IsDigit(At(n + 1 + sign))) {
        is_float = true;
        n += 1 + sign + DigitsLength(n + 1 + sign);
      }
    }
    Advance(n);
    return is_float ? TokenKind::kFloat : TokenKind::kInt;
  }

  absl::StatusOr<TokenKind> ScanLabel() {
    const size_t digits = DigitsLength(1);
    if (digits == 0) return Error("'%' must be followed by digits, as in %0");
    Advance(1 + digits);
    return TokenKind::kLabel;
  }

  // "...", with \" \\ and \xHH escapes, on one line.
  absl::StatusOr<TokenKind> ScanString() {
    size_t n = 1;
    for (;;) {
      if (pos_ + n >= text_.size() || At(n) == '\n') return Error("unterminated string");
      if (At(n) == '"') break;
      if (At(n) == '\\') {
        const char e = At(n + 1);
        if (e == '"' || e == '\\') {
          n += 2;
          continue;
        }
        if (e != 'x' || !IsHexDigit(At(n + 2)) || !IsHexDigit(At(n + 3))) {
          return Error("bad escape in string (use \\\", \\\\ or \\xHH)");
        }
        n += 4;
        continue;
      }
      ++n;
    }
    Advance(n + 1);
    return TokenKind::kString;
  }

  std::string_view text_;
  std::string_view file_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  return (c | 0x20) - 'a' + 10;
}

// The contents of a string token the lexer accepted.
std::string Unescape(std::string_view quoted) {
  const std::string_view body = quoted.substr(1, quoted.size() - 2);
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] != '\\') {
      out.push_back(body[i]);
    } else if (body[i + 1] == 'x') {
      out.push_back(static_cast<char>(HexValue(body[i + 2]) * 16 + HexValue(body[i + 3])));
      i += 3;
    } else {
      out.push_back(body[++i]);
    }
  }
  return out;
}

// ---------------------------------------------------------------- parsing

// A token for a message: quoted (and shortened) text, or what it is.
std::string DescribeToken(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "end of file";
  if (t.kind == TokenKind::kString) return "a string";
  constexpr size_t kMax = 40;
  if (t.text.size() > kMax) return StrCat("'", t.text.substr(0, kMax), "...'");
  return StrCat("'", t.text, "'");
}

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

class Parser {
 public:
  Parser(std::vector<Token> tokens, std::string_view file)
      : tokens_(std::move(tokens)), file_(file) {}

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
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }
  static bool IsPunct(const Token& t, char c) {
    return t.kind == TokenKind::kPunct && t.text[0] == c;
  }
  absl::Status Error(const Token& at, std::string_view reason) const {
    return ErrorAt(file_, at.line, at.col, reason);
  }
  absl::Status Expected(std::string_view what) const {
    return Error(Peek(), StrCat("expected ", what, ", found ", DescribeToken(Peek())));
  }
  // Consumes the punctuation `c`, or fails saying `context`.
  absl::Status Expect(char c, std::string_view context) {
    if (!IsPunct(Peek(), c)) return Expected(StrCat("'", c, "' ", context));
    Next();
    return absl::OkStatus();
  }

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
    double value = 0;
    const auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), value);
    if (ec != std::errc() || end != t.text.data() + t.text.size()) {
      return Error(t, StrCat("number ", DescribeToken(t), " is out of range"));
    }
    Next();
    return AttrValue(value);
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

  absl::StatusOr<int64_t> ParseInt() {
    const Token& t = Peek();
    if (t.kind != TokenKind::kInt) return Expected("an integer");
    int64_t value = 0;
    const auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), value);
    if (ec != std::errc() || end != t.text.data() + t.text.size()) {
      return Error(t, StrCat("integer ", DescribeToken(t), " does not fit in 64 bits"));
    }
    Next();
    return value;
  }

  // [INT, ...] or []
  absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view context) {
    if (absl::Status s = Expect('[', context); !s.ok()) return s;
    std::vector<int64_t> out;
    if (IsPunct(Peek(), ']')) {
      Next();
      return out;
    }
    for (;;) {
      absl::StatusOr<int64_t> v = ParseInt();
      if (!v.ok()) return v.status();
      out.push_back(*v);
      if (!IsPunct(Peek(), ',')) break;
      Next();
    }
    if (absl::Status s = Expect(']', "or ',' in a list"); !s.ok()) return s;
    return out;
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

  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::string_view file_;
  Graph graph_;
  absl::flat_hash_map<std::string, Symbol> symbols_;
  absl::flat_hash_set<std::string> output_names_;
};

}  // namespace

std::string PrintGraph(const Graph& graph) { return Printer(graph).Print(); }

absl::StatusOr<Graph> ParseGraph(std::string_view text, std::string_view filename) {
  absl::StatusOr<std::vector<Token>> tokens = Lexer(text, filename).Run();
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
