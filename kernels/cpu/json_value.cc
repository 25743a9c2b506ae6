#include "kernels/cpu/json_value.h"

#include <cstdlib>

#include "ir/strings.h"

namespace lemma::cpu {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> Document() {
    absl::StatusOr<JsonValue> v = Value(0);
    if (!v.ok()) return v;
    Skip();
    if (pos_ != text_.size()) return Error("the end of the document");
    return v;
  }

 private:
  absl::Status Error(std::string_view expected) const {
    return absl::InvalidArgumentError(StrCat("JSON: expected ", expected, " at byte ", pos_));
  }
  void Skip() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    Skip();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Word(std::string_view w) {
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }

  absl::StatusOr<std::string> String() {
    if (!Eat('"')) return Error("a string");
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      c = text_[pos_++];
      switch (c) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          if (pos_ + 4 > text_.size()) return Error("four hex digits");
          const unsigned code = static_cast<unsigned>(
              std::strtoul(std::string(text_.substr(pos_, 4)).c_str(), nullptr, 16));
          pos_ += 4;
          if (code < 0x80) {
            out.push_back(static_cast<char>(code));
          } else if (code < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (code >> 6)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
          } else {
            out.push_back(static_cast<char>(0xe0 | (code >> 12)));
            out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (code & 0x3f)));
          }
          break;
        }
        default: out.push_back(c);
      }
    }
    if (pos_ >= text_.size()) return Error("the end of a string");
    ++pos_;
    return out;
  }

  absl::StatusOr<JsonValue> Value(int depth) {
    if (depth > 64) return Error("less nesting");
    Skip();
    if (pos_ >= text_.size()) return Error("a value");
    JsonValue v;
    const char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = JsonValue::Kind::kObject;
      if (Eat('}')) return v;
      do {
        absl::StatusOr<std::string> key = String();
        if (!key.ok()) return key.status();
        if (!Eat(':')) return Error("':'");
        absl::StatusOr<JsonValue> member = Value(depth + 1);
        if (!member.ok()) return member;
        v.object[*key] = *std::move(member);
      } while (Eat(','));
      if (!Eat('}')) return Error("'}'");
      return v;
    }
    if (c == '[') {
      ++pos_;
      v.kind = JsonValue::Kind::kArray;
      if (Eat(']')) return v;
      do {
        absl::StatusOr<JsonValue> item = Value(depth + 1);
        if (!item.ok()) return item;
        v.array.push_back(*std::move(item));
      } while (Eat(','));
      if (!Eat(']')) return Error("']'");
      return v;
    }
    if (c == '"') {
      absl::StatusOr<std::string> s = String();
      if (!s.ok()) return s.status();
      v.kind = JsonValue::Kind::kString;
      v.string = *std::move(s);
      return v;
    }
    if (Word("true")) {
      v.kind = JsonValue::Kind::kBool;
      v.boolean = true;
      return v;
    }
    if (Word("false")) {
      v.kind = JsonValue::Kind::kBool;
      return v;
    }
    if (Word("null")) return v;
    const std::string rest(text_.substr(pos_, 64));
    char* end = nullptr;
    v.number = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return Error("a value");
    pos_ += static_cast<size_t>(end - rest.c_str());
    v.kind = JsonValue::Kind::kNumber;
    return v;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

const JsonValue* JsonValue::Find(std::string_view key) const {
  auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &it->second;
}

absl::StatusOr<JsonValue> ParseJson(std::string_view text) { return Parser(text).Document(); }

}  // namespace lemma::cpu
