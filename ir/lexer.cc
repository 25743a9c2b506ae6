#include "ir/lexer.h"

#include <charconv>

#include "ir/graph.h"
#include "ir/strings.h"

namespace lemma {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

constexpr std::string_view kPunctuation = "{}()[],=:@+";

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

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text, std::string_view file) {
  return Lexer(text, file).Run();
}

absl::Status ErrorAt(std::string_view file, int line, int col, std::string_view reason) {
  return absl::InvalidArgumentError(StrCat(file, ":", line, ":", col, ": ", reason));
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

// A token for a message: quoted (and shortened) text, or what it is.
std::string DescribeToken(const Token& t) {
  if (t.kind == TokenKind::kEnd) return "end of file";
  if (t.kind == TokenKind::kString) return "a string";
  constexpr size_t kMax = 40;
  if (t.text.size() > kMax) return StrCat("'", t.text.substr(0, kMax), "...'");
  return StrCat("'", t.text, "'");
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
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

absl::Status TokenCursor::Error(const Token& at, std::string_view reason) const {
  return ErrorAt(file_, at.line, at.col, reason);
}

absl::Status TokenCursor::Expected(std::string_view what) const {
  return Error(Peek(), StrCat("expected ", what, ", found ", DescribeToken(Peek())));
}

absl::Status TokenCursor::Expect(char c, std::string_view context) {
  if (!IsPunct(Peek(), c)) return Expected(StrCat("'", c, "' ", context));
  Next();
  return absl::OkStatus();
}

absl::Status TokenCursor::ExpectWord(std::string_view word) {
  if (!PeekWord(word)) return Expected(StrCat("'", word, "'"));
  Next();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> TokenCursor::ParseInt() {
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

absl::StatusOr<std::vector<int64_t>> TokenCursor::ParseIntList(std::string_view context) {
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

absl::StatusOr<double> TokenCursor::ParseNumber() {
  const Token& t = Peek();
  const bool word = t.kind == TokenKind::kName && (t.text == "inf" || t.text == "nan");
  if (t.kind != TokenKind::kInt && t.kind != TokenKind::kFloat && !word) {
    return Expected("a number");
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), value);
  if (ec != std::errc() || end != t.text.data() + t.text.size()) {
    return Error(t, StrCat("number ", DescribeToken(t), " is out of range"));
  }
  Next();
  return value;
}

absl::StatusOr<std::string> TokenCursor::ParseString() {
  if (Peek().kind != TokenKind::kString) return Expected("a string");
  return Unescape(Next().text);
}

}  // namespace lemma
