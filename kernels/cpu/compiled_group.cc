#include "kernels/cpu/compiled_group.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ir/strings.h"

namespace lemma::cpu {

AlignedBuffer::AlignedBuffer(int64_t floats) : size_(floats) {
  // Buffers of a huge page or more start on one, so that all of them can be
  // huge pages (advised before the first touch, which then maps them).
  const int64_t want = std::max<int64_t>(floats, 1) * 4;
  const int64_t align = want >= kHugePageBytes ? kHugePageBytes : 64;
  const size_t bytes = static_cast<size_t>((want + align - 1) / align * align);
  float* p = static_cast<float*>(std::aligned_alloc(static_cast<size_t>(align), bytes));
  if (align == kHugePageBytes) AdviseHugePages(p, static_cast<int64_t>(bytes));
  std::memset(p, 0, bytes);
  data_.reset(p);
}

void AlignedBuffer::Free::operator()(float* p) const { std::free(p); }

absl::StatusOr<CompiledGroup> CompiledGroup::Compile(Lowered lowered, bool generate) {
  CompiledGroup group;
  group.generated_ = generate && CodegenAvailable();
  // Packed weights are streamed by every call.
  for (const std::vector<float>& c : lowered.constants) {
    AdviseHugePages(c.data(), static_cast<int64_t>(c.size()) * 4);
  }
  for (const Launch& launch : lowered.launches) {
    if (absl::Status s = launch.nest.Validate(); !s.ok()) return s;
    if (absl::Status s = launch.schedule.Validate(launch.nest); !s.ok()) return s;
    if (!group.generated_) {
      group.kernels_.push_back(nullptr);
      continue;
    }
    absl::StatusOr<std::shared_ptr<const CompiledKernel>> k =
        CompileKernel(launch.nest, launch.schedule);
    if (!k.ok()) return k.status();
    group.kernels_.push_back(*std::move(k));
  }
  group.lowered_ = std::move(lowered);
  return group;
}

void CompiledGroup::Run(const std::function<float*(const ArgBinding&)>& resolve,
                        ThreadPool& pool) const {
  std::vector<float*> ptrs;
  for (size_t i = 0; i < lowered_.launches.size(); ++i) {
    const Launch& launch = lowered_.launches[i];
    ptrs.clear();
    for (const ArgBinding& arg : launch.args) {
      if (arg.kind == ArgBinding::Kind::kConstant) {
        ptrs.push_back(const_cast<float*>(lowered_.constants[static_cast<size_t>(arg.index)].data()));
      } else {
        ptrs.push_back(resolve(arg));
      }
    }
    if (kernels_[i] != nullptr) {
      kernels_[i]->Run(ptrs.data(), pool);
    } else {
      InterpretNest(launch.nest, ptrs.data());
    }
  }
}

std::string CompiledGroup::ScheduleText() const {
  std::string out;
  for (const Launch& launch : lowered_.launches) {
    StrAppend(&out, out.empty() ? "" : "; ", launch.schedule.ToString(launch.nest));
  }
  return out;
}

ScratchBuffers::ScratchBuffers(const Lowered& lowered, const LoweringContext& context) {
  for (int64_t t : lowered.temps) temps_.emplace_back(t);
  for (const Launch& launch : lowered.launches) {
    for (size_t i = 0; i < launch.args.size(); ++i) {
      const ArgBinding& arg = launch.args[i];
      if (arg.kind != ArgBinding::Kind::kValue) continue;
      bool seen = false;
      for (const auto& [v, buffer] : values_) seen = seen || v == arg.value;
      for (const auto& [v, data] : constants_) seen = seen || v == arg.value;
      if (seen) continue;
      const ValueAccess a = context.Access(arg.value);
      if (a.constant != nullptr) {
        constants_.push_back({arg.value, a.constant});
      } else {
        values_.push_back({arg.value, AlignedBuffer(a.elements)});
      }
    }
  }
}

void ScratchBuffers::EvictConstants(const Lowered& lowered, const LoweringContext& context) const {
  for (const std::vector<float>& c : lowered.constants) {
    EvictFromCaches(c.data(), static_cast<int64_t>(c.size()) * 4);
  }
  for (const auto& [v, data] : constants_) EvictFromCaches(data, context.Access(v).elements * 4);
}

float* ScratchBuffers::Resolve(const ArgBinding& arg) {
  if (arg.kind == ArgBinding::Kind::kTemp) return temps_[static_cast<size_t>(arg.index)].data();
  for (const auto& [v, data] : constants_) {
    if (v == arg.value) return const_cast<float*>(data);
  }
  for (const auto& [v, buffer] : values_) {
    if (v == arg.value) return buffer.data();
  }
  return nullptr;
}

Timing TimeCalls(const std::function<void()>& fn, int min_runs, double min_seconds, int max_runs,
                 const std::function<void()>& before) {
  using Clock = std::chrono::steady_clock;
  if (before) before();
  fn();
  std::vector<double> times;
  double total = 0;
  for (int run = 0; run < max_runs && (run < min_runs || total < min_seconds); ++run) {
    if (before) before();
    const auto start = Clock::now();
    fn();
    const double t = std::chrono::duration<double>(Clock::now() - start).count();
    times.push_back(t);
    total += t;
  }
  std::sort(times.begin(), times.end());
  return {times.front(), times[times.size() / 2]};
}

double TimeFastest(const std::function<void()>& fn, int min_runs, double min_seconds,
                   int max_runs) {
  return TimeCalls(fn, min_runs, min_seconds, max_runs).fastest;
}

Timing TimeGroupCalls(const CompiledGroup& group, const LoweringContext& context,
                      ThreadPool& pool, double min_seconds, WeightCache weights) {
  ScratchBuffers scratch(group.lowered(), context);
  auto resolve = [&](const ArgBinding& arg) { return scratch.Resolve(arg); };
  std::function<void()> before;
  if (weights == WeightCache::kCold) before = [&] { scratch.EvictConstants(group.lowered(), context); };
  return TimeCalls([&] { group.Run(resolve, pool); }, 3, min_seconds, 1000, before);
}

double TimeGroup(const CompiledGroup& group, const LoweringContext& context, ThreadPool& pool,
                 double min_seconds, WeightCache weights) {
  return TimeGroupCalls(group, context, pool, min_seconds, weights).fastest;
}

}  // namespace lemma::cpu
