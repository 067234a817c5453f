// Eligibility sets for the balancer tests.
#ifndef HOLDFAST_TESTS_UNIT_EDGE_UPSTREAM_ELIGIBLE_H_
#define HOLDFAST_TESTS_UNIT_EDGE_UPSTREAM_ELIGIBLE_H_

#include <vector>

#include "edge/upstream/eligibility.h"

namespace holdfast::edge::testing {

// Eligibility over `count` endpoints of which exactly `eligible` are (the rest unhealthy,
// panic disabled).
inline Eligibility Only(size_t count, const std::vector<size_t>& eligible) {
  std::vector<EndpointHealth> health(count, {HealthState::kUnhealthy, false});
  for (const size_t i : eligible) health[i].state = HealthState::kHealthy;
  return ComputeEligibility(health, 0);
}

// Every one of `count` endpoints eligible.
inline Eligibility All(size_t count) {
  return ComputeEligibility(std::vector<EndpointHealth>(count), 0);
}

}  // namespace holdfast::edge::testing

#endif  // HOLDFAST_TESTS_UNIT_EDGE_UPSTREAM_ELIGIBLE_H_
