// The staged rollout's driver: what the state machine (control-plane/rollout/rollout.h) is fed
// from the fleet, and its actions executed against the store and the streams.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/cat.h"
#include "control-plane/server/control_plane.h"
#include "google/protobuf/util/time_util.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {

using google::protobuf::util::TimeUtil;

uint64_t ControlPlane::VersionForLocked(const Node& node) const {
  return rollout_.VersionFor(PopOfLocked(node)).value_or(version_);
}

void ControlPlane::ResyncLocked() {
  for (auto& [name, node] : nodes_) {
    if (node.stream != nullptr && node.sent_version != VersionForLocked(node)) {
      SendCurrentLocked(node);
    }
  }
}

FleetView ControlPlane::FleetViewLocked() const {
  FleetView view;
  // Healthy and all endpoints by POP.
  std::map<std::string, std::pair<uint64_t, uint64_t>> endpoints;
  for (const auto& [name, node] : nodes_) {
    if (node.stream == nullptr) continue;
    const std::string pop = PopOfLocked(node);
    PopView& p = view.pops[pop];
    p.acked_versions.push_back(static_cast<uint64_t>(node.record.acked_version));
    // A report kept from before this process started is no evidence of health now.
    v1::HealthReport report;
    if (node.record.last_seen < started_ || node.record.report.empty() ||
        !report.ParseFromString(node.record.report)) {
      continue;
    }
    p.has_data = true;
    p.listeners_up = p.listeners_up || report.listeners_up();
    auto& [healthy, total] = endpoints[pop];
    for (const v1::ClusterHealth& c : report.clusters()) {
      healthy += c.healthy_endpoints();
      total += c.total_endpoints();
    }
  }
  for (const auto& [pop, counts] : endpoints) {
    const auto [healthy, total] = counts;
    if (total > 0) view.pops[pop].healthy_fraction = static_cast<double>(healthy) / total;
  }
  view.plan = plan_.has_value() ? &*plan_ : nullptr;
  return view;
}

void ControlPlane::RunRolloutLocked(const std::vector<RolloutAction>& actions, absl::Time now) {
  for (const RolloutAction& a : actions) {
    switch (a.kind) {
      case RolloutAction::Kind::kSave:
        SaveRolloutLocked();
        break;
      case RolloutAction::Kind::kStarted: {
        const v1::RolloutStatus& r = *rollout_.status();
        spdlog::info("event=control.rollout_started target={} previous={} waves={} bake_time={}",
                     r.target_version(), r.previous_version(), r.waves_size(),
                     TimeUtil::ToString(r.bake_time()));
        break;
      }
      case RolloutAction::Kind::kPush: {
        std::string pops;
        for (const std::string& p : a.pops) Append(pops, pops.empty() ? "" : ",", p);
        spdlog::info("event=control.rollout_wave_started target={} wave={} pops={}", a.version,
                     a.wave, pops);
        ResyncLocked();
        break;
      }
      case RolloutAction::Kind::kPushAll:
        for (auto& [name, node] : nodes_) {
          if (node.stream != nullptr) SendCurrentLocked(node);
        }
        break;
      case RolloutAction::Kind::kWaveDone:
        spdlog::info("event=control.rollout_wave_done target={} wave={}", a.version, a.wave);
        break;
      case RolloutAction::Kind::kDone:
        spdlog::info("event=control.rollout_completed target={}", a.version);
        break;
      case RolloutAction::Kind::kRollBack:
        RollBackRolloutLocked(a.version, a.reason, now);
        break;
    }
  }
}

void ControlPlane::RollBackRolloutLocked(uint64_t previous, const std::string& reason,
                                         absl::Time now) {
  const Actor system{"holdfast-control", "system"};
  const uint64_t target = rollout_.status()->target_version();
  absl::StatusOr<int64_t> stored = store_->Rollback(static_cast<int64_t>(previous), system, reason,
                                                    static_cast<int64_t>(version_), now);
  if (!stored.ok()) {
    // The rollout stays under way (the unreached POPs keep the previous version); the next
    // check tries again.
    spdlog::error("event=control.rollout_rollback_failed target={} reason=\"{}\" error=\"{}\"",
                  target, reason, stored.status().ToString());
    return;
  }
  const std::string wave =
      rollout_.status()->waves(static_cast<int>(rollout_.status()->current_wave())).name();
  const std::vector<RolloutAction> actions =
      rollout_.RollbackStored(reason, static_cast<uint64_t>(*stored), now);
  spdlog::warn(
      "event=control.rollout_rolled_back target={} version={} restores={} wave={} reason=\"{}\"",
      target, *stored, previous, wave, reason);
  RunRolloutLocked(actions, now);
  bundle_ = previous_bundle_;
  // To every node at once: the previous version is the known good one.
  (void)StoreAndPushLocked(stored);
}

void ControlPlane::SaveRolloutLocked() {
  if (absl::Status s = store_->SaveRollout(rollout_.status()->SerializeAsString()); !s.ok()) {
    spdlog::error("event=control.store_failed what=rollout error=\"{}\"", s.ToString());
  }
}

}  // namespace holdfast::control
