// A cluster's load-balancing policy, compiled once per config snapshot, and the factory that
// gives each worker its own Balancer for it.
#ifndef HOLDFAST_EDGE_UPSTREAM_LB_H_
#define HOLDFAST_EDGE_UPSTREAM_LB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "edge/upstream/balancer.h"
#include "edge/upstream/endpoint.h"
#include "edge/upstream/least_request.h"
#include "edge/upstream/maglev.h"

namespace holdfast::edge {

enum class LbPolicy : uint8_t {
  kRoundRobin,    // smooth weighted round robin (round_robin.h)
  kLeastRequest,  // power of two choices over active requests (least_request.h)
  kMaglev,        // consistent hashing on PickRequest::hash (maglev.h)
};

// "round_robin", "least_request", "maglev": for logs and metrics labels.
std::string_view LbPolicyName(LbPolicy policy);

// What every worker's balancer for one cluster shares. Immutable once compiled: hold it as
// std::shared_ptr<const ClusterLb> in the snapshot and read it from any thread.
class ClusterLb {
 public:
  // InvalidArgument when `policy` is not an enumerator, ValidateEndpoints() fails or, for kMaglev,
  // when MaglevTable::Create rejects `maglev_table_size` (other policies ignore it). No endpoints
  // is valid: every balancer then picks nothing.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const ClusterLb>> Compile(
      LbPolicy policy, std::span<const Endpoint> endpoints,
      uint32_t maglev_table_size = kDefaultMaglevTableSize);

  LbPolicy policy() const { return policy_; }
  size_t endpoint_count() const { return weights_.size(); }
  // Endpoint weights by index.
  const std::vector<uint32_t>& weights() const { return weights_; }
  // The Maglev table; null unless policy() is kMaglev.
  const std::shared_ptr<const MaglevTable>& maglev() const { return maglev_; }

  // A new balancer for one worker (not thread-safe, like every Balancer). It copies the
  // weights and shares the Maglev table, so it does not borrow *this. `random` is used only by
  // kLeastRequest (see LeastRequestBalancer for a null one) and may be
  // null for the others.
  [[nodiscard]] std::unique_ptr<Balancer> NewBalancer(RandomSource random) const;

 private:
  ClusterLb(LbPolicy policy, std::vector<uint32_t> weights,
            std::shared_ptr<const MaglevTable> maglev);

  LbPolicy policy_;
  std::vector<uint32_t> weights_;
  std::shared_ptr<const MaglevTable> maglev_;
};

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_UPSTREAM_LB_H_
