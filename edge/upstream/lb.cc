#include "edge/upstream/lb.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "edge/upstream/round_robin.h"

namespace holdfast::edge {

std::string_view LbPolicyName(LbPolicy policy) {
  switch (policy) {
    case LbPolicy::kRoundRobin:
      return "round_robin";
    case LbPolicy::kLeastRequest:
      return "least_request";
    case LbPolicy::kMaglev:
      return "maglev";
  }
  return "unknown";
}

ClusterLb::ClusterLb(LbPolicy policy, std::vector<uint32_t> weights,
                     std::shared_ptr<const MaglevTable> maglev)
    : policy_(policy), weights_(std::move(weights)), maglev_(std::move(maglev)) {}

absl::StatusOr<std::shared_ptr<const ClusterLb>> ClusterLb::Compile(
    LbPolicy policy, std::span<const Endpoint> endpoints, uint32_t maglev_table_size) {
  if (LbPolicyName(policy) == "unknown") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown load-balancing policy ", static_cast<int>(policy)));
  }
  if (absl::Status status = ValidateEndpoints(endpoints); !status.ok()) return status;
  std::vector<uint32_t> weights;
  weights.reserve(endpoints.size());
  for (const Endpoint& endpoint : endpoints) weights.push_back(endpoint.weight);
  std::shared_ptr<const MaglevTable> maglev;
  if (policy == LbPolicy::kMaglev) {
    absl::StatusOr<std::shared_ptr<const MaglevTable>> table =
        MaglevTable::Create(endpoints, maglev_table_size);
    if (!table.ok()) return table.status();
    maglev = *std::move(table);
  }
  return std::shared_ptr<const ClusterLb>(
      new ClusterLb(policy, std::move(weights), std::move(maglev)));
}

std::unique_ptr<Balancer> ClusterLb::NewBalancer(RandomSource random) const {
  switch (policy_) {
    case LbPolicy::kRoundRobin:
      return std::make_unique<RoundRobinBalancer>(weights_);
    case LbPolicy::kLeastRequest:
      return std::make_unique<LeastRequestBalancer>(weights_, std::move(random));
    case LbPolicy::kMaglev:
      return std::make_unique<MaglevBalancer>(maglev_);
  }
  return nullptr;  // unreachable: Compile() takes only the enumerators above
}

}  // namespace holdfast::edge
