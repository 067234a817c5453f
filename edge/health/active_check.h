// Active health checks: what is sent, what counts as a pass, and how results move an endpoint
// between kUnchecked, kHealthy and kUnhealthy. Pure: no I/O, no clock, no logger. HealthMonitor
// (monitor.h) runs the checks and feeds the results in here.
//
// State machine, per endpoint (RecordCheckResult):
// - kUnchecked: the first result decides at once; a pass makes the endpoint kHealthy, a failure
//   kUnhealthy. Waiting for `rise` passes would leave a freshly started (or reloaded) cluster
//   unusable for rise * interval; deciding on the first result makes it usable after one
//   interval, and until then ComputeEligibility() treats an all-unchecked cluster as eligible.
// - kHealthy: `fall` consecutive failures make it kUnhealthy; a pass resets the failure count.
// - kUnhealthy: `rise` consecutive passes make it kHealthy; a failure resets the pass count.
#ifndef HOLDFAST_EDGE_HEALTH_ACTIVE_CHECK_H_
#define HOLDFAST_EDGE_HEALTH_ACTIVE_CHECK_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "edge/upstream/endpoint.h"

namespace holdfast::edge {

enum class CheckProtocol : uint8_t {
  kTcp,   // a check passes when the connection is established
  kHttp,  // a GET whose response status is expected
};

struct ActiveCheckParams {
  CheckProtocol protocol = CheckProtocol::kTcp;
  std::string path = "/healthz";
  // The Host field; empty sends the endpoint's address and port.
  std::string host;
  // Statuses that pass; empty means 200.
  std::vector<uint32_t> expected_statuses;
  absl::Duration interval = absl::Seconds(5);
  // Bounds the whole check: connect, request and response head.
  absl::Duration timeout = absl::Seconds(1);
  uint32_t rise = 2;  // at least 1
  uint32_t fall = 3;  // at least 1
};

// One endpoint's active-check state.
struct CheckCounters {
  HealthState state = HealthState::kUnchecked;
  uint32_t consecutive_successes = 0;
  uint32_t consecutive_failures = 0;
};

// Records one check result (see the state machine above). Returns true when `c.state` changed.
// `rise` and `fall` of 0 count as 1.
bool RecordCheckResult(CheckCounters& c, bool passed, uint32_t rise, uint32_t fall);

// The offset of an endpoint's first check after the monitor starts, in [0, interval): a hash of
// the cluster name and endpoint key, so the checks of many endpoints spread over the interval
// instead of firing at once, and the same endpoint keeps its phase across restarts.
[[nodiscard]] absl::Duration CheckPhase(std::string_view cluster, std::string_view endpoint_key,
                                        absl::Duration interval);

// The HTTP check's request: "GET <path> HTTP/1.1" with Host, User-Agent holdfast-health and
// Connection: close.
[[nodiscard]] std::string HealthCheckRequest(std::string_view path, std::string_view host);

// Whether `status` passes: in `expected`, or 200 when `expected` is empty.
[[nodiscard]] bool StatusPasses(int status, const std::vector<uint32_t>& expected);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_HEALTH_ACTIVE_CHECK_H_
