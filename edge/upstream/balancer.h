// The interface the daemon holds per cluster per worker: pick one endpoint for a request.
#ifndef HOLDFAST_EDGE_UPSTREAM_BALANCER_H_
#define HOLDFAST_EDGE_UPSTREAM_BALANCER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "edge/upstream/eligibility.h"

namespace holdfast::edge {

// What one pick needs. Borrows everything: valid for the duration of the Pick() call only.
struct PickRequest {
  // Computed over the same endpoint list the balancer was built from (same size).
  const Eligibility& eligibility;
  // Maglev: HashKey() of the request's hash input (header value, client address). Others
  // ignore it.
  uint64_t hash = 0;
  // Least request: in-flight requests per endpoint index. An index past the end reads as 0.
  // Others ignore it.
  std::span<const uint32_t> active_requests = {};
  // A retry: the endpoint the previous attempt used. It is not picked again while another
  // endpoint is eligible; when it is the only one, it is.
  std::optional<size_t> avoid = std::nullopt;
};

// Picks endpoints for one cluster. Implementations are not thread-safe: each worker owns its
// own, built from the cluster's shared, immutable ClusterLb (lb.h).
class Balancer {
 public:
  virtual ~Balancer() = default;

  // An eligible endpoint index, or nullopt when nothing is eligible (the caller answers 503) or
  // when `request.eligibility` was computed over a different number of endpoints than this
  // balancer was built with (a snapshot mix-up; never guess).
  [[nodiscard]] virtual std::optional<size_t> Pick(const PickRequest& request) = 0;
};

// The endpoint a pick must not return: `request.avoid` when it is eligible and some other
// endpoint is too; nullopt otherwise. Every balancer applies the avoid rule through this.
[[nodiscard]] std::optional<size_t> EffectiveAvoid(const PickRequest& request);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_BALANCER_H_
