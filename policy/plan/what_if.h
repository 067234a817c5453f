// What-if checks for CI (`holdfastctl validate --what-if`): the planner run offline under
// failure scenarios, to find a config that cannot keep its floors through a failure it should
// survive. Pure: no clock (a fixed start time), no I/O.
#ifndef HOLDFAST_POLICY_PLAN_WHAT_IF_H_
#define HOLDFAST_POLICY_PLAN_WHAT_IF_H_

#include <string>
#include <vector>

#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/scenario.pb.h"
#include "policy/config/source_map.h"
#include "policy/finding.h"

namespace holdfast::policy {

struct FailureScenario {
  std::string name;  // "POP ams down", "region eu-west down", ...
  v1::HealthScenario scenario;
  // The loss of a whole region: a floor broken here is a warning (HF6002), not an error.
  bool region = false;
};

// Each POP down, each region down, each node down, every cluster's endpoints failing
// everywhere, and all health checks failing at once; each run long enough for hysteresis.
std::vector<FailureScenario> FailureScenarios(const v1::Config& config);

// HF6001 for a scenario that leaves a prefix or service name below its floor (or with no
// announcer or answer at all), HF6002 for one region's loss doing so; one finding per prefix
// or service name and scenario, at the prefix or service name. `config` must have validated.
std::vector<Finding> WhatIf(const v1::Config& config, const SourceMap& sources);

}  // namespace holdfast::policy

#endif  // HOLDFAST_POLICY_PLAN_WHAT_IF_H_
