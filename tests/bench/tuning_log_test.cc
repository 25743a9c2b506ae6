// The tuning logs shipped in bench/tuning, a directory with a file per
// machine kind: it loads (each file holds only its own target's records),
// holds one record per workload and target (the fastest, as `lemma tune
// --keep-best` leaves it), and each record names a template and a config
// measured on its target.

#include <map>
#include <set>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "kernels/cpu/tuning.h"
#include "tests/common/test_data.h"

namespace lemma::cpu {
namespace {

TEST(ShippedTuningLogTest, LoadsWithOneRecordPerWorkloadAndTarget) {
  const std::string path = lemma::testing::DataPath("../bench/tuning");
  absl::StatusOr<TuningLog> log = TuningLog::Load(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE(log->is_directory());
  std::set<std::pair<std::string, std::string>> workloads;
  std::map<std::string, int> records, cold;
  for (const TuningRecord& r : log->records()) {
    EXPECT_EQ(r.kind, "schedule");
    EXPECT_FALSE(r.template_name.empty()) << r.workload;
    EXPECT_FALSE(r.config.empty()) << r.workload;
    EXPECT_GT(r.seconds, 0) << r.workload;
    EXPECT_TRUE(workloads.insert({r.target, r.workload}).second) << "twice: " << r.target << " " << r.workload;
    ++records[r.target];
    if (r.workload.find(" |weights cold") != std::string::npos) ++cold[r.target];
  }
  EXPECT_GE(records["AMD EPYC/avx512/2t"], 100);
  EXPECT_GE(records["Intel(R) Xeon(R) Processor/avx512/2t"], 100);
  // The large models' workloads were timed cold on the machine with a 32 MiB
  // L3, the small ones' warm.
  EXPECT_GT(cold["AMD EPYC/avx512/2t"], 0);
  EXPECT_LT(cold["AMD EPYC/avx512/2t"], records["AMD EPYC/avx512/2t"]);
  TuningLog copy = *log;
  EXPECT_EQ(copy.KeepBest(), 0);
}

}  // namespace
}  // namespace lemma::cpu
