// A cluster's endpoints as the load balancers see them: configuration (key, weight), compiled
// once per config snapshot, and runtime health (active checks, passive ejection). An endpoint is
// named everywhere in edge/upstream/ by its index in the cluster's endpoint list.
#ifndef HOLDFAST_EDGE_UPSTREAM_ENDPOINT_H_
#define HOLDFAST_EDGE_UPSTREAM_ENDPOINT_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace holdfast::edge {

inline constexpr uint32_t kMinEndpointWeight = 1;
inline constexpr uint32_t kMaxEndpointWeight = 1000;

// One endpoint's configuration. Immutable within a snapshot.
struct Endpoint {
  std::string key;      // "address:port"; stable across snapshots, Maglev hashes it
  uint32_t weight = 1;  // kMinEndpointWeight..kMaxEndpointWeight
  // Locality priority level as this node sees it (eligibility.h): 0 is used first.
  uint8_t priority = 0;
};

// The priority levels of locality failover, from a node's point of view.
inline constexpr uint8_t kPriorityOwnPop = 0;     // the node's own POP
inline constexpr uint8_t kPriorityOwnRegion = 1;  // other POPs of the node's region
inline constexpr uint8_t kPriorityElsewhere = 2;  // other regions, and endpoints in no POP

enum class HealthState : uint8_t {
  kUnchecked,  // active health checks are configured but have no result yet
  kHealthy,    // passed active checks, or the cluster has none configured
  kUnhealthy,  // failed active checks
};

// One endpoint's runtime health, owned by the health checker and outlier detector.
struct EndpointHealth {
  HealthState state = HealthState::kHealthy;
  bool ejected = false;  // ejected by passive outlier detection
};

// OK when every key is non-empty and unique and every weight is within
// [kMinEndpointWeight, kMaxEndpointWeight]; otherwise InvalidArgument naming the first bad
// endpoint by index and key.
[[nodiscard]] absl::Status ValidateEndpoints(std::span<const Endpoint> endpoints);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_ENDPOINT_H_
