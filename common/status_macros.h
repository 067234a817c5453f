// HF_RETURN_IF_ERROR and HF_ASSIGN_OR_RETURN: Abseil 20220623 has no status macros.
#ifndef HOLDFAST_COMMON_STATUS_MACROS_H_
#define HOLDFAST_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the status of `expr` from the calling function when it is not OK.
#define HF_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status hf_status_ = (expr);      \
    if (!hf_status_.ok()) return hf_status_; \
  } while (false)

#define HF_STATUS_CONCAT_INNER_(a, b) a##b
#define HF_STATUS_CONCAT_(a, b) HF_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (a StatusOr<T>); returns its status when it is not OK, else moves the value
// into `lhs`, which may be a declaration: HF_ASSIGN_OR_RETURN(auto x, Parse(s));
#define HF_ASSIGN_OR_RETURN(lhs, rexpr) \
  HF_ASSIGN_OR_RETURN_IMPL_(HF_STATUS_CONCAT_(hf_statusor_, __LINE__), lhs, rexpr)
#define HF_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // HOLDFAST_COMMON_STATUS_MACROS_H_
