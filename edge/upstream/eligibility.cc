#include "edge/upstream/eligibility.h"

namespace holdfast::edge {

Eligibility ComputeEligibility(std::span<const EndpointHealth> endpoints,
                               uint32_t panic_threshold_percent) {
  Eligibility result;
  EligibilityCounts& counts = result.counts_;
  counts.total = endpoints.size();
  for (const EndpointHealth& endpoint : endpoints) {
    switch (endpoint.state) {
      case HealthState::kUnchecked:
        ++counts.unchecked;
        break;
      case HealthState::kHealthy:
        ++counts.healthy;
        if (!endpoint.ejected) ++counts.usable;
        break;
      case HealthState::kUnhealthy:
        ++counts.unhealthy;
        break;
    }
    if (endpoint.ejected) ++counts.ejected;
  }

  // Without a single check result (active checks configured, first interval not over yet) we
  // know nothing about health: failing open beats answering 503 for a whole interval, so treat
  // every endpoint as healthy and let only ejection (a real signal) count against it.
  const bool no_health_information = counts.unchecked == counts.total;
  auto usable = [no_health_information](const EndpointHealth& endpoint) {
    if (endpoint.ejected) return false;
    return no_health_information || endpoint.state == HealthState::kHealthy;
  };
  const size_t denominator = no_health_information ? counts.total : counts.total - counts.unchecked;
  const size_t usable_count = no_health_information ? counts.total - counts.ejected : counts.usable;

  // Integer form of usable / denominator * 100 < threshold: no rounding at the boundary, so
  // 1 of 2 usable with a threshold of 50 is exactly 50% and not panic.
  result.panic_ = panic_threshold_percent > 0 && denominator > 0 &&
                  static_cast<uint64_t>(usable_count) * 100 <
                      static_cast<uint64_t>(panic_threshold_percent) * denominator;

  result.mask_.assign(endpoints.size(), 0);
  for (size_t i = 0; i < endpoints.size(); ++i) {
    // Panic balances over everything, like Envoy: spreading load over endpoints that may be
    // down beats piling all of it on the few that are up and taking them down too.
    if (result.panic_ || usable(endpoints[i])) {
      result.mask_[i] = 1;
      result.indices_.push_back(i);
    }
  }
  return result;
}

}  // namespace holdfast::edge
