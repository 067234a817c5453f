#include "edge/health/outlier.h"

#include <algorithm>

namespace holdfast::edge {

absl::Duration EjectionDuration(absl::Duration base, uint32_t nth) {
  const uint32_t multiplier = std::clamp<uint32_t>(nth, 1, kMaxEjectionMultiplier);
  // A base above the cap keeps its own length: the cap exists to stop growth, not to cut an
  // operator's explicit choice short.
  return std::min(base * static_cast<int64_t>(multiplier), std::max(base, kMaxEjectionTime));
}

size_t MaxEjected(size_t endpoints, uint32_t percent) {
  return endpoints * std::min<uint32_t>(percent, 100) / 100;
}

OutlierDetector::OutlierDetector(size_t endpoints, const OutlierParams& params)
    : params_(params),
      max_ejected_(MaxEjected(endpoints, params.max_ejection_percent)),
      endpoints_(endpoints) {}

OutlierDetector::Result OutlierDetector::Record(size_t endpoint, RequestOutcome outcome,
                                                Clock::time_point now) {
  EndpointState& e = endpoints_[endpoint];
  if (!enabled() || e.ejected) return Result::kNone;
  if (outcome == RequestOutcome::kSuccess) {
    e.consecutive_errors = 0;
    return Result::kNone;
  }
  ++e.consecutive_errors;
  if (e.consecutive_errors < params_.consecutive_errors) return Result::kNone;
  if (ejected_ >= max_ejected_) {
    return e.consecutive_errors == params_.consecutive_errors ? Result::kCapped : Result::kNone;
  }
  ++e.ejections;
  e.ejected = true;
  e.ejected_until =
      now + absl::ToChronoNanoseconds(EjectionDuration(params_.base_ejection_time, e.ejections));
  ++ejected_;
  return Result::kEjected;
}

std::vector<size_t> OutlierDetector::Return(Clock::time_point now) {
  std::vector<size_t> back;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    EndpointState& e = endpoints_[i];
    if (e.ejected && e.ejected_until <= now) {
      e.ejected = false;
      e.consecutive_errors = 0;
      --ejected_;
      back.push_back(i);
    }
  }
  return back;
}

std::optional<OutlierDetector::Clock::time_point> OutlierDetector::NextReturn() const {
  std::optional<Clock::time_point> next;
  for (const EndpointState& e : endpoints_) {
    if (e.ejected && (!next || e.ejected_until < *next)) next = e.ejected_until;
  }
  return next;
}

}  // namespace holdfast::edge
