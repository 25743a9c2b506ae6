#ifndef LEMMA_IR_STATUS_MACROS_H_
#define LEMMA_IR_STATUS_MACROS_H_

// Early-return helpers for absl::Status and absl::StatusOr:
//   LEMMA_RETURN_IF_ERROR(Check(x));        // returns the error, if any
//   LEMMA_ASSIGN_OR_RETURN(int n, Count()); // n = *Count(), or returns its error

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define LEMMA_RETURN_IF_ERROR(expr)           \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return _s;                              \
    }                                         \
  } while (0)

#define LEMMA_CONCAT_INNER(a, b) a##b
#define LEMMA_CONCAT(a, b) LEMMA_CONCAT_INNER(a, b)
#define LEMMA_ASSIGN_OR_RETURN(lhs, expr) \
  LEMMA_ASSIGN_OR_RETURN_IMPL(LEMMA_CONCAT(_status_or_, __LINE__), lhs, expr)
#define LEMMA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = *std::move(tmp)

#endif  // LEMMA_IR_STATUS_MACROS_H_
