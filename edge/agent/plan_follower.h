// The plan follower: what a node announces and answers under the control plane's plan. The
// edge's one withdrawal policy beside the planner's decisions: a node follows the plan for its
// own POP and otherwise announces and answers as configured.
#ifndef HOLDFAST_EDGE_AGENT_PLAN_FOLLOWER_H_
#define HOLDFAST_EDGE_AGENT_PLAN_FOLLOWER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "edge/config/edge_config.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::edge {

// What `config` announces and answers under the control plane's announcement `plan`:
//   - BGP: for this node's POP, a prefix the plan WITHDRAWN is not announced, a DRAINING one
//     carries GRACEFUL_SHUTDOWN (65535:0, RFC 8326), a depreferred one the plan's prepends;
//     prefixes the plan does not name are announced as configured;
//   - DNS: service names answer with the plan's weights (ServiceStateFromPlan,
//     edge/config/dns_config.h).
// InvalidArgument when the plan does not fit the config (the DNS side refuses it).
struct Planned {
  std::shared_ptr<const dns::DnsData> dns;
  std::shared_ptr<const BgpConfig> bgp;
};
[[nodiscard]] absl::StatusOr<Planned> FollowPlan(const EdgeConfig& config, const v1::Plan& plan);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_AGENT_PLAN_FOLLOWER_H_
