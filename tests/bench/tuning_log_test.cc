// The tuning log shipped in bench/tuning: it loads, holds one record per
// workload (the fastest, as `lemma tune --keep-best` leaves it), and each
// record names a template and a config measured on its target.

#include <set>
#include <string>

#include "gtest/gtest.h"
#include "kernels/cpu/tuning.h"

namespace lemma::cpu {
namespace {

TEST(ShippedTuningLogTest, LoadsWithOneRecordPerWorkload) {
  const std::string path = std::string(LEMMA_TEST_DATA) + "/../bench/tuning/amd-epyc-avx512-2t.jsonl";
  absl::StatusOr<TuningLog> log = TuningLog::Load(path);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_GE(log->records().size(), 100u);
  std::set<std::string> workloads;
  int cold = 0;
  for (const TuningRecord& r : log->records()) {
    EXPECT_EQ(r.kind, "schedule");
    EXPECT_EQ(r.target, "AMD EPYC/avx512/2t");
    EXPECT_FALSE(r.template_name.empty()) << r.workload;
    EXPECT_FALSE(r.config.empty()) << r.workload;
    EXPECT_GT(r.seconds, 0) << r.workload;
    EXPECT_TRUE(workloads.insert(r.workload).second) << "twice: " << r.workload;
    if (r.workload.find(" |weights cold") != std::string::npos) ++cold;
  }
  // The large models' workloads were timed cold, the small ones' warm.
  EXPECT_GT(cold, 0);
  EXPECT_LT(cold, static_cast<int>(log->records().size()));
  TuningLog copy = *log;
  EXPECT_EQ(copy.KeepBest(), 0);
}

}  // namespace
}  // namespace lemma::cpu
