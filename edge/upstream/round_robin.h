// Smooth weighted round robin, nginx's algorithm (ngx_http_upstream_get_peer): deterministic,
// exactly proportional to weights over a cycle, and spread out within it (weights 5,1,1 pick
// a,a,b,a,c,a,a rather than a,a,a,a,a,b,c).
#ifndef HOLDFAST_EDGE_UPSTREAM_ROUND_ROBIN_H_
#define HOLDFAST_EDGE_UPSTREAM_ROUND_ROBIN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "edge/upstream/balancer.h"

namespace holdfast::edge {

// Not thread-safe: one per cluster per worker. Ignores PickRequest::hash and active_requests.
// O(eligible) per pick.
class RoundRobinBalancer final : public Balancer {
 public:
  // `weights` by endpoint index, each in [kMinEndpointWeight, kMaxEndpointWeight].
  explicit RoundRobinBalancer(std::vector<uint32_t> weights);

  // Among the eligible endpoints (minus the avoided one), the one whose current weight is
  // highest after each has gained its weight; ties go to the lowest index. An endpoint that was
  // not eligible on the previous pick re-enters with a current weight of 0, so one returning
  // from an outage gets its share from then on, not a burst or a drought from stale state.
  [[nodiscard]] std::optional<size_t> Pick(const PickRequest& request) override;

 private:
  std::vector<uint32_t> weights_;
  std::vector<int64_t> current_;     // nginx's current_weight, by endpoint index
  std::vector<uint64_t> last_pick_;  // by endpoint index: the pick it was last eligible in
  uint64_t picks_ = 0;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_ROUND_ROBIN_H_
