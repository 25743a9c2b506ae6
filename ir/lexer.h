#ifndef LEMMA_IR_LEXER_H_
#define LEMMA_IR_LEXER_H_

// The tokens shared by lemma's text formats (graphs in ir/text_format.h, rule
// sets in rules/rule_text.h), and a cursor over them with the helpers every
// recursive-descent parser of those formats needs. Errors read
// "FILE:LINE:COL: reason" (1-based; columns count bytes).
//
// Tokens: names (ir/graph.h's grammar), integers (-3), numbers (0.5, 1e-05,
// -inf, -nan), labels (%7), strings ("..." with \" \\ \xHH escapes, one line)
// and the punctuation {}()[],=:@+. '#' starts a comment that runs to the end
// of the line.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lemma {

enum class TokenKind : uint8_t { kEnd, kName, kInt, kFloat, kLabel, kString, kPunct };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string_view text;  // as written, quotes and signs included
  int line = 1;
  int col = 1;
};

/// Every token of `text`, ending with a kEnd token, or the first error.
absl::StatusOr<std::vector<Token>> Tokenize(std::string_view text, std::string_view file);

/// The contents of a string token that Tokenize accepted.
std::string Unescape(std::string_view quoted);
/// `s` as a string token: quoted, with '"' and '\' escaped and control bytes as \xHH.
std::string Quote(std::string_view s);
/// A token for a message: quoted (and shortened) text, or what it is.
std::string DescribeToken(const Token& t);
/// InvalidArgumentError "FILE:LINE:COL: reason".
absl::Status ErrorAt(std::string_view file, int line, int col, std::string_view reason);

/// A read position in a token list (which ends with kEnd). Token views point
/// into the text that was tokenized, which must outlive the cursor.
class TokenCursor {
 public:
  TokenCursor(std::vector<Token> tokens, std::string_view file)
      : tokens_(std::move(tokens)), file_(file) {}

  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  /// Returns the current token and moves past it (never past kEnd).
  const Token& Next() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }
  static bool IsPunct(const Token& t, char c) {
    return t.kind == TokenKind::kPunct && t.text[0] == c;
  }
  /// Whether the current token is the name `word`.
  bool PeekWord(std::string_view word, size_t ahead = 0) const {
    return Peek(ahead).kind == TokenKind::kName && Peek(ahead).text == word;
  }
  std::string_view file() const { return file_; }

  absl::Status Error(const Token& at, std::string_view reason) const;
  /// "expected WHAT, found TOKEN" at the current token.
  absl::Status Expected(std::string_view what) const;
  /// Consumes the punctuation `c`, or fails saying `context`.
  absl::Status Expect(char c, std::string_view context);
  /// Consumes the name `word`, or fails.
  absl::Status ExpectWord(std::string_view word);

  absl::StatusOr<int64_t> ParseInt();
  /// [INT, ...] or []; `context` ends "expected '[' ...".
  absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view context);
  /// An integer or number token, or the words inf / nan.
  absl::StatusOr<double> ParseNumber();
  /// A string token's contents.
  absl::StatusOr<std::string> ParseString();

 private:
  std::vector<Token> tokens_;
  size_t next_ = 0;
  std::string_view file_;
};

}  // namespace lemma

#endif  // LEMMA_IR_LEXER_H_
