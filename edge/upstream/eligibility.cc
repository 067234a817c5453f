#include "edge/upstream/eligibility.h"

#include <algorithm>
#include <array>

namespace holdfast::edge {
namespace {

void Count(const EndpointHealth& endpoint, uint32_t weight, EligibilityCounts& counts) {
  ++counts.total;
  counts.total_weight += weight;
  switch (endpoint.state) {
    case HealthState::kUnchecked:
      ++counts.unchecked;
      break;
    case HealthState::kHealthy:
      ++counts.healthy;
      if (!endpoint.ejected) {
        ++counts.usable;
        counts.usable_weight += weight;
      }
      break;
    case HealthState::kUnhealthy:
      ++counts.unhealthy;
      break;
  }
  if (endpoint.ejected) ++counts.ejected;
}

// Integer form of part / whole * 100 < percent: no rounding at the boundary, so 1 of 2 with a
// threshold of 50 is exactly 50% and not below.
bool Below(size_t part, size_t whole, uint32_t percent) {
  return static_cast<uint64_t>(part) * 100 < static_cast<uint64_t>(percent) * whole;
}

}  // namespace

Eligibility ComputeEligibility(std::span<const EndpointHealth> health,
                               uint32_t panic_threshold_percent,
                               std::span<const Endpoint> endpoints,
                               uint32_t failover_below_percent) {
  const bool located = endpoints.size() == health.size();
  auto priority = [&](size_t i) -> uint8_t {
    return located ? std::min(endpoints[i].priority, kPriorityElsewhere) : kPriorityOwnPop;
  };
  auto weight = [&](size_t i) -> uint32_t { return located ? endpoints[i].weight : 1; };

  Eligibility result;
  std::array<EligibilityCounts, kPriorityElsewhere + 1> levels{};
  for (size_t i = 0; i < health.size(); ++i) {
    Count(health[i], weight(i), result.counts_);
    Count(health[i], weight(i), levels[priority(i)]);
  }
  const EligibilityCounts& counts = result.counts_;

  // Without a single check result (active checks configured, first interval not over yet) we
  // know nothing about health: failing open beats answering 503 for a whole interval, so treat
  // every endpoint as healthy and let only ejection (a real signal) count against it.
  const bool no_health_information = counts.unchecked == counts.total;
  auto usable = [no_health_information](const EndpointHealth& endpoint) {
    if (endpoint.ejected) return false;
    return no_health_information || endpoint.state == HealthState::kHealthy;
  };
  auto denominator = [no_health_information](const EligibilityCounts& n) {
    return no_health_information ? n.total : n.total - n.unchecked;
  };
  auto usable_count = [no_health_information](const EligibilityCounts& n) {
    return no_health_information ? n.total - n.ejected : n.usable;
  };

  result.panic_ = panic_threshold_percent > 0 && denominator(counts) > 0 &&
                  Below(usable_count(counts), denominator(counts), panic_threshold_percent);

  // The levels in use: the first the cluster has, then each next one while the ones before
  // fall short (a level with no checked endpoint falls short).
  size_t first = levels.size();
  size_t last = 0;
  for (size_t level = 0; level < levels.size(); ++level) {
    if (levels[level].total == 0) continue;
    if (first == levels.size()) first = level;
    last = level;
    const size_t checked = denominator(levels[level]);
    if (checked > 0 && !Below(usable_count(levels[level]), checked, failover_below_percent)) break;
  }
  if (first < levels.size()) result.preferred_ = levels[first];
  result.failing_over_ = !result.panic_ && first < levels.size() && last > first;

  result.mask_.assign(health.size(), 0);
  for (size_t i = 0; i < health.size(); ++i) {
    // Panic balances over everything, like Envoy: spreading load over endpoints that may be
    // down beats piling all of it on the few that are up and taking them down too.
    if (result.panic_ || (usable(health[i]) && priority(i) <= last)) {
      result.mask_[i] = 1;
      result.indices_.push_back(i);
    }
  }
  return result;
}

}  // namespace holdfast::edge
