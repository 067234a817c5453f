// Planning (policy/plan/planner.h) and sending the plan to the edges when a decision changed.
#include <string>
#include <utility>

#include "common/cat.h"
#include "control-plane/server/control_plane.h"
#include "policy/plan/planner.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {

void ControlPlane::Replan() {
  std::lock_guard lock(mu_);
  if (config_ == nullptr) return;
  AdoptPlanLocked(MakePlanLocked(nullptr));
  // The rollout judges by the plan just adopted (its freeze) and the reports it was made from.
  if (rollout_.running()) {
    const absl::Time now = clock_();
    RunRolloutLocked(rollout_.OnTick(FleetViewLocked(), now), now);
  }
}

v1::Plan ControlPlane::MakePlanLocked(const v1::OperatorIntent* extra) {
  policy::PlanInput input;
  input.config = config_.get();
  for (const auto& [name, node] : nodes_) {
    v1::HealthReport report;
    if (!node.record.report.empty() && report.ParseFromString(node.record.report)) {
      // The planner believes node and POP as given: they are the stream's and the config's in
      // force now (a config may have moved the node since it reported).
      report.set_node(name);
      report.set_pop(PopOfLocked(node));
      input.reports.push_back(std::move(report));
    }
  }
  for (const auto& [id, intent] : intents_) input.intents.push_back(intent);
  if (extra != nullptr) input.intents.push_back(*extra);
  input.previous = plan_.has_value() ? &*plan_ : nullptr;
  input.now = clock_();
  input.observing_since = started_;
  return policy::MakePlan(input, planner_options_);
}

void ControlPlane::AdoptPlanLocked(v1::Plan plan) {
  // What the edges act on: each POP's state per prefix, and the answers' weights.
  std::string decisions;
  for (const v1::Plan::PrefixPlan& p : plan.prefixes()) {
    for (const v1::Plan::PopDecision& d : p.pops()) {
      Append(decisions, p.prefix(), "/", d.pop(), "=", static_cast<int>(d.state()),
             d.depreferred() ? "d" : "", d.as_path_prepend(), ";");
    }
  }
  for (const v1::Plan::ServicePlan& sp : plan.services()) {
    for (const v1::Plan::Answer& a : sp.answers()) {
      Append(decisions, sp.name(), "/", a.address(), "=", a.weight(), ";");
    }
  }
  const bool changed = decisions != plan_decisions_;
  if (changed && !plan_decisions_.empty()) {
    spdlog::info("event=control.plan_changed prefixes={} services={} alarms={}",
                 plan.prefixes_size(), plan.services_size(), plan.alarms_size());
  }
  for (const v1::Plan::Alarm& alarm : plan.alarms()) {
    if (changed)
      spdlog::warn("event=control.plan_alarm kind={} message=\"{}\"", alarm.kind(),
                   alarm.message());
  }
  plan_ = std::move(plan);
  plan_decisions_ = std::move(decisions);
  if (absl::Status s = store_->SavePlan(plan_->SerializeAsString()); !s.ok()) {
    spdlog::error("event=control.store_failed what=plan error=\"{}\"", s.ToString());
  }
  if (!changed) return;
  for (auto& [name, node] : nodes_) {
    if (node.stream != nullptr) SendPlanLocked(node);
  }
}

void ControlPlane::SendPlanLocked(Node& node) {
  v1::ControlMessage message;
  *message.mutable_plan() = *plan_;
  node.stream->Send(message);
}

}  // namespace holdfast::control
