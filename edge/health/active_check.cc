#include "edge/health/active_check.h"

#include <algorithm>

#include "common/cat.h"

namespace holdfast::edge {

bool RecordCheckResult(CheckCounters& c, bool passed, uint32_t rise, uint32_t fall) {
  rise = std::max<uint32_t>(rise, 1);
  fall = std::max<uint32_t>(fall, 1);
  const HealthState before = c.state;
  if (passed) {
    ++c.consecutive_successes;
    c.consecutive_failures = 0;
    if (before == HealthState::kUnchecked ||
        (before == HealthState::kUnhealthy && c.consecutive_successes >= rise)) {
      c.state = HealthState::kHealthy;
    }
  } else {
    ++c.consecutive_failures;
    c.consecutive_successes = 0;
    if (before == HealthState::kUnchecked ||
        (before == HealthState::kHealthy && c.consecutive_failures >= fall)) {
      c.state = HealthState::kUnhealthy;
    }
  }
  return c.state != before;
}

absl::Duration CheckPhase(std::string_view cluster, std::string_view endpoint_key,
                          absl::Duration interval) {
  // FNV-1a: stable across builds and platforms, unlike std::hash.
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::string_view s) {
    for (const char ch : s) {
      h ^= static_cast<unsigned char>(ch);
      h *= 0x100000001b3ULL;
    }
  };
  mix(cluster);
  mix(std::string_view("\0", 1));
  mix(endpoint_key);
  constexpr uint64_t kSlots = 1024;
  if (interval <= absl::ZeroDuration()) return absl::ZeroDuration();
  return interval * static_cast<int64_t>(h % kSlots) / static_cast<int64_t>(kSlots);
}

std::string HealthCheckRequest(std::string_view path, std::string_view host) {
  return Cat("GET ", path.empty() ? std::string_view("/") : path, " HTTP/1.1\r\nHost: ", host,
             "\r\nUser-Agent: holdfast-health\r\nConnection: close\r\n\r\n");
}

bool StatusPasses(int status, const std::vector<uint32_t>& expected) {
  if (expected.empty()) return status == 200;
  return std::any_of(expected.begin(), expected.end(),
                     [status](uint32_t s) { return static_cast<int>(s) == status; });
}

}  // namespace holdfast::edge
