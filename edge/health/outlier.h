// Passive outlier detection: workers report how each request to an endpoint went, and an
// endpoint that fails `consecutive_errors` times in a row is ejected (taken out of balancing)
// for a while. OutlierDetector is the decision logic for one cluster, pure: no I/O, no clock
// (time comes in as an argument), no logger. HealthMonitor (monitor.h) drives it.
//
// Rules:
// - A connect failure or a 5xx counts as an error, a success resets the count to 0.
// - The `consecutive_errors`-th error in a row ejects the endpoint, for the ejection time below.
//   0 disables ejection entirely.
// - Ejection time grows with the number of times the endpoint has been ejected (n, counting this
//   one, over the detector's life, i.e. one config snapshot): base_ejection_time * min(n, 10),
//   and never longer than max(base_ejection_time, 300 s) (Envoy's max_ejection_time default).
// - At most MaxEjected(endpoints, max_ejection_percent) = floor(endpoints * pct / 100) endpoints
//   are ejected at once. When that floor is 0 (say 1 endpoint at 50%) nothing is ever ejected: a
//   cluster too small to spare an endpoint keeps all of them. An endpoint over the threshold
//   while the cap is reached stays over it, and the next error ejects it once there is room.
// - Outcomes reported while an endpoint is ejected (it can still be picked in panic mode) are
//   not counted. When the time is up, Return() brings it back with its error count at 0.
#ifndef HOLDFAST_EDGE_HEALTH_OUTLIER_H_
#define HOLDFAST_EDGE_HEALTH_OUTLIER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace holdfast::edge {

// How one request to an endpoint went, as a worker saw it.
enum class RequestOutcome : uint8_t {
  kSuccess,         // a response below 500 (or a TCP session that connected)
  kConnectFailure,  // connect refused, reset or timed out
  k5xx,             // the backend answered 500..599
};

struct OutlierParams {
  // 0 disables ejection.
  uint32_t consecutive_errors = 5;
  absl::Duration base_ejection_time = absl::Seconds(30);
  // 0..100.
  uint32_t max_ejection_percent = 50;
};

inline constexpr uint32_t kMaxEjectionMultiplier = 10;
inline constexpr absl::Duration kMaxEjectionTime = absl::Seconds(300);

// The length of an endpoint's `nth` ejection (1 for the first): base * min(nth, 10), at most
// max(base, kMaxEjectionTime). nth 0 counts as 1.
[[nodiscard]] absl::Duration EjectionDuration(absl::Duration base, uint32_t nth);

// How many of `endpoints` may be ejected at once: floor(endpoints * percent / 100), percent
// clamped to 100.
[[nodiscard]] size_t MaxEjected(size_t endpoints, uint32_t percent);

// Outlier state of one cluster's endpoints, indexed like the cluster's endpoint list. Not
// thread-safe: one owner (the monitor's io_context) calls it.
class OutlierDetector {
 public:
  using Clock = std::chrono::steady_clock;

  struct EndpointState {
    uint32_t consecutive_errors = 0;
    bool ejected = false;
    uint32_t ejections = 0;           // times ejected so far
    Clock::time_point ejected_until;  // when ejected: the time it returns
  };

  enum class Result : uint8_t {
    kNone,     // no ejection (the count may have moved)
    kEjected,  // this outcome ejected the endpoint
    kCapped,   // the endpoint reached the threshold but max_ejection_percent is in the way;
               // reported once, when the count reaches the threshold
  };

  OutlierDetector(size_t endpoints, const OutlierParams& params);

  // Records one outcome for `endpoint` (< size()) at `now`.
  Result Record(size_t endpoint, RequestOutcome outcome, Clock::time_point now);
  // Brings back every endpoint whose ejection time is up at `now` and returns their indices,
  // ascending.
  std::vector<size_t> Return(Clock::time_point now);
  // When the next ejected endpoint is due back; nullopt when none is ejected.
  std::optional<Clock::time_point> NextReturn() const;

  bool enabled() const { return params_.consecutive_errors > 0; }
  size_t size() const { return endpoints_.size(); }
  size_t ejected() const { return ejected_; }
  size_t max_ejected() const { return max_ejected_; }
  const EndpointState& state(size_t endpoint) const { return endpoints_[endpoint]; }
  const OutlierParams& params() const { return params_; }

 private:
  OutlierParams params_;
  size_t max_ejected_;
  size_t ejected_ = 0;
  std::vector<EndpointState> endpoints_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_HEALTH_OUTLIER_H_
