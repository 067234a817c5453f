// Health scenarios: the reports a described disaster would produce, and the plans the planner
// makes under it. Pure: the time comes in as an argument.
#ifndef HOLDFAST_POLICY_PLAN_SCENARIO_H_
#define HOLDFAST_POLICY_PLAN_SCENARIO_H_

#include <vector>

#include "absl/time/time.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/plan.pb.h"
#include "holdfast/v1/scenario.pb.h"
#include "policy/config/source_map.h"
#include "policy/finding.h"
#include "policy/plan/planner.h"

namespace holdfast::policy {

// Findings for names in `scenario` that `config` does not have (HF2002), at their places.
std::vector<Finding> CheckScenario(const v1::Config& config, const v1::HealthScenario& scenario,
                                   const SourceMap& sources);

// The reports every node of `config` sends at `now` under `scenario`: stale nodes send none,
// the others report their listeners and one backend figure with their healthy fraction.
std::vector<v1::HealthReport> ScenarioReports(const v1::Config& config,
                                              const v1::HealthScenario& scenario, absl::Time now);

// The plans of scenario.steps() steps from `start`, `interval` apart, each fed the one before.
std::vector<v1::Plan> RunScenario(const v1::Config& config, const v1::HealthScenario& scenario,
                                  absl::Time start, const PlannerOptions& options = {});

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_PLAN_SCENARIO_H_
