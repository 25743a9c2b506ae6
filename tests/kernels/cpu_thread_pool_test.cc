#include "kernels/cpu/thread_pool.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/onednn.h"

namespace lemma::cpu {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// Runs a job over [0, n) and checks that every iteration ran exactly once.
void ExpectCoversOnce(ThreadPool& pool, int64_t n) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  pool.ParallelFor(n, [&](int64_t begin, int64_t end) {
    ASSERT_LE(0, begin);
    ASSERT_LT(begin, end);
    ASSERT_LE(end, n);
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
  });
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "iteration " << i << " of " << n;
}

// The threads that ran a job of 16 chunks, each of which sleeps `chunk_ms`:
// while the caller sleeps in its chunk, a worker that waits in any stage has
// its CPU and time to take one.
std::set<std::thread::id> ThreadsThatTookPart(ThreadPool& pool, int chunk_ms) {
  std::mutex mu;
  std::set<std::thread::id> ids;
  pool.ParallelFor(16, [&](int64_t, int64_t) {
    std::this_thread::sleep_for(milliseconds(chunk_ms));
    std::lock_guard<std::mutex> lock(mu);
    ids.insert(std::this_thread::get_id());
  });
  return ids;
}

TEST(ThreadPoolTest, EveryIterationRunsOnce) {
  for (int threads : {1, 2, 4}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 16, 17, 1000, 100003}) ExpectCoversOnce(pool, n);
  }
}

// With a runner set, jobs go to it (OpenMP's team here: chunks run on
// threads other than the pool's), every iteration still once; without it,
// to the pool's own workers again.
TEST(ThreadPoolTest, ARunnerTakesTheJobsWhileSet) {
  ThreadPool pool(2);
  const std::set<std::thread::id> own = ThreadsThatTookPart(pool, 3);
  pool.SetRunner(&RunOnOpenMp);
  for (int64_t n : {0, 1, 2, 17, 1000, 100003}) ExpectCoversOnce(pool, n);
  if (OneDnnAvailable()) {
    const std::set<std::thread::id> team = ThreadsThatTookPart(pool, 3);
    EXPECT_EQ(team.size(), 2u);
    for (std::thread::id id : team) {
      EXPECT_TRUE(id == std::this_thread::get_id() || !own.count(id))
          << "a pool worker took a chunk while the runner was set";
    }
  }
  pool.SetRunner(nullptr);
  EXPECT_EQ(ThreadsThatTookPart(pool, 3), own);
}

// Runs a job and then one of 16 chunks after each pause, and expects the
// caller and the workers to have taken part in the second.
void ExpectWorkersAfterPauses(ThreadPool& pool, const char* stage, milliseconds pause) {
  const std::thread::id caller = std::this_thread::get_id();
  for (int round = 0; round < 3; ++round) {
    std::this_thread::sleep_for(pause);
    ExpectCoversOnce(pool, 1000);
    std::this_thread::sleep_for(pause);
    const std::set<std::thread::id> ids = ThreadsThatTookPart(pool, 3);
    EXPECT_EQ(ids.size(), static_cast<size_t>(pool.threads()))
        << "a worker took no chunk of a job published while it was " << stage;
    EXPECT_TRUE(ids.count(caller)) << "the caller took no chunk while the workers were " << stage;
  }
}

// A short spin, then polling for `duration`.
WaitOptions PollFor(milliseconds duration) {
  WaitOptions wait;
  wait.spin_iterations = 1 << 10;
  wait.poll_duration = duration;
  return wait;
}

// Spinning and polling workers find a job themselves (the caller wakes only
// blocked ones). They poll here for far longer than a job lasts, so a worker
// that did not look while polling would miss it.
TEST(ThreadPoolTest, WorkersFindJobsWhileSpinningAndPolling) {
  ThreadPool pool(2, PollFor(milliseconds(10000)));
  ExpectWorkersAfterPauses(pool, "spinning", milliseconds(0));
  ExpectWorkersAfterPauses(pool, "polling", milliseconds(5));
  ExpectWorkersAfterPauses(pool, "polling slowly", milliseconds(300));
}

// Blocked workers are woken by the next job.
TEST(ThreadPoolTest, WorkersFindJobsWhenBlocked) {
  ThreadPool pool(2, PollFor(milliseconds(20)));
  ExpectWorkersAfterPauses(pool, "blocked", milliseconds(60));
}

// Workers that never poll block right after spinning, and are woken.
TEST(ThreadPoolTest, WorkersThatDoNotPollAreWoken) {
  WaitOptions wait;
  wait.spin_iterations = 16;
  wait.poll_duration = milliseconds(0);
  ThreadPool pool(3, wait);
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(milliseconds(5));
    EXPECT_EQ(ThreadsThatTookPart(pool, 3).size(), 3u) << "round " << round;
  }
}

// Parked workers block at once, and the next job wakes them.
TEST(ThreadPoolTest, ParkedWorkersWakeForTheNextJob) {
  ThreadPool pool(2);
  for (int round = 0; round < 3; ++round) {
    pool.Park();
    std::this_thread::sleep_for(milliseconds(5));
    EXPECT_EQ(ThreadsThatTookPart(pool, 3).size(), 2u) << "round " << round;
  }
}

// The shared pool takes the process's wait options, and is replaced when
// they change.
TEST(ThreadPoolTest, SharedPoolTakesTheProcessWaitOptions) {
  EXPECT_EQ(SharedPool(2).wait().poll_duration, WaitOptions().poll_duration);
  WaitOptions no_polling;
  no_polling.poll_duration = milliseconds(0);
  SetSharedPoolWait(no_polling);
  ThreadPool& pool = SharedPool(2);
  EXPECT_EQ(pool.wait().poll_duration, milliseconds(0));
  EXPECT_EQ(&SharedPool(2), &pool) << "the same options replaced the pool";
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(ThreadsThatTookPart(pool, 3).size(), 2u);
  SetSharedPoolWait(WaitOptions());
  EXPECT_EQ(SharedPool(2).wait().poll_duration, WaitOptions().poll_duration);
}

// Options that would divide by zero or clamp an empty range are read as the
// nearest sane ones.
TEST(ThreadPoolTest, ReadsOddWaitOptionsSanely) {
  WaitOptions odd = PollFor(milliseconds(100));
  odd.poll_slowdown = 0;
  odd.poll_period = microseconds(500);
  odd.max_poll_period = microseconds(100);
  ThreadPool pool(2, odd);
  EXPECT_EQ(pool.wait().poll_slowdown, 1);
  EXPECT_EQ(pool.wait().max_poll_period, microseconds(500));
  std::this_thread::sleep_for(milliseconds(10));
  ExpectCoversOnce(pool, 1000);
  EXPECT_EQ(ThreadsThatTookPart(pool, 3).size(), 2u);
}

// A pool goes away while its workers spin, poll or block.
TEST(ThreadPoolTest, DestroysWhileWorkersWait) {
  for (int pause_ms : {0, 5, 300}) {
    auto pool = std::make_unique<ThreadPool>(2);
    ExpectCoversOnce(*pool, 100);
    std::this_thread::sleep_for(milliseconds(pause_ms));
    pool.reset();
  }
}

}  // namespace
}  // namespace lemma::cpu
