#include "control-plane/rollout/rollout.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/cat.h"
#include "common/proto_time.h"

namespace holdfast::control {
namespace {

using Kind = RolloutAction::Kind;

bool Contains(const v1::RolloutWaveStatus& wave, const std::string& pop) {
  return std::find(wave.pops().begin(), wave.pops().end(), pop) != wave.pops().end();
}

// "0.75" for the reasons.
std::string Fraction(double f) { return absl::StrFormat("%.2f", f); }

RolloutAction Save() { return RolloutAction{.kind = Kind::kSave}; }

}  // namespace

std::vector<v1::RolloutWaveStatus> ResolveWaves(const v1::Config& config) {
  std::vector<std::string> all;
  for (const v1::Pop& p : config.pops()) all.push_back(p.name());
  std::vector<v1::RolloutWaveStatus> waves;
  if (all.empty()) return waves;
  auto add = [&](const std::string& name, const std::vector<std::string>& pops) {
    v1::RolloutWaveStatus w;
    w.set_name(name);
    for (const std::string& p : pops) w.add_pops(p);
    w.set_state("pending");
    waves.push_back(std::move(w));
  };
  const v1::Rollout& rollout = config.safety().rollout();
  if (rollout.waves().empty()) {
    add("canary", {all.front()});
    add("all", all);
    return waves;
  }
  std::set<std::string> covered;
  for (const v1::RolloutWave& w : rollout.waves()) {
    std::vector<std::string> pops(w.pops().begin(), w.pops().end());
    if (pops.empty()) {
      const size_t n = std::clamp<size_t>(
          static_cast<size_t>(std::ceil(w.fraction() * static_cast<double>(all.size()) - 1e-9)), 1,
          all.size());
      pops.assign(all.begin(), all.begin() + static_cast<long>(n));
    }
    covered.insert(pops.begin(), pops.end());
    add(w.name(), pops);
  }
  std::vector<std::string> rest;
  for (const std::string& p : all) {
    if (!covered.contains(p)) rest.push_back(p);
  }
  if (!rest.empty()) add("remaining", rest);
  return waves;
}

std::vector<RolloutAction> Rollout::Resume(v1::RolloutStatus saved, bool resumable,
                                           absl::Time now) {
  status_ = std::move(saved);
  regressed_since_.clear();
  if (!running()) return {};
  if (!resumable) {
    status_->set_state(v1::RolloutStatus::SUPERSEDED);
    status_->set_outcome("the control plane restarted and could not resume it");
    return {Save()};
  }
  *CurrentWave().mutable_last_ack() = ToProtoTimestamp(now);
  return {};
}

absl::Status Rollout::CanStart(bool all_at_once) const {
  if (!running() || all_at_once) return absl::OkStatus();
  const v1::RolloutWaveStatus& wave = status_->waves(static_cast<int>(status_->current_wave()));
  return absl::FailedPreconditionError(
      Cat("version ", status_->target_version(), " is still rolling out (wave ", wave.name(), ", ",
          wave.state(), "); wait for it, roll it back, or apply --all-at-once"));
}

std::vector<RolloutAction> Rollout::Start(const StartInput& input, absl::Time now) {
  std::vector<RolloutAction> actions;
  if (input.all_at_once && running()) {
    status_->set_state(v1::RolloutStatus::SUPERSEDED);
    status_->set_outcome(
        Cat("version ", input.target, " was applied all at once by ", input.applied_by));
    *status_->mutable_finished() = ToProtoTimestamp(now);
    actions.push_back(Save());
  }
  std::vector<v1::RolloutWaveStatus> waves;
  if (input.config != nullptr) waves = ResolveWaves(*input.config);
  // Nothing to stage when the first wave is the whole fleet (a fleet of one POP): there is no
  // one to protect from the canary. Nor for the first version: there is nothing to keep.
  if (input.all_at_once || input.previous == 0 || waves.empty() ||
      waves.front().pops_size() >= input.config->pops_size()) {
    actions.push_back(RolloutAction{.kind = Kind::kPushAll, .version = input.target});
    return actions;
  }
  v1::RolloutStatus r;
  r.set_state(v1::RolloutStatus::RUNNING);
  r.set_target_version(input.target);
  r.set_previous_version(input.previous);
  for (v1::RolloutWaveStatus& w : waves) *r.add_waves() = std::move(w);
  *r.mutable_bake_time() = input.config->safety().rollout().bake_time();
  *r.mutable_started() = ToProtoTimestamp(now);
  for (const v1::Pop& p : input.config->pops()) {
    v1::PopBaseline* b = r.add_baseline();
    b->set_pop(p.name());
    const auto it = input.fleet.pops.find(p.name());
    const PopView view = it == input.fleet.pops.end() ? PopView{} : it->second;
    b->set_has_data(view.has_data);
    b->set_healthy_fraction(view.healthy_fraction);
    b->set_listeners_up(view.listeners_up);
  }
  status_ = std::move(r);
  regressed_since_.clear();
  actions.push_back(RolloutAction{.kind = Kind::kStarted, .version = input.target});
  for (RolloutAction& a : StartWave(0, input.fleet, now)) actions.push_back(std::move(a));
  return actions;
}

void Rollout::OnAck(const std::string& pop, uint64_t version, absl::Time now) {
  if (!running() || version != status_->target_version()) return;
  // The bake of the wave under way counts from its last ACK.
  v1::RolloutWaveStatus& wave = CurrentWave();
  if (Contains(wave, pop)) *wave.mutable_last_ack() = ToProtoTimestamp(now);
}

std::vector<RolloutAction> Rollout::OnNack(const std::string& node, const std::string& pop,
                                           uint64_t version, const std::string& reason,
                                           absl::Time /*now*/) {
  if (!running() || version != status_->target_version()) return {};
  return {RolloutAction{
      .kind = Kind::kRollBack,
      .version = status_->previous_version(),
      .reason = Cat("node ", node, " (POP ", pop, ") refused version ", version, ": ", reason)}};
}

std::vector<RolloutAction> Rollout::OnTick(const FleetView& fleet, absl::Time now) {
  if (!running()) return {};
  bool suspect = false;
  if (std::optional<std::string> why = RollbackCause(fleet, now, suspect); why.has_value()) {
    return {RolloutAction{
        .kind = Kind::kRollBack, .version = status_->previous_version(), .reason = *why}};
  }
  const bool filled = FillBaselines(fleet);
  if (CurrentWave().state() == "awaiting_health") {
    std::vector<RolloutAction> actions = StartWave(status_->current_wave(), fleet, now);
    if (actions.empty() && filled) actions.push_back(Save());
    return actions;
  }
  std::vector<RolloutAction> actions = AdvanceWave(fleet, now, suspect);
  if (filled && actions.empty()) actions.push_back(Save());
  return actions;
}

bool Rollout::FillBaselines(const FleetView& fleet) {
  bool filled = false;
  for (v1::PopBaseline& base : *status_->mutable_baseline()) {
    if (base.has_data() || Reached(base.pop())) continue;
    const auto it = fleet.pops.find(base.pop());
    if (it == fleet.pops.end() || !it->second.has_data) continue;
    base.set_has_data(true);
    base.set_healthy_fraction(it->second.healthy_fraction);
    base.set_listeners_up(it->second.listeners_up);
    filled = true;
  }
  return filled;
}

std::vector<std::string> Rollout::WithoutEvidence(const v1::RolloutWaveStatus& wave,
                                                  const FleetView& fleet) const {
  std::vector<std::string> out;
  for (const v1::PopBaseline& base : status_->baseline()) {
    if (base.has_data() || !Contains(wave, base.pop()) || Reached(base.pop())) continue;
    // A POP with no node connected has no one to hear from, and no one to push to.
    if (fleet.pops.contains(base.pop())) out.push_back(base.pop());
  }
  return out;
}

std::vector<RolloutAction> Rollout::RollbackStored(const std::string& reason, uint64_t stored,
                                                   absl::Time now) {
  if (!running()) return {};
  status_->set_state(v1::RolloutStatus::ROLLED_BACK);
  status_->set_outcome(reason);
  status_->set_rollback_version(stored);
  *status_->mutable_finished() = ToProtoTimestamp(now);
  return {Save()};
}

std::vector<RolloutAction> Rollout::OperatorRollback(const std::string& by, uint64_t stored,
                                                     uint64_t restores, const std::string& reason,
                                                     absl::Time now) {
  if (!running()) return {};
  return RollbackStored(
      Cat("rolled back by ", by, " as version ", stored, " (restores ", restores, "): ", reason),
      stored, now);
}

std::optional<uint64_t> Rollout::VersionFor(const std::string& pop) const {
  if (!running()) return std::nullopt;
  // Not reached yet (or a node of no known POP): it keeps what the fleet ran before.
  return Reached(pop) ? status_->target_version() : status_->previous_version();
}

v1::RolloutWaveStatus& Rollout::CurrentWave() {
  return *status_->mutable_waves(static_cast<int>(status_->current_wave()));
}

bool Rollout::Reached(const std::string& pop) const {
  for (const v1::RolloutWaveStatus& wave : status_->waves()) {
    if (wave.state() != "pending" && wave.state() != "awaiting_health" && Contains(wave, pop)) {
      return true;
    }
  }
  return false;
}

std::vector<RolloutAction> Rollout::StartWave(size_t index, const FleetView& fleet,
                                              absl::Time now) {
  status_->set_current_wave(static_cast<uint32_t>(index));
  v1::RolloutWaveStatus& wave = CurrentWave();
  // Unknown is not unhealthy, nor is it a baseline: a POP whose connected nodes have not
  // reported yet (the control plane just started) gets the target once they have, so that a
  // regression can be seen; after kEvidenceWait, without it.
  if (wave.state() != "awaiting_health") {
    wave.set_state("awaiting_health");
    *wave.mutable_started() = ToProtoTimestamp(now);
  }
  const std::vector<std::string> unknown = WithoutEvidence(wave, fleet);
  const bool waited = now - FromProtoTime(wave.started()) >= kEvidenceWait;
  if (!unknown.empty() && !waited) {
    const std::string why = Cat("no health report yet from POP ", absl::StrJoin(unknown, ", "));
    if (wave.waiting_for() == why) return {};
    wave.set_waiting_for(why);
    return {Save()};
  }
  wave.set_waiting_for(unknown.empty()
                           ? ""
                           : Cat("pushed without a baseline for POP ", absl::StrJoin(unknown, ", "),
                                 " after ", absl::FormatDuration(kEvidenceWait)));
  wave.set_state("waiting");
  *wave.mutable_started() = ToProtoTimestamp(now);
  *wave.mutable_last_ack() = ToProtoTimestamp(now);
  return {Save(), RolloutAction{.kind = Kind::kPush,
                                .version = status_->target_version(),
                                .pops = {wave.pops().begin(), wave.pops().end()},
                                .wave = wave.name()}};
}

std::optional<std::string> Rollout::RollbackCause(const FleetView& fleet, absl::Time now,
                                                  bool& suspect) {
  // DESIGN.md rule 3: a correlated failure that begins while a change is rolling out may be the
  // change; take it back. A freeze already in force at the apply is not this change's doing (and
  // the change may be the fix).
  const v1::Plan* plan = fleet.plan;
  if (plan != nullptr && plan->frozen() && !plan->freeze_acknowledged() &&
      FromProtoTime(plan->freeze_since()) >= FromProtoTime(status_->started())) {
    for (const v1::Plan::Alarm& alarm : plan->alarms()) {
      if (alarm.kind() == "correlated_failure") {
        return Cat("correlated failure during the rollout: ", alarm.message());
      }
    }
  }
  // Health of every POP the target reached, against the baseline.
  for (const v1::PopBaseline& base : status_->baseline()) {
    if (!Reached(base.pop()) || !base.has_data()) continue;
    const auto it = fleet.pops.find(base.pop());
    const PopView h = it == fleet.pops.end() ? PopView{} : it->second;
    std::string why;
    if (h.has_data && base.listeners_up() && !h.listeners_up) {
      why = Cat("POP ", base.pop(), " regressed: its listeners went down");
    } else if (h.has_data &&
               base.healthy_fraction() - h.healthy_fraction > kRegressionTolerance + 1e-9) {
      why = Cat("POP ", base.pop(), " regressed: healthy endpoint fraction ",
                Fraction(base.healthy_fraction()), " -> ", Fraction(h.healthy_fraction));
    }
    if (why.empty()) {
      regressed_since_.erase(base.pop());
      continue;
    }
    const absl::Time since = regressed_since_.try_emplace(base.pop(), now).first->second;
    if (now - since >= kRegressionHold) return why;
    suspect = true;
  }
  return std::nullopt;
}

std::vector<RolloutAction> Rollout::AdvanceWave(const FleetView& fleet, absl::Time now,
                                                bool suspect) {
  const size_t index = status_->current_wave();
  v1::RolloutWaveStatus& wave = CurrentWave();
  bool acked = true;
  for (const auto& [pop, view] : fleet.pops) {
    if (!Contains(wave, pop)) continue;
    for (const uint64_t v : view.acked_versions) acked = acked && v == status_->target_version();
  }
  if (!acked) {
    wave.set_state("waiting");
    wave.clear_bake_until();
    return {};
  }
  const absl::Time bake_until =
      std::max(FromProtoTime(wave.started()), FromProtoTime(wave.last_ack())) +
      FromProtoDuration(status_->bake_time());
  *wave.mutable_bake_until() = ToProtoTimestamp(bake_until);
  const bool began_baking = wave.state() != "baking";
  wave.set_state("baking");
  // A POP that looks worse than before, not for long enough to roll back, holds the wave.
  if (now < bake_until || suspect) {
    if (began_baking) return {Save()};
    return {};
  }
  // Done at once: the saves below cover the bake.
  std::vector<RolloutAction> actions;
  wave.set_state("done");
  *wave.mutable_done() = ToProtoTimestamp(now);
  actions.push_back(RolloutAction{
      .kind = Kind::kWaveDone, .version = status_->target_version(), .wave = wave.name()});
  if (index + 1 < static_cast<size_t>(status_->waves_size())) {
    for (RolloutAction& a : StartWave(index + 1, fleet, now)) actions.push_back(std::move(a));
    return actions;
  }
  status_->set_state(v1::RolloutStatus::COMPLETED);
  status_->set_outcome(
      Cat("every wave done: version ", status_->target_version(), " is in force everywhere"));
  *status_->mutable_finished() = ToProtoTimestamp(now);
  actions.push_back(RolloutAction{
      .kind = Kind::kDone, .version = status_->target_version(), .reason = status_->outcome()});
  actions.push_back(Save());
  return actions;
}

}  // namespace holdfast::control
