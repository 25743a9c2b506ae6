#include "tests/common/test_data.h"

#include "ir/strings.h"

namespace lemma::testing {

// LEMMA_TEST_DATA (the source tree's tests/ folder) is defined for this file
// alone: an absolute path on every test's command line would keep ccache
// from sharing objects between clones of the source tree.
std::string DataPath(std::string_view relative) { return StrCat(LEMMA_TEST_DATA, "/", relative); }

}  // namespace lemma::testing
