// Which endpoints of a cluster a balancer may pick, and whether the cluster is in panic mode.
// ComputeEligibility() is the one place this rule lives; the balancers, the reporter and the
// metrics all read its result.
#ifndef HOLDFAST_EDGE_UPSTREAM_ELIGIBILITY_H_
#define HOLDFAST_EDGE_UPSTREAM_ELIGIBILITY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "edge/upstream/endpoint.h"

namespace holdfast::edge {

// Endpoint counts for reporting. Each endpoint is counted once in exactly one of healthy,
// unhealthy and unchecked (by its HealthState, ejected or not); `ejected` counts ejected
// endpoints of any state, and `usable` those that are kHealthy and not ejected.
struct EligibilityCounts {
  size_t total = 0;
  size_t healthy = 0;
  size_t unhealthy = 0;
  size_t unchecked = 0;
  size_t ejected = 0;
  size_t usable = 0;
  // The capacity of the endpoints counted: the sum of their weights, all and usable.
  uint64_t total_weight = 0;
  uint64_t usable_weight = 0;
};

// The result of ComputeEligibility(). A value: cheap to move, safe to share read-only across
// threads. A default-constructed Eligibility has no endpoints and nothing eligible.
class Eligibility {
 public:
  Eligibility() = default;

  // The endpoint indices a balancer may pick, ascending and without duplicates.
  std::span<const size_t> indices() const { return indices_; }
  size_t size() const { return indices_.size(); }
  bool empty() const { return indices_.empty(); }
  // Whether endpoint `index` may be picked; false for an index out of range.
  bool Contains(size_t index) const { return index < mask_.size() && mask_[index] != 0; }

  // True when the cluster is in panic mode: too few usable endpoints, so every endpoint is
  // eligible. The caller counts and logs it.
  bool panic() const { return panic_; }
  // Every endpoint of the cluster.
  const EligibilityCounts& counts() const { return counts_; }
  // The endpoints of the first priority level the cluster has (its own POP's, with locality):
  // what the node's health report judges its POP by. All of them without locality.
  const EligibilityCounts& preferred() const { return preferred_; }
  // True when endpoints beyond the first level are eligible: too few of it are healthy.
  bool failing_over() const { return failing_over_; }

 private:
  friend Eligibility ComputeEligibility(std::span<const EndpointHealth> health,
                                        uint32_t panic_threshold_percent,
                                        std::span<const Endpoint> endpoints,
                                        uint32_t failover_below_percent);

  std::vector<size_t> indices_;
  std::vector<uint8_t> mask_;  // by endpoint index: 1 when eligible
  bool panic_ = false;
  bool failing_over_ = false;
  EligibilityCounts counts_;
  EligibilityCounts preferred_;
};

// Computes eligibility from `health` (indexed like the cluster's endpoint list).
// `panic_threshold_percent` is 0..100; 0 disables panic mode. `endpoints`, when it has one entry
// per health entry, gives each endpoint's weight and locality priority; otherwise every endpoint
// has weight 1 and priority 0.
//
// - Usable means kHealthy and not ejected.
// - The panic ratio is usable / (endpoints with a check result, i.e. not kUnchecked). An
//   unchecked endpoint is neither picked nor counted, so adding endpoints to a checked cluster
//   never pushes it into panic before their first check.
// - No endpoint has a result yet (startup): there is no health information, so every endpoint
//   that is not ejected is eligible, and the panic ratio is (not ejected) / total. With nothing
//   ejected that is never panic.
// - Panic (ratio * 100 < threshold): every endpoint is eligible, whatever its state.
// - Otherwise the usable endpoints of the first priority level are eligible, and while fewer
//   than `failover_below_percent` (1..100) of that level's checked endpoints are usable, those
//   of the next level too, and so on (locality failover; the panic ratio is the whole
//   cluster's). With panic disabled the set may be empty and the caller answers 503.
//
// O(n) and allocates: compute it when health or ejection changes, not per request.
[[nodiscard]] Eligibility ComputeEligibility(std::span<const EndpointHealth> health,
                                             uint32_t panic_threshold_percent,
                                             std::span<const Endpoint> endpoints = {},
                                             uint32_t failover_below_percent = 100);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_ELIGIBILITY_H_
