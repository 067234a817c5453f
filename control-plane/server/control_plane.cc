// Construction from the store, and the config in force.
#include "control-plane/server/control_plane.h"

#include <utility>

#include "google/protobuf/util/time_util.h"
#include "policy/bundle.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {

using google::protobuf::util::TimeUtil;

ControlPlane::ControlPlane(std::unique_ptr<Store> store, Clock clock)
    : store_(std::move(store)), clock_(std::move(clock)), started_(clock_()) {
  if (auto current = store_->Current(); current.ok() && current->has_value()) {
    version_ = static_cast<uint64_t>((*current)->number);
    if (!bundle_.ParseFromString((*current)->content)) {
      spdlog::error("event=control.store_corrupt version={} reason=\"bundle does not parse\"",
                    version_);
    }
  } else if (!current.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", current.status().ToString());
  }
  LoadConfigLocked();
  if (auto edges = store_->Edges(); edges.ok()) {
    for (EdgeRecord& e : *edges) nodes_[e.node].record = std::move(e);
  }
  RestoreIntentsLocked();
  RestorePlanLocked();
  RestoreRolloutLocked();
}

void ControlPlane::RestoreIntentsLocked() {
  // The intents in force survive restarts: a drained POP must not come back because the
  // control plane did.
  absl::StatusOr<std::vector<IntentRecord>> intents = store_->Intents();
  if (!intents.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", intents.status().ToString());
    return;
  }
  for (const IntentRecord& r : *intents) {
    v1::OperatorIntent intent;
    if (!intent.ParseFromString(r.intent)) {
      spdlog::error("event=control.store_corrupt intent={} reason=\"intent does not parse\"", r.id);
      continue;
    }
    intents_[r.id] = std::move(intent);
  }
}

void ControlPlane::RestorePlanLocked() {
  // The last plan carries the governor's memory (streaks, the rate limit's recent withdrawals,
  // a freeze): without it, a restart of the control plane would reset the very limits that keep
  // withdrawals slow. It is the `previous` of the next plan; the next plan is pushed as new.
  absl::StatusOr<std::optional<std::string>> saved = store_->Plan();
  if (!saved.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", saved.status().ToString());
    return;
  }
  if (!saved->has_value()) return;
  v1::Plan plan;
  if (!plan.ParseFromString(**saved)) {
    spdlog::error("event=control.store_corrupt reason=\"plan does not parse\"");
    return;
  }
  spdlog::info("event=control.plan_restored at={} withdrawals={} frozen={}",
               TimeUtil::ToString(plan.at()), plan.withdrawals_size(), plan.frozen());
  plan_ = std::move(plan);
}

void ControlPlane::RestoreRolloutLocked() {
  // A rollout under way goes on where it was: its waves and baseline are in the record.
  absl::StatusOr<std::optional<std::string>> saved = store_->Rollout();
  if (!saved.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", saved.status().ToString());
    return;
  }
  if (!saved->has_value()) return;
  v1::RolloutStatus r;
  if (!r.ParseFromString(**saved)) {
    spdlog::error("event=control.store_corrupt reason=\"rollout does not parse\"");
    return;
  }
  // Not the version in force any more, or the previous one is gone: there is no rollout to
  // continue.
  bool resumable = false;
  if (r.state() == v1::RolloutStatus::RUNNING) {
    absl::StatusOr<ConfigVersion> previous =
        store_->Version(static_cast<int64_t>(r.previous_version()));
    resumable = r.target_version() == version_ && previous.ok() &&
                previous_bundle_.ParseFromString(previous->content);
  }
  const absl::Time now = clock_();
  RunRolloutLocked(rollout_.Resume(std::move(r), resumable, now), now);
  if (rollout_.running()) {
    const v1::RolloutStatus& resumed = *rollout_.status();
    spdlog::info("event=control.rollout_resumed target={} previous={} wave={}",
                 resumed.target_version(), resumed.previous_version(),
                 resumed.waves(static_cast<int>(resumed.current_wave())).name());
  }
}

void ControlPlane::LoadConfigLocked() {
  if (version_ == 0) return;
  policy::ValidateOptions options;
  options.now = clock_();
  policy::LoadedConfig loaded = policy::LoadBundle(bundle_, options);
  if (policy::HasErrors(loaded.findings)) {
    // Stored versions validated when they were applied; a rule added since may refuse one.
    // The plan then stays what it was, and says so in the log rather than guessing.
    spdlog::error("event=control.config_unloadable version={} reason=\"{}\"", version_,
                  policy::SummarizeErrors(loaded.findings));
    config_ = nullptr;
    return;
  }
  config_ = std::make_shared<const v1::Config>(std::move(loaded.config));
}

}  // namespace holdfast::control
