#ifndef LEMMA_IR_STRINGS_H_
#define LEMMA_IR_STRINGS_H_

// String building for messages and text formats. Debian's Abseil is built with
// its own absl::string_view (not std::string_view), so lemma's APIs take
// std::string_view and these helpers accept both.

#include <charconv>
#include <concepts>
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace lemma {

inline absl::string_view ToAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace strings_internal {
inline void Append(std::string& out, std::string_view v) { out.append(v); }
inline void Append(std::string& out, const char* v) { out.append(v); }
inline void Append(std::string& out, const std::string& v) { out.append(v); }
inline void Append(std::string& out, absl::string_view v) { out.append(v.data(), v.size()); }
inline void Append(std::string& out, char c) { out.push_back(c); }
template <std::integral T>
  requires(!std::same_as<T, char> && !std::same_as<T, bool>)
void Append(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}
inline void Append(std::string& out, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  out.append(buf);
}
}  // namespace strings_internal

/// Concatenates strings, string views (std and absl) and numbers.
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::Append(*out, args), ...);
}

/// Joins the elements of `range` (strings or numbers) with `sep`.
template <typename Range>
std::string StrJoin(const Range& range, std::string_view sep) {
  std::string out;
  bool first = true;
  for (const auto& x : range) {
    if (!first) out.append(sep);
    first = false;
    strings_internal::Append(out, x);
  }
  return out;
}

}  // namespace lemma

#endif  // LEMMA_IR_STRINGS_H_
