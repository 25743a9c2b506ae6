#ifndef LEMMA_KERNELS_CPU_THREAD_POOL_H_
#define LEMMA_KERNELS_CPU_THREAD_POOL_H_

// A small fixed thread pool for kernels: ParallelFor cuts a range of
// iterations into a few contiguous chunks that the calling thread and the
// workers take in turn. The caller never waits for a worker to start: on a
// machine busy with other work, a late worker finds the chunks taken and the
// caller has done them. Workers spin briefly between jobs (kernels come in
// quick succession) and then sleep.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lemma::cpu {

class ThreadPool {
 public:
  /// A pool that runs work on `threads` threads, the caller included
  /// (threads - 1 workers). threads < 1 means 1.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  /// Calls fn(begin, end) on disjoint contiguous ranges covering [0, n), in
  /// parallel, and returns when all are done. Not reentrant: fn must not call
  /// ParallelFor, and one thread at a time may call it.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn);
  /// Sends spinning workers to sleep at once (until the next ParallelFor), so
  /// that another library's threads (oneDNN's OpenMP team) get the cores.
  void Park();

 private:
  void Worker();
  void RunChunks();

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  // Odd while the caller rewrites the job, even once it is published.
  std::atomic<uint64_t> generation_{0};
  // Workers inside a job; the job is rewritten only when none is.
  std::atomic<int> busy_{0};
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> done_{0};
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t chunks_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> park_{false};
};

/// The pool kernels share in this process, of `threads` threads (created on
/// first use; a later call with another count replaces it).
ThreadPool& SharedPool(int threads);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_THREAD_POOL_H_
