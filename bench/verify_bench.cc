// The verifier's benchmark: verifies rule sets and prints, per set, how many
// rules were proved, refuted and left unknown, the share proved, and the
// wall and CPU time. Not a test: numbers depend on the machine.
//
//   verify_bench [FILE...] [--timeout-ms T] [--threads N] [--no-cores]
//
// Without files: rules/default.rules when present, and the hand-written
// synthetic sets under tests/verifier/data/.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include "ir/strings.h"
#include "rules/rule_text.h"
#include "verifier/axioms.h"
#include "verifier/prove.h"

namespace {

using namespace lemma;

struct Row {
  std::string name;
  int rules = 0;
  std::array<int, 4> counts = {};
  double wall_s = 0;
  double cpu_s = 0;
};

std::vector<std::string> DefaultFiles() {
  const std::string root = LEMMA_SOURCE_DIR;
  std::vector<std::string> files;
  if (std::FILE* f = std::fopen((root + "/rules/default.rules").c_str(), "r")) {
    std::fclose(f);
    files.push_back(root + "/rules/default.rules");
  }
  for (const char* name : {"proved/algebra", "proved/matmul", "proved/conv", "proved/grouped",
                           "proved/concat_split", "false/false"}) {
    files.push_back(StrCat(root, "/tests/verifier/data/", name, ".rules"));
  }
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  verifier::VerifyOptions options{.timeout_ms = 10000, .threads = 2};
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--no-cores") {
      options.unsat_cores = false;
    } else if ((arg == "--timeout-ms" || arg == "--threads") && i + 1 < argc) {
      (arg == "--threads" ? options.threads : options.timeout_ms) = std::atoi(argv[++i]);
    } else {
      files.emplace_back(arg);
    }
  }
  if (files.empty()) files = DefaultFiles();
  std::printf(
      "lemma verify benchmark: axiom set %s (%zu axioms), %d threads, %d ms per rule%s\n\n",
      verifier::AxiomSetId().c_str(), verifier::Axioms().size(), options.threads,
      options.timeout_ms, options.unsat_cores ? "" : ", no unsat cores");
  std::printf("%-28s %6s %7s %7s %7s %7s %8s %8s %8s\n", "rule set", "rules", "proved",
              "refuted", "unknown", "timeout", "proved%", "wall s", "cpu s");
  std::vector<Row> rows;
  for (const std::string& file : files) {
    absl::StatusOr<RuleSet> rules = ReadRuleFile(file);
    if (!rules.ok()) {
      std::fprintf(stderr, "verify_bench: %s\n", std::string(rules.status().message()).c_str());
      return 1;
    }
    Row row{file.substr(file.rfind('/') + 1), rules->size()};
    const auto start = std::chrono::steady_clock::now();
    const std::clock_t cpu = std::clock();
    for (const verifier::Verdict& v : verifier::VerifyRules(rules->rules(), options)) {
      ++row.counts[v.index()];
    }
    row.cpu_s = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
    row.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-28s %6d %7d %7d %7d %7d %7.2f%% %8.2f %8.2f\n", row.name.c_str(), row.rules,
                row.counts[0], row.counts[1], row.counts[2], row.counts[3],
                100.0 * row.counts[0] / std::max(1, row.rules), row.wall_s, row.cpu_s);
    std::fflush(stdout);
  }
  return 0;
}
