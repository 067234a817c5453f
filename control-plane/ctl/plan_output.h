// How holdfastctl prints a plan for people: per prefix, each POP's state and why; per service
// name, its answers; then alarms and what became of each operator intent.
#ifndef HOLDFAST_CONTROL_PLANE_CTL_PLAN_OUTPUT_H_
#define HOLDFAST_CONTROL_PLANE_CTL_PLAN_OUTPUT_H_

#include <string>

#include "holdfast/v1/plan.pb.h"

namespace holdfast::ctl {

std::string FormatPlanText(const v1::Plan& plan);

}  // namespace holdfast::ctl

#endif  // HOLDFAST_CONTROL_PLANE_CTL_PLAN_OUTPUT_H_
