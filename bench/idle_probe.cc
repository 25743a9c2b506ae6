// How this machine treats threads that wake after idling: each round, every
// thread sleeps (the first on a timer, the others on a condition variable),
// then all wake together and spin for a while, each recording the longest
// gap between consecutive clock readings, i.e. the longest time it did not
// run. A gap of milliseconds means a core was taken away after the wake-up
// (on a virtual machine: the host ran something else on it). lemma's runtime
// and ONNX Runtime both wait for their slowest thread at every parallel op,
// so such gaps land in a model's latency (bench/README.md, runs after idle).
//
//   build/bin/idle_probe [--rounds N] [--spin-ms MS]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double NowUs() {
  return std::chrono::duration<double, std::micro>(Clock::now().time_since_epoch()).count();
}

// Spins until `until_us` and returns the longest gap between clock readings.
double LongestGap(double until_us) {
  double longest = 0, last = NowUs();
  while (last < until_us) {
    const double t = NowUs();
    longest = std::max(longest, t - last);
    last = t;
  }
  return longest;
}

struct Result {
  double share_over_1ms = 0;  // rounds where some thread lost over 1 ms
  double median_us = 0;       // median over rounds of the worst thread's gap
  double max_us = 0;
};

Result Probe(int threads, int pause_ms, int rounds, double spin_ms) {
  std::mutex mu;
  std::condition_variable wake;
  int round = 0;
  double until = 0;
  bool stop = false;
  std::vector<double> gaps(static_cast<size_t>(threads));
  std::atomic<int> done{0};
  std::vector<std::thread> workers;
  for (int w = 1; w < threads; ++w) {
    workers.emplace_back([&, w] {
      int seen = 0;
      for (;;) {
        double end = 0;
        {
          std::unique_lock<std::mutex> lock(mu);
          wake.wait(lock, [&] { return stop || round != seen; });
          if (stop) return;
          seen = round;
          end = until;
        }
        gaps[static_cast<size_t>(w)] = LongestGap(end);
        done.fetch_add(1);
      }
    });
  }
  std::vector<double> worst;
  for (int r = 1; r <= rounds; ++r) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    done.store(0);
    {
      std::lock_guard<std::mutex> lock(mu);
      until = NowUs() + spin_ms * 1e3;
      round = r;
    }
    wake.notify_all();
    gaps[0] = LongestGap(until);
    while (done.load() < threads - 1) std::this_thread::yield();
    worst.push_back(*std::max_element(gaps.begin(), gaps.end()));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  wake.notify_all();
  for (std::thread& t : workers) t.join();
  std::sort(worst.begin(), worst.end());
  Result res;
  res.share_over_1ms =
      static_cast<double>(std::count_if(worst.begin(), worst.end(), [](double g) { return g > 1000; })) /
      static_cast<double>(worst.size());
  res.median_us = worst[worst.size() / 2];
  res.max_us = worst.back();
  return res;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 40;
  double spin_ms = 8;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--rounds" || a == "--spin-ms") && i + 1 < argc) {
      const double v = std::atof(argv[++i]);
      if (v <= 0) {
        std::fprintf(stderr, "%s must be positive\n", a.c_str());
        return 2;
      }
      if (a == "--rounds") rounds = static_cast<int>(v);
      if (a == "--spin-ms") spin_ms = v;
    } else {
      std::fprintf(stderr, "usage: idle_probe [--rounds N] [--spin-ms MS]\n");
      return 2;
    }
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::printf("threads waking together after an idle pause, then spinning %.0f ms; %d rounds, %d cores\n\n",
              spin_ms, rounds, cores);
  std::printf("threads  pause ms  rounds with a gap > 1 ms  median worst gap us  max gap us\n");
  for (int threads : {1, cores}) {
    for (int pause : {0, 5, 50}) {
      const Result r = Probe(threads, pause, rounds, spin_ms);
      std::printf("%7d  %8d  %23.0f%%  %19.0f  %10.0f\n", threads, pause, 100 * r.share_over_1ms,
                  r.median_us, r.max_us);
    }
    if (cores == 1) break;
  }
  return 0;
}
