// The health report an edge node sends the control plane: what its balancers see, read from
// the one health table they use (SharedState::health), per cluster of the config it serves.
#ifndef HOLDFAST_EDGE_AGENT_REPORT_H_
#define HOLDFAST_EDGE_AGENT_REPORT_H_

#include "absl/time/time.h"
#include "edge/server/worker.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::edge {

// Healthy endpoints are those that passed their checks (or have none) and are not ejected.
// Thread-safe: reads immutable snapshots.
v1::HealthReport MakeReport(const SharedState& shared, absl::Time now);

}  // namespace holdfast::edge

#endif  // HOLDFAST_EDGE_AGENT_REPORT_H_
