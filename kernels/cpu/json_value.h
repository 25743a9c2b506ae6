#ifndef LEMMA_KERNELS_CPU_JSON_VALUE_H_
#define LEMMA_KERNELS_CPU_JSON_VALUE_H_

// A small JSON reader for the records lemma writes (tuning logs, cost
// caches): objects, arrays, strings, numbers, true, false, null.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace lemma::cpu {

struct JsonValue {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  std::map<std::string, JsonValue> object;

  /// The member `key` of an object, or null when absent.
  const JsonValue* Find(std::string_view key) const;
};

/// Parses one JSON document; errors give the byte offset and what was expected.
absl::StatusOr<JsonValue> ParseJson(std::string_view text);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_JSON_VALUE_H_
