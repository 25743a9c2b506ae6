#ifndef LEMMA_KERNELS_CPU_THREAD_POOL_H_
#define LEMMA_KERNELS_CPU_THREAD_POOL_H_

// A small fixed thread pool for kernels: ParallelFor splits a range of
// iterations among the calling thread and the workers. Workers spin briefly
// between jobs (kernels come in quick succession) and then sleep.

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

  /// Calls fn(begin, end) on disjoint ranges covering [0, n), in parallel,
  /// and returns when all are done. Each thread gets one contiguous range of
  /// nearly equal size. Not reentrant: fn must not call ParallelFor.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void Worker(int index);
  void RunShare(int index);

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  // The current job: generation counts jobs; pending counts workers not done.
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  bool stop_ = false;
};

/// The pool kernels share in this process, of `threads` threads (created on
/// first use; a later call with another count replaces it).
ThreadPool& SharedPool(int threads);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_THREAD_POOL_H_
