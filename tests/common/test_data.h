#ifndef LEMMA_TESTS_COMMON_TEST_DATA_H_
#define LEMMA_TESTS_COMMON_TEST_DATA_H_

#include <string>
#include <string_view>

namespace lemma::testing {

/// The absolute path of `relative` under the tests' data folder (tests/ of
/// the source tree; "../rules/x" reaches the rules folder beside it).
std::string DataPath(std::string_view relative);

}  // namespace lemma::testing

#endif  // LEMMA_TESTS_COMMON_TEST_DATA_H_
