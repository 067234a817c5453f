// The planner and its safety governor (DESIGN.md, "The central invariant: no global blackhole").
//
// MakePlan() is a pure, deterministic function: from the config, the nodes' latest health
// reports, the operator's intents, the previous plan and the time, it computes what every POP
// announces for every prefix (ANNOUNCED, DRAINING, WITHDRAWN) and what every service name
// answers, each with its reason. Health decides *which* POPs serve; the governor decides *how
// many may stop*:
//   - floor: at least max(min_pops, ceil(min_fraction * eligible)) POPs announce each prefix and
//     answer for each service name; when health says fewer, the best-ranked are kept;
//   - rate: at most safety.withdrawal_rate.max_withdrawals health-driven withdrawals per window;
//   - correlation: when more than safety.correlated_failure.fraction of the POPs turn unhealthy
//     within its window, health-driven withdrawals freeze until an operator acknowledges or
//     health recovers;
//   - hysteresis: withdraw after safety.health.withdraw_after unhealthy plans in a row, return
//     after restore_after healthy ones;
//   - attribution: a POP whose listeners are down is broken and goes; POPs that serve but cannot
//     reach their backends, when most do, see a shared fault and keep announcing;
//   - fate sharing: a POP with no fresh report of a node able to serve is not counted as
//     announcing, whatever the plan says; fresh is judged by when the report was received
//     (received_at, the control plane's clock), never by the node's clock; able means its
//     listeners are up, it is not draining, and it has a BGP session established: a POP no
//     router hears is counted by no floor and DNS does not hand out its VIPs (unless the floor
//     needs them);
//   - DNS agrees with BGP: a de-preferred POP answers with on_unhealthy.dns_weight_fraction of
//     its weight;
//   - operator intents pass through the same floor, and are refused unless they break glass.
// The governor's memory (streaks, recent withdrawals, the freeze) travels in the plan itself.
#ifndef HOLDFAST_POLICY_PLAN_PLANNER_H_
#define HOLDFAST_POLICY_PLAN_PLANNER_H_

#include <vector>

#include "absl/time/time.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/plan.pb.h"

namespace holdfast::policy {

struct PlanInput {
  // A config that validated (LoadAndValidate without errors). Not owned; must outlive the call.
  const v1::Config* config = nullptr;
  // Health reports, each naming its node and POP (the caller vouches for both: the control
  // plane sets them from the sender's certificate and the config). For each node the newest by
  // received_at counts, and it is fresh while `now - received_at <= safety.health.stale_after`;
  // the node's own `at` is never read. Reports without received_at, of unknown nodes, or naming
  // a POP the config does not give their node are ignored.
  std::vector<v1::HealthReport> reports;
  // The operator intents in force, applied in order.
  std::vector<v1::OperatorIntent> intents;
  // The plan before this one, or null for the first.
  const v1::Plan* previous = nullptr;
  absl::Time now;
  // Since when the caller has been receiving reports (the control plane's start). Until
  // stale_after has passed since then, a POP without a fresh report is unknown, not stale: its
  // nodes may not have had the time to report. An unknown POP keeps what the previous plan gave
  // it, counts for no failure rule (correlated failure, shared fault) and none of its plans
  // count towards withdraw_after or restore_after. InfinitePast: no such window.
  absl::Time observing_since = absl::InfinitePast();
};

struct PlannerOptions {
  // Off, health acts alone: every unhealthy POP is withdrawn at once and intents are applied
  // unchecked. Only for the simulation that shows what the governor prevents.
  bool governor = true;
};

v1::Plan MakePlan(const PlanInput& input, const PlannerOptions& options = {});

// Whether node report `next` says something `last` did not that MakePlan acts on: listeners up
// or down, draining, a cluster's healthy or total endpoints, a BGP session's state. The time and
// the load figures do not count. The edge reports at once on such a change; the control plane
// plans at once on one.
bool ReportChanged(const v1::HealthReport& last, const v1::HealthReport& next);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_PLAN_PLANNER_H_
