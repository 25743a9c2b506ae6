#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <memory>

namespace lemma::cpu {
namespace {

// A spinning worker yields its core once in this many pauses.
constexpr int64_t kYieldEvery = 1024;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until done() holds: spins a little, then yields the core, which on a
// machine shared with other work lets the thread being waited for run.
template <typename F>
void WaitUntil(F done) {
  for (int i = 0; !done(); ++i) {
    if (i < 2000) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
}

WaitOptions Sane(WaitOptions wait) {
  wait.poll_slowdown = std::max(wait.poll_slowdown, 1);
  wait.max_poll_period = std::max(wait.max_poll_period, wait.poll_period);
  return wait;
}

}  // namespace

ThreadPool::ThreadPool(int threads, WaitOptions wait)
    : threads_(threads < 1 ? 1 : threads), wait_(Sane(wait)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this] { Worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunChunks() {
  for (;;) {
    const int64_t c = next_.fetch_add(1, std::memory_order_acq_rel);
    if (c >= chunks_) return;
    const int64_t begin = job_n_ * c / chunks_, end = job_n_ * (c + 1) / chunks_;
    if (begin < end) (*job_)(begin, end);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::Worker() {
  uint64_t seen = 0;
  auto ready = [&] {
    const uint64_t g = generation_.load(std::memory_order_acquire);
    return (g % 2 == 0 && g != seen) || stop_.load(std::memory_order_acquire);
  };
  auto parked = [&] { return park_.load(std::memory_order_relaxed); };
  for (;;) {
    for (int64_t spin = 0; spin < wait_.spin_iterations && !ready() && !parked(); ++spin) {
      if (spin % kYieldEvery == kYieldEvery - 1) {
        std::this_thread::yield();
      } else {
        CpuRelax();
      }
    }
    if (wait_.poll_duration.count() > 0 && !ready() && !parked()) {
      const auto start = std::chrono::steady_clock::now();
      for (auto now = start; now - start < wait_.poll_duration && !ready() && !parked();
           now = std::chrono::steady_clock::now()) {
        std::this_thread::sleep_for(std::clamp(
            std::chrono::duration_cast<std::chrono::microseconds>(now - start) / wait_.poll_slowdown,
            wait_.poll_period, wait_.max_poll_period));
      }
    }
    if (!ready()) {
      std::unique_lock<std::mutex> lock(mu_);
      ++blocked_;
      wake_.wait(lock, ready);
      --blocked_;
    }
    if (stop_.load(std::memory_order_acquire)) return;
    const uint64_t g = generation_.load(std::memory_order_acquire);
    busy_.fetch_add(1, std::memory_order_acq_rel);
    // The job may have been finished and replaced meanwhile; then skip it.
    if (generation_.load(std::memory_order_acquire) == g && g % 2 == 0) RunChunks();
    busy_.fetch_sub(1, std::memory_order_acq_rel);
    seen = g;
  }
}

void ThreadPool::ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (threads_ == 1 || n == 1) {
    fn(0, n);
    return;
  }
  if (runner_ != nullptr) {
    park_.store(true, std::memory_order_relaxed);
    runner_(threads_, n, fn);
    return;
  }
  park_.store(false, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // odd: rewriting
  WaitUntil([&] { return busy_.load(std::memory_order_acquire) == 0; });
  job_ = &fn;
  job_n_ = n;
  chunks_ = std::min<int64_t>(n, 8 * threads_);
  next_.store(0, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  int blocked = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_acq_rel);  // even: published
    blocked = blocked_;
  }
  // Spinning and polling workers find the job themselves (see the header).
  if (blocked > 0) wake_.notify_all();
  RunChunks();
  WaitUntil([&] { return done_.load(std::memory_order_acquire) >= chunks_; });
}

void ThreadPool::Park() { park_.store(true, std::memory_order_relaxed); }

namespace {

struct Shared {
  std::mutex mu;
  std::unique_ptr<ThreadPool> pool;
  WaitOptions wait;
};

Shared& SharedState() {
  static Shared shared;
  return shared;
}

}  // namespace

ThreadPool& SharedPool(int threads) {
  Shared& s = SharedState();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.pool == nullptr || s.pool->threads() != threads || s.pool->wait() != Sane(s.wait)) {
    s.pool = std::make_unique<ThreadPool>(threads, s.wait);
  }
  return *s.pool;
}

void SetSharedPoolWait(const WaitOptions& wait) {
  Shared& s = SharedState();
  std::lock_guard<std::mutex> lock(s.mu);
  s.wait = wait;
}

}  // namespace lemma::cpu
