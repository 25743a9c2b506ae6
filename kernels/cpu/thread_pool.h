#ifndef LEMMA_KERNELS_CPU_THREAD_POOL_H_
#define LEMMA_KERNELS_CPU_THREAD_POOL_H_

// A small fixed thread pool for kernels: ParallelFor cuts a range of
// iterations into a few contiguous chunks that the calling thread and the
// workers take in turn. The caller never waits for a worker to start: on a
// machine busy with other work, a late worker finds the chunks taken and the
// caller has done them.
//
// Between jobs a worker waits in three stages:
//  1. it spins (kernels come in quick succession), yielding its core now and
//     then, so that a worker queued on the caller's own CPU does not take
//     the caller's time;
//  2. it sleeps on a timer and looks again, less often the longer it has
//     been idle, for a second (a graph that runs a few times a second finds
//     its workers here): a worker that wakes from its own timer runs on its
//     own CPU;
//  3. it blocks until the caller wakes it. A wake-up from another thread
//     lets the kernel place the worker on the waker's CPU, which it does on a
//     virtual machine whose host has taken the worker's idle vCPU away; the
//     worker then waits for the caller's time slice and never helps. The
//     caller wakes only workers in this stage.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lemma::cpu {

/// How a worker waits for the next job (the stages above). On the 2-vCPU
/// virtual machines lemma is benchmarked on, a worker spins about 2 ms of CPU
/// time after a job; polling then costs 10% of a core over the first 50 ms
/// and 27 ms of CPU time over its whole second.
struct WaitOptions {
  /// Pause instructions spun through before polling.
  int64_t spin_iterations = 1 << 16;
  /// The sleep between looks while polling: poll_period at first, then the
  /// time polled so far over poll_slowdown (a worker idle for longer joins
  /// a later job that much later), at most max_poll_period.
  /// (A pool reads a poll_slowdown below 1 as 1, and a max_poll_period
  /// below poll_period as poll_period.)
  std::chrono::microseconds poll_period{250};
  int poll_slowdown = 200;
  std::chrono::microseconds max_poll_period{2000};
  /// How long a worker polls before it blocks (0: it blocks after spinning).
  std::chrono::milliseconds poll_duration{1000};

  bool operator==(const WaitOptions&) const = default;
};

class ThreadPool {
 public:
  /// A pool that runs work on `threads` threads, the caller included
  /// (threads - 1 workers). threads < 1 means 1.
  explicit ThreadPool(int threads, WaitOptions wait = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }
  const WaitOptions& wait() const { return wait_; }

  /// Calls fn(begin, end) on disjoint contiguous ranges covering [0, n), in
  /// parallel, and returns when all are done. Not reentrant: fn must not call
  /// ParallelFor, and one thread at a time may call it.
  void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn);
  /// Sends spinning and polling workers to sleep at once (until the next
  /// ParallelFor), so that another library's threads (oneDNN's OpenMP team)
  /// get the cores.
  void Park();

  /// Another way to run a ParallelFor: `fn` over [0, n) on `threads` threads.
  using Runner = void (*)(int threads, int64_t n, const std::function<void(int64_t, int64_t)>& fn);
  /// While `runner` is set, ParallelFor hands its jobs to it and the workers
  /// stay parked. A plan that also runs oneDNN steps runs its kernels on
  /// oneDNN's OpenMP team this way (RunOnOpenMp): two teams on the same
  /// cores take turns badly (one spins on a core the other needs).
  void SetRunner(Runner runner) { runner_ = runner; }

 private:
  void Worker();
  void RunChunks();

  const int threads_;
  const WaitOptions wait_;
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
  int blocked_ = 0;  // workers in stage 3 (guarded by mu_)
  Runner runner_ = nullptr;
};

/// The pool kernels share in this process, of `threads` threads (created on
/// first use; a later call with another count, or after SetSharedPoolWait,
/// replaces it).
ThreadPool& SharedPool(int threads);

/// How the shared pool's workers wait between jobs, for the whole process:
/// e.g. poll_duration = 0 on a host where idle CPU time matters more than
/// the latency of a run after idle. Takes effect at the next SharedPool call,
/// which replaces the pool: call it while no graph runs.
void SetSharedPoolWait(const WaitOptions& wait);

}  // namespace lemma::cpu

#endif  // LEMMA_KERNELS_CPU_THREAD_POOL_H_
