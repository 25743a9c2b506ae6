#ifndef LEMMA_IR_JSON_H_
#define LEMMA_IR_JSON_H_

// A small streaming JSON writer for lemma's --json outputs (rule listings,
// explorer matches, optimizer reports). Commas and escaping are handled; the
// caller keeps objects and arrays balanced (checked in debug builds).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lemma {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  /// The key of the next member of the current object.
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  /// A number; NaN and infinities (which JSON lacks) are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  /// The document, ending with a newline.
  std::string Finish() &&;

 private:
  void BeforeValue();

  std::string out_;
  // Per open container: whether it has a member yet.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

/// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

}  // namespace lemma

#endif  // LEMMA_IR_JSON_H_
