// The health report an edge node sends the control plane: what its balancers see, read from
// the one health table they use (SharedState::health), per cluster of the config it serves.
#ifndef HOLDFAST_EDGE_AGENT_REPORT_H_
#define HOLDFAST_EDGE_AGENT_REPORT_H_

#include <vector>

#include "absl/time/time.h"
#include "bfd/speaker/speaker.h"
#include "bgp/speaker/speaker.h"
#include "edge/server/worker.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::edge {

// Healthy endpoints are those that passed their checks (or have none) and are not ejected.
// `bgp`: the node's BGP sessions (bgp::Speaker::Status()), empty without BGP; `bfd`: its BFD
// sessions (bfd::Speaker::Status()), each reported with the BGP session of its peer. Thread-safe:
// reads immutable snapshots and relaxed counters.
v1::HealthReport MakeReport(const SharedState& shared, absl::Time now,
                            const std::vector<bgp::PeerStatus>& bgp,
                            const std::vector<bfd::PeerStatus>& bfd);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_AGENT_REPORT_H_
