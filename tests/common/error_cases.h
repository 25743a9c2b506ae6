#ifndef LEMMA_TESTS_COMMON_ERROR_CASES_H_
#define LEMMA_TESTS_COMMON_ERROR_CASES_H_

// Malformed inputs as data files: each file's first line reads
// "# error: LINE:COL: text the message contains", and a test checks that
// parsing the file fails with "FILE:LINE:COL: ..." containing that text.

#include <dirent.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/file_io.h"
#include "ir/strings.h"
#include "tests/common/test_data.h"

namespace lemma::testing {

/// A status message as a std::string.
inline std::string Message(const absl::Status& s) { return std::string(ToStd(s.message())); }

struct ErrorCase {
  std::string file;
  std::string text;
  std::string location;  // "LINE:COL"
  std::string substring;
};

/// Every file in `dir` whose name ends with `extension`, sorted, with its
/// expectation.
inline std::vector<ErrorCase> LoadErrorCases(const std::string& dir, std::string_view extension) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.size() > extension.size() && name.ends_with(extension)) names.push_back(name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  std::vector<ErrorCase> cases;
  for (const std::string& name : names) {
    ErrorCase c{StrCat(dir, "/", name), "", "", ""};
    absl::StatusOr<std::string> text = ReadFile(c.file);
    EXPECT_TRUE(text.ok()) << text.status();
    c.text = text.value_or("");
    constexpr std::string_view kPrefix = "# error: ";
    const std::string first = c.text.substr(0, c.text.find('\n'));
    EXPECT_THAT(first, ::testing::StartsWith(kPrefix)) << c.file;
    if (!first.starts_with(kPrefix)) continue;
    const std::string rest = first.substr(kPrefix.size());
    const size_t colon = rest.find(':', rest.find(':') + 1);
    c.location = rest.substr(0, colon);
    c.substring = rest.substr(std::min(colon + 2, rest.size()));
    cases.push_back(std::move(c));
  }
  return cases;
}

/// Expects `status` to be the error `c` describes.
inline void ExpectErrorCase(const ErrorCase& c, const absl::Status& status) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(Message(status), ::testing::StartsWith(StrCat(c.file, ":", c.location, ": ")));
  EXPECT_THAT(Message(status), ::testing::HasSubstr(c.substring));
}

}  // namespace lemma::testing

#endif  // LEMMA_TESTS_COMMON_ERROR_CASES_H_
