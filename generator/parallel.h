#ifndef LEMMA_GENERATOR_PARALLEL_H_
#define LEMMA_GENERATOR_PARALLEL_H_

// Runs independent tasks on a few threads. Tasks are claimed in index order;
// results go to per-index slots, so the outcome does not depend on the
// number of threads or on timing.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace lemma {

/// Calls task(i, thread) for every i in [0, n) on `threads` threads (thread
/// in [0, threads)), and poll() on the calling thread about every
/// `poll_interval` until all are done. Returns when every task has run.
inline void ParallelFor(int64_t n, int threads, const std::function<void(int64_t, int)>& task,
                        const std::function<void()>& poll = nullptr,
                        std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250)) {
  if (threads < 1) threads = 1;
  if (threads > n) threads = static_cast<int>(n > 0 ? n : 1);
  std::atomic<int64_t> next{0};
  std::atomic<int> running{threads};
  auto work = [&](int thread) {
    for (int64_t i; (i = next.fetch_add(1)) < n;) task(i, thread);
    running.fetch_sub(1);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  if (poll == nullptr) {
    work(0);
  } else {
    // The calling thread works too, polling between tasks when they are long.
    std::thread own(work, 0);
    while (running.load() > 0) {
      poll();
      const auto until = std::chrono::steady_clock::now() + poll_interval;
      while (running.load() > 0 && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    own.join();
    poll();
  }
  for (std::thread& t : pool) t.join();
}

}  // namespace lemma

#endif  // LEMMA_GENERATOR_PARALLEL_H_
