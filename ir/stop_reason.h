#ifndef LEMMA_IR_STOP_REASON_H_
#define LEMMA_IR_STOP_REASON_H_

// Why long work (generation, search, tuning) ended: the one vocabulary every
// component reports in, so a caller can tell a complete result from a
// partial one.

#include <cstdint>
#include <string_view>

namespace lemma {

enum class StopReason : uint8_t {
  kExhausted,  // everything was done: the result is complete
  kBudget,     // the work budget (graphs, expansions, trials) ran out: partial
  kTimeLimit,  // the time limit ran out: partial
};

/// "exhausted", "budget" or "time limit".
constexpr std::string_view StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kExhausted:
      return "exhausted";
    case StopReason::kBudget:
      return "budget";
    case StopReason::kTimeLimit:
      return "time limit";
  }
  return "?";
}

}  // namespace lemma

#endif  // LEMMA_IR_STOP_REASON_H_
