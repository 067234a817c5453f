#include "control-plane/server/control_plane.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/cat.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"
#include "policy/bundle.h"
#include "policy/diff.h"
#include "policy/plan/planner.h"
#include "policy/validate/validator.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

void AddFindings(const std::vector<policy::Finding>& findings,
                 google::protobuf::RepeatedPtrField<v1::Finding>& out) {
  for (const policy::Finding& f : findings) {
    v1::Finding* p = out.Add();
    p->set_severity(f.severity == policy::Severity::kError ? "error" : "warning");
    p->set_code(std::string(policy::Info(f.code).id));
    p->set_location(Cat(f.where.file, ":", f.where.line, ":", f.where.column));
    p->set_message(f.message);
  }
}

v1::VersionInfo Info(const ConfigVersion& v) {
  v1::VersionInfo info;
  info.set_version(static_cast<uint64_t>(v.number));
  info.set_author(v.author);
  info.set_reason(v.reason);
  *info.mutable_created() = ToProto(v.created);
  info.set_parent(static_cast<uint64_t>(v.parent));
  info.set_restores(static_cast<uint64_t>(v.restores));
  return info;
}

// "drain p2 prefix web-v4 (break-glass): maintenance", for the audit log and the logs.
std::string Describe(const v1::OperatorIntent& intent) {
  std::string out;
  switch (intent.action()) {
    case v1::OperatorIntent::ACTION_DRAIN:
      out = Cat("drain ", intent.pop());
      break;
    case v1::OperatorIntent::ACTION_WITHDRAW:
      out = Cat("withdraw ", intent.pop());
      break;
    case v1::OperatorIntent::ACTION_ACK_FREEZE:
      out = "ack-freeze";
      break;
    default:
      out = Cat("action ", static_cast<int>(intent.action()));
  }
  if (!intent.prefix().empty()) Append(out, " prefix ", intent.prefix());
  if (intent.break_glass()) Append(out, " (break-glass)");
  Append(out, ": ", intent.reason());
  return out;
}

// Checks an intent against the config in force; the error names what is wrong, as the operator
// typed it, so the CLI can print it as it is.
absl::Status CheckIntent(const v1::OperatorIntent& intent, const v1::Config& config,
                         uint64_t version) {
  const v1::OperatorIntent::Action action = intent.action();
  if (action != v1::OperatorIntent::ACTION_DRAIN && action != v1::OperatorIntent::ACTION_WITHDRAW &&
      action != v1::OperatorIntent::ACTION_ACK_FREEZE) {
    return absl::InvalidArgumentError(Cat("intent: unknown action ", static_cast<int>(action),
                                          " (expected drain, withdraw or ack-freeze)"));
  }
  // A reason is what the audit log and the plan show the next person on call; break-glass
  // without one would be an unexplained hole in the floor.
  if (intent.reason().empty()) {
    return absl::InvalidArgumentError(
        intent.break_glass()
            ? "intent: break-glass needs a reason: it is recorded in the plan and the audit log"
            : "intent: a reason is required");
  }
  if (action == v1::OperatorIntent::ACTION_ACK_FREEZE) {
    if (!intent.pop().empty() || !intent.prefix().empty()) {
      return absl::InvalidArgumentError(
          "intent: ack-freeze is fleet-wide: it takes no POP and no prefix");
    }
    return absl::OkStatus();
  }
  if (intent.pop().empty()) return absl::InvalidArgumentError("intent: a POP is required");
  const v1::Pop* pop = nullptr;
  std::string pops;
  for (const v1::Pop& p : config.pops()) {
    if (p.name() == intent.pop()) pop = &p;
    Append(pops, pops.empty() ? "" : ", ", p.name());
  }
  if (pop == nullptr) {
    return absl::InvalidArgumentError(Cat("intent: no POP named '", intent.pop(),
                                          "' in config version ", version, " (POPs: ", pops, ")"));
  }
  if (intent.prefix().empty()) return absl::OkStatus();
  std::string announced;
  for (const v1::Announcement& an : pop->announce()) {
    if (an.prefix() == intent.prefix()) return absl::OkStatus();
    Append(announced, announced.empty() ? "" : ", ", an.prefix());
  }
  bool exists = false;
  for (const v1::Prefix& p : config.prefixes()) exists = exists || p.name() == intent.prefix();
  if (!exists) {
    return absl::InvalidArgumentError(
        Cat("intent: no prefix named '", intent.prefix(), "' in config version ", version));
  }
  return absl::InvalidArgumentError(Cat("intent: POP ", intent.pop(), " does not announce prefix '",
                                        intent.prefix(), "' (it announces: ", announced, ")"));
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

// The waves of `config`'s safety.rollout resolved to POPs, in config order. A wave names its
// POPs, or takes the first ceil(fraction * POPs) of the fleet (at least one), counted
// cumulatively; POPs no wave reaches get a last wave of their own, so a rollout always ends with
// everyone on the target. Without waves: the first POP as the canary, then everyone.
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

bool Contains(const v1::RolloutWaveStatus& wave, const std::string& pop) {
  return std::find(wave.pops().begin(), wave.pops().end(), pop) != wave.pops().end();
}

// "0.75" for the logs and reasons.
std::string Fraction(double f) { return absl::StrFormat("%.2f", f); }

}  // namespace

ControlPlane::ControlPlane(std::unique_ptr<Store> store, Clock clock)
    : store_(std::move(store)), clock_(std::move(clock)) {
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
  // The intents in force survive restarts: a drained POP must not come back because the
  // control plane did.
  if (auto intents = store_->Intents(); intents.ok()) {
    for (const IntentRecord& r : *intents) {
      v1::OperatorIntent intent;
      if (!intent.ParseFromString(r.intent)) {
        spdlog::error("event=control.store_corrupt intent={} reason=\"intent does not parse\"",
                      r.id);
        continue;
      }
      intents_[r.id] = std::move(intent);
    }
  } else {
    spdlog::error("event=control.store_failed error=\"{}\"", intents.status().ToString());
  }
  // The last plan carries the governor's memory (streaks, the rate limit's recent withdrawals,
  // a freeze): without it, a restart of the control plane would reset the very limits that keep
  // withdrawals slow. It is the `previous` of the next plan; the next plan is pushed as new.
  if (absl::StatusOr<std::optional<std::string>> saved = store_->Plan(); !saved.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", saved.status().ToString());
  } else if (saved->has_value()) {
    v1::Plan plan;
    if (plan.ParseFromString(**saved)) {
      spdlog::info("event=control.plan_restored at={} withdrawals={} frozen={}",
                   TimeUtil::ToString(plan.at()), plan.withdrawals_size(), plan.frozen());
      plan_ = std::move(plan);
    } else {
      spdlog::error("event=control.store_corrupt reason=\"plan does not parse\"");
    }
  }
  // A rollout under way goes on where it was: its waves and baseline are in the record. The
  // wave under way bakes again from now, so nodes that have not reconnected yet are not taken
  // for absent ones and skipped.
  absl::StatusOr<std::optional<std::string>> rollout = store_->Rollout();
  if (!rollout.ok()) {
    spdlog::error("event=control.store_failed error=\"{}\"", rollout.status().ToString());
  } else if (rollout->has_value()) {
    v1::RolloutStatus r;
    if (!r.ParseFromString(**rollout)) {
      spdlog::error("event=control.store_corrupt reason=\"rollout does not parse\"");
    } else {
      rollout_ = std::move(r);
    }
  }
  if (RollingOutLocked()) {
    absl::StatusOr<ConfigVersion> previous =
        store_->Version(static_cast<int64_t>(rollout_->previous_version()));
    if (rollout_->target_version() != version_ || !previous.ok() ||
        !previous_bundle_.ParseFromString(previous->content)) {
      // Not the version in force any more, or the previous one is gone: there is no rollout to
      // continue, and guessing would send a version no one chose.
      rollout_->set_state(v1::RolloutStatus::SUPERSEDED);
      rollout_->set_outcome("the control plane restarted and could not resume it");
      SaveRolloutLocked();
    } else {
      previous_version_ = rollout_->previous_version();
      v1::RolloutWaveStatus& wave =
          *rollout_->mutable_waves(static_cast<int>(rollout_->current_wave()));
      *wave.mutable_last_ack() = ToProto(clock_());
      spdlog::info("event=control.rollout_resumed target={} previous={} wave={}",
                   rollout_->target_version(), previous_version_, wave.name());
    }
  }
}

absl::StatusOr<v1::PlanResponse> ControlPlane::Plan(const v1::ChangeRequest& request) {
  HF_RETURN_IF_ERROR(policy::CheckBundle(request.config()));
  policy::ValidateOptions options;
  options.now = clock_();
  const policy::LoadedConfig loaded = policy::LoadBundle(request.config(), options);
  v1::ConfigBundle in_force;
  uint64_t base;
  {
    std::lock_guard lock(mu_);
    in_force = bundle_;
    base = version_;
  }
  v1::PlanResponse response;
  response.set_base_version(base);
  response.set_valid(!policy::HasErrors(loaded.findings));
  AddFindings(loaded.findings, *response.mutable_findings());
  if (!response.valid()) return response;
  v1::Config old_config;
  if (base != 0) old_config = policy::LoadBundle(in_force, options).config;
  for (std::string& line : policy::DiffConfigs(old_config, loaded.config)) {
    response.add_diff(std::move(line));
  }
  return response;
}

absl::StatusOr<v1::ApplyResponse> ControlPlane::Apply(const v1::ChangeRequest& request,
                                                      const Actor& actor) {
  const absl::Time now = clock_();
  HF_RETURN_IF_ERROR(policy::CheckBundle(request.config()));
  policy::ValidateOptions options;
  options.now = now;
  const policy::LoadedConfig loaded = policy::LoadBundle(request.config(), options);
  if (policy::HasErrors(loaded.findings)) {
    return absl::InvalidArgumentError(policy::SummarizeErrors(loaded.findings));
  }
  std::lock_guard lock(mu_);
  // One rollout at a time: a second target would leave the fleet on three versions, and the
  // health baseline of the first would judge the second.
  if (RollingOutLocked() && !request.all_at_once()) {
    const v1::RolloutWaveStatus& wave = rollout_->waves(static_cast<int>(rollout_->current_wave()));
    return absl::FailedPreconditionError(
        Cat("version ", rollout_->target_version(), " is still rolling out (wave ", wave.name(),
            ", ", wave.state(), "); wait for it, roll it back, or apply --all-at-once"));
  }
  absl::StatusOr<int64_t> stored =
      store_->Apply(request.config().SerializeAsString(), actor, request.reason(),
                    static_cast<int64_t>(request.base_version()), now);
  if (!stored.ok()) return stored.status();
  const uint64_t previous = version_;
  v1::ConfigBundle previous_bundle = std::move(bundle_);
  bundle_ = request.config();
  spdlog::info("event=control.applied version={} author={} reason=\"{}\" all_at_once={}", *stored,
               actor.name, request.reason(), request.all_at_once());
  if (request.all_at_once()) {
    if (absl::Status s = store_->Audit(AuditEntry{
            0, now, actor, "apply", true,
            Cat("version ", *stored, " pushed to every edge at once, skipping the rollout waves")});
        !s.ok()) {
      spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
    }
    if (RollingOutLocked()) {
      rollout_->set_state(v1::RolloutStatus::SUPERSEDED);
      rollout_->set_outcome(Cat("version ", *stored, " was applied all at once by ", actor.name));
      *rollout_->mutable_finished() = ToProto(now);
      SaveRolloutLocked();
    }
  }
  version_ = static_cast<uint64_t>(*stored);
  LoadConfigLocked();
  previous_version_ = previous;
  previous_bundle_ = std::move(previous_bundle);
  if (request.all_at_once() || previous == 0 || !StartRolloutLocked(now)) {
    for (auto& [name, node] : nodes_) {
      if (node.stream != nullptr) SendCurrentLocked(node);
    }
  }
  v1::ApplyResponse response;
  response.set_version(version_);
  AddFindings(loaded.findings, *response.mutable_findings());
  return response;
}

absl::StatusOr<v1::ApplyResponse> ControlPlane::Rollback(const v1::RollbackRequest& request,
                                                         const Actor& actor) {
  const absl::Time now = clock_();
  std::lock_guard lock(mu_);
  int64_t target = static_cast<int64_t>(request.version());
  if (target == 0) {
    // The version in force before this one.
    absl::StatusOr<ConfigVersion> current = store_->Version(static_cast<int64_t>(version_));
    if (!current.ok() || current->parent == 0) {
      return absl::FailedPreconditionError("there is no earlier version to roll back to");
    }
    target = current->parent;
  }
  absl::StatusOr<ConfigVersion> old = store_->Version(target);
  if (!old.ok()) return old.status();
  v1::ConfigBundle bundle;
  if (!bundle.ParseFromString(old->content)) {
    return absl::DataLossError(Cat("version ", target, " does not parse"));
  }
  // Validated again: the rules may have grown since it was applied.
  policy::ValidateOptions options;
  options.now = now;
  const policy::LoadedConfig loaded = policy::LoadBundle(bundle, options);
  if (policy::HasErrors(loaded.findings)) {
    return absl::InvalidArgumentError(policy::SummarizeErrors(loaded.findings));
  }
  absl::StatusOr<int64_t> stored = store_->Rollback(
      target, actor, request.reason(), static_cast<int64_t>(request.base_version()), now);
  if (!stored.ok()) return stored.status();
  bundle_ = std::move(bundle);
  spdlog::info("event=control.rolled_back version={} restores={} author={} reason=\"{}\"", *stored,
               target, actor.name, request.reason());
  // An operator's rollback is an emergency: it ends a rollout under way and goes to everyone
  // at once, without waves.
  if (RollingOutLocked()) {
    rollout_->set_state(v1::RolloutStatus::ROLLED_BACK);
    rollout_->set_outcome(Cat("rolled back by ", actor.name, " as version ", *stored, " (restores ",
                              target, "): ", request.reason()));
    rollout_->set_rollback_version(static_cast<uint64_t>(*stored));
    *rollout_->mutable_finished() = ToProto(now);
    spdlog::warn("event=control.rollout_rolled_back target={} version={} reason=\"{}\"",
                 rollout_->target_version(), *stored, rollout_->outcome());
    SaveRolloutLocked();
  }
  return StoreAndPushLocked(stored);
}

absl::StatusOr<v1::ApplyResponse> ControlPlane::StoreAndPushLocked(absl::StatusOr<int64_t> stored) {
  version_ = static_cast<uint64_t>(*stored);
  LoadConfigLocked();
  for (auto& [name, node] : nodes_) {
    if (node.stream != nullptr) SendCurrentLocked(node);
  }
  v1::ApplyResponse response;
  response.set_version(version_);
  return response;
}

absl::StatusOr<v1::StatusResponse> ControlPlane::Status() {
  std::lock_guard lock(mu_);
  v1::StatusResponse response;
  response.set_version(version_);
  if (plan_.has_value()) *response.mutable_plan() = *plan_;
  if (rollout_.has_value()) *response.mutable_rollout() = *rollout_;
  for (const auto& [id, intent] : intents_) {
    v1::StoredIntent* s = response.add_intents();
    s->set_id(static_cast<uint64_t>(id));
    *s->mutable_intent() = intent;
  }
  v1::EdgeStreamCounters* counters = response.mutable_edge_streams();
  counters->set_hellos_refused(hellos_refused_);
  counters->set_reports_refused(reports_refused_);
  counters->set_streams_superseded(streams_superseded_);
  for (const auto& [name, node] : nodes_) {
    v1::NodeStatus* s = response.add_nodes();
    s->set_pop(PopOfLocked(node));
    s->set_node(name);
    s->set_connected(node.stream != nullptr);
    s->set_acked_version(static_cast<uint64_t>(node.record.acked_version));
    s->set_nacked_version(static_cast<uint64_t>(node.record.nacked_version));
    s->set_nack_reason(node.record.nack_reason);
    *s->mutable_last_seen() = ToProto(node.record.last_seen);
    if (!node.record.report.empty() && s->mutable_report()->ParseFromString(node.record.report) &&
        s->report().has_at() && s->report().has_received_at()) {
      const absl::Duration skew =
          FromProto(s->report().at()) - FromProto(s->report().received_at());
      *s->mutable_clock_skew() = TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(skew));
      s->set_clock_skew_warning(absl::AbsDuration(skew) > kClockSkewWarning);
    }
  }
  return response;
}

absl::StatusOr<v1::HistoryResponse> ControlPlane::History(uint32_t limit) {
  std::lock_guard lock(mu_);
  HF_ASSIGN_OR_RETURN(const std::vector<ConfigVersion> versions,
                      store_->History(limit == 0 ? 20 : static_cast<int>(limit)));
  v1::HistoryResponse response;
  for (const ConfigVersion& v : versions) *response.add_versions() = Info(v);
  return response;
}

absl::StatusOr<v1::ShowResponse> ControlPlane::Show(uint64_t version) {
  std::lock_guard lock(mu_);
  HF_ASSIGN_OR_RETURN(const ConfigVersion v,
                      store_->Version(static_cast<int64_t>(version == 0 ? version_ : version)));
  v1::ShowResponse response;
  *response.mutable_info() = Info(v);
  if (!response.mutable_config()->ParseFromString(v.content)) {
    return absl::DataLossError(Cat("version ", v.number, " does not parse"));
  }
  return response;
}

absl::StatusOr<v1::AuditResponse> ControlPlane::AuditLog(uint32_t limit) {
  std::lock_guard lock(mu_);
  HF_ASSIGN_OR_RETURN(const std::vector<AuditEntry> entries,
                      store_->AuditLog(limit == 0 ? 50 : static_cast<int>(limit)));
  v1::AuditResponse response;
  for (const AuditEntry& e : entries) {
    v1::AuditEntry* p = response.add_entries();
    *p->mutable_time() = ToProto(e.time);
    p->set_actor(e.actor.name);
    p->set_role(e.actor.role);
    p->set_action(e.action);
    p->set_allowed(e.allowed);
    p->set_detail(e.detail);
  }
  return response;
}

absl::StatusOr<v1::IntentsResponse> ControlPlane::AddIntent(const v1::AddIntentRequest& request,
                                                            const Actor& actor) {
  const absl::Time now = clock_();
  std::lock_guard lock(mu_);
  if (config_ == nullptr) {
    return absl::FailedPreconditionError("no config in force: apply one before giving intents");
  }
  v1::OperatorIntent intent = request.intent();
  HF_RETURN_IF_ERROR(CheckIntent(intent, *config_, version_));
  intent.set_author(actor.name);
  *intent.mutable_at() = ToProto(now);

  // The governor decides now, with the reports of now: the operator learns at once whether the
  // intent holds, rather than from a later plan.
  v1::Plan plan = MakePlanLocked(&intent);
  v1::IntentsResponse response;
  if (!plan.intents().empty()) *response.mutable_outcome() = plan.intents(plan.intents_size() - 1);
  *response.mutable_changed()->mutable_intent() = intent;
  const std::string what = Describe(intent);
  if (!response.outcome().applied()) {
    // Refused (it would break a floor, or there is no freeze to acknowledge): nothing is kept,
    // so it cannot take effect later, unannounced, when health changes.
    spdlog::warn("event=control.intent_refused actor={} intent=\"{}\" reason=\"{}\"", actor.name,
                 what, response.outcome().explanation());
    if (absl::Status s =
            store_->Audit(AuditEntry{0, now, actor, "add-intent", false,
                                     Cat(what, " (", response.outcome().explanation(), ")")});
        !s.ok()) {
      return s;
    }
    v1::IntentsResponse in_force = IntentsLocked();
    *in_force.mutable_changed() = response.changed();
    *in_force.mutable_outcome() = response.outcome();
    return in_force;
  }
  const std::string detail = Cat(what, " (", response.outcome().explanation(), ")");
  if (intent.action() == v1::OperatorIntent::ACTION_ACK_FREEZE) {
    // Consumed by this plan: the plan remembers the acknowledgement until health recovers.
    HF_RETURN_IF_ERROR(store_->Audit(AuditEntry{0, now, actor, "add-intent", true, detail}));
  } else {
    HF_ASSIGN_OR_RETURN(const int64_t id,
                        store_->AddIntent(intent.SerializeAsString(), actor, detail, now));
    intents_[id] = intent;
    response.mutable_changed()->set_id(static_cast<uint64_t>(id));
  }
  spdlog::info("event=control.intent_added id={} actor={} intent=\"{}\" outcome=\"{}\"",
               response.changed().id(), actor.name, what, response.outcome().explanation());
  AdoptPlanLocked(std::move(plan));
  v1::IntentsResponse in_force = IntentsLocked();
  *in_force.mutable_changed() = response.changed();
  *in_force.mutable_outcome() = response.outcome();
  return in_force;
}

absl::StatusOr<v1::IntentsResponse> ControlPlane::RemoveIntent(
    const v1::RemoveIntentRequest& request, const Actor& actor) {
  const absl::Time now = clock_();
  if (request.reason().empty()) return absl::InvalidArgumentError("intent: a reason is required");
  std::lock_guard lock(mu_);
  const int64_t id = static_cast<int64_t>(request.id());
  const auto it = intents_.find(id);
  if (it == intents_.end()) return absl::NotFoundError(Cat("no intent ", id, " in force"));
  HF_RETURN_IF_ERROR(store_->RemoveIntent(
      id, actor, Cat("removes ", Describe(it->second), "; because: ", request.reason()), now));
  v1::StoredIntent removed;
  removed.set_id(request.id());
  *removed.mutable_intent() = std::move(it->second);
  intents_.erase(it);
  spdlog::info("event=control.intent_removed id={} actor={} reason=\"{}\"", id, actor.name,
               request.reason());
  // Removing an intent only gives POPs back, so no floor can refuse it.
  if (config_ != nullptr) AdoptPlanLocked(MakePlanLocked(nullptr));
  v1::IntentsResponse response = IntentsLocked();
  *response.mutable_changed() = std::move(removed);
  return response;
}

absl::StatusOr<v1::IntentsResponse> ControlPlane::ListIntents() {
  std::lock_guard lock(mu_);
  return IntentsLocked();
}

v1::IntentsResponse ControlPlane::IntentsLocked() const {
  v1::IntentsResponse response;
  for (const auto& [id, intent] : intents_) {
    v1::StoredIntent* s = response.add_intents();
    s->set_id(static_cast<uint64_t>(id));
    *s->mutable_intent() = intent;
  }
  if (plan_.has_value()) *response.mutable_plan() = *plan_;
  return response;
}

void ControlPlane::AuditRefusal(const Actor& actor, const std::string& action,
                                const std::string& why) {
  spdlog::warn("event=control.refused actor={} role={} action={} reason=\"{}\"",
               actor.name.empty() ? "-" : actor.name, actor.role.empty() ? "-" : actor.role, action,
               why);
  std::lock_guard lock(mu_);
  if (absl::Status s = store_->Audit(AuditEntry{0, clock_(), actor, action, false, why}); !s.ok()) {
    spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
  }
}

absl::Status ControlPlane::RefuseHello(const Actor& peer, const v1::Hello& hello,
                                       const std::string& why) {
  std::lock_guard lock(mu_);
  return RefuseEdgeLocked(peer, "sync", hello.node(), hello.pop(), why, hellos_refused_);
}

absl::Status ControlPlane::RefuseEdgeLocked(const Actor& peer, const std::string& action,
                                            const std::string& node, const std::string& claimed,
                                            const std::string& why, uint64_t& counter) {
  ++counter;
  spdlog::warn("event=control.{}_refused node={} claimed=\"{}\" actor={} role={} reason=\"{}\"",
               action == "sync" ? "hello" : action, node.empty() ? "-" : node, claimed,
               peer.name.empty() ? "-" : peer.name, peer.role.empty() ? "-" : peer.role, why);
  if (absl::Status s = store_->Audit(AuditEntry{0, clock_(), peer, action, false, why}); !s.ok()) {
    spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
  }
  return absl::PermissionDeniedError(why);
}

std::optional<std::string> ControlPlane::ConfiguredPopLocked(const std::string& name) const {
  if (config_ == nullptr) return std::nullopt;
  for (const v1::Pop& p : config_->pops()) {
    for (const v1::Node& n : p.nodes()) {
      if (n.name() == name) return p.name();
    }
  }
  return std::nullopt;
}

absl::Status ControlPlane::Hello(EdgeStream* stream, const Actor& peer, const v1::Hello& hello) {
  std::lock_guard lock(mu_);
  if (hello.node().empty()) {
    return RefuseEdgeLocked(peer, "sync", "", hello.pop(), "a hello must name its node",
                            hellos_refused_);
  }
  // The POP is the config's to say, not the node's. Before the first config there is nothing to
  // check against, and nothing is planned either; the config's POP applies from its first load.
  const std::optional<std::string> pop = ConfiguredPopLocked(hello.node());
  if (config_ != nullptr && !pop.has_value()) {
    return RefuseEdgeLocked(
        peer, "sync", hello.node(), hello.pop(),
        Cat("node ", hello.node(), " is not in config version ", version_, ": refused"),
        hellos_refused_);
  }
  // A node that serves an older version may name the POP that version gave it (a node moved
  // between POPs, before it has the move); one that serves the version in force may not.
  if (pop.has_value() && !hello.pop().empty() && hello.pop() != *pop &&
      hello.version() == version_) {
    return RefuseEdgeLocked(peer, "sync", hello.node(), hello.pop(),
                            Cat("node ", hello.node(), " is in POP ", *pop, " (config version ",
                                version_, "), not ", hello.pop(), ": refused"),
                            hellos_refused_);
  }
  Node& node = nodes_[hello.node()];
  if (node.stream != nullptr && node.stream != stream) {
    // One stream per node. The newer wins, and the older is ended with ABORTED, which its edge
    // (if it is still there) answers by reconnecting within its first backoff step (0.05-0.5 s,
    // edge/agent/control_client.h), taking the node back with a fresh hello and the plan. The
    // other choice, refusing the newer while the older lives, would lock a restarted edge out
    // for as long as its old connection looks alive (a half-open TCP connection after a crash
    // or a partition, until keepalive notices), and would let whoever connects first with the
    // node's certificate keep the real edge out; replacing never leaves a live edge deaf for
    // longer than one reconnection. Both streams hold the node's own certificate, so this only
    // ever concerns the node's own voice.
    ++streams_superseded_;
    const std::string why =
        Cat("stream of node ", hello.node(), " superseded by a newer stream of the same node");
    spdlog::warn("event=control.edge_superseded node={} actor={}", hello.node(),
                 peer.name.empty() ? "-" : peer.name);
    if (absl::Status s =
            store_->Audit(AuditEntry{0, clock_(), peer, "sync", true,
                                     Cat(why, "; the older was ended (ABORTED) to reconnect")});
        !s.ok()) {
      spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
    }
    // gRPC runs the ended stream's OnDone (hence Gone) on another thread, never inside End: no
    // re-entry under mu_. Gone then finds the stream registered nowhere.
    node.stream->End(absl::AbortedError(Cat(why, ": reconnect")));
  }
  node.stream = stream;
  node.peer = peer;
  node.record.node = hello.node();
  node.record.pop = pop.value_or("");
  node.record.last_seen = clock_();
  // What it serves now (a persisted snapshot, after a restart) counts as acknowledged.
  if (hello.version() != 0) node.record.acked_version = static_cast<int64_t>(hello.version());
  spdlog::info("event=control.edge_connected node={} pop={} serving_version={} version={}",
               hello.node(), PopOfLocked(node), hello.version(), version_);
  SaveLocked(node);
  const uint64_t want = VersionForLocked(node);
  if (want != 0 && hello.version() != want) {
    SendCurrentLocked(node);
  } else {
    node.sent_version = hello.version();
  }
  if (plan_.has_value()) SendPlanLocked(node);
  return absl::OkStatus();
}

void ControlPlane::SendPlanLocked(Node& node) {
  v1::ControlMessage message;
  *message.mutable_plan() = *plan_;
  node.stream->Send(message);
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

void ControlPlane::Replan() {
  std::lock_guard lock(mu_);
  if (config_ == nullptr) return;
  AdoptPlanLocked(MakePlanLocked(nullptr));
  if (RollingOutLocked()) AdvanceRolloutLocked(clock_());
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
  return policy::MakePlan(input);
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

void ControlPlane::SendCurrentLocked(Node& node) {
  const uint64_t version = VersionForLocked(node);
  node.nonce = Cat(version, "-", ++pushes_);
  node.sent_version = version;
  v1::ControlMessage message;
  v1::ConfigSnapshot* snapshot = message.mutable_snapshot();
  snapshot->set_version(version);
  snapshot->set_nonce(node.nonce);
  *snapshot->mutable_config() = version == version_ ? bundle_ : previous_bundle_;
  node.stream->Send(message);
}

ControlPlane::Node* ControlPlane::FindLocked(EdgeStream* stream) {
  for (auto& [name, node] : nodes_) {
    if (node.stream == stream) return &node;
  }
  return nullptr;
}

void ControlPlane::Ack(EdgeStream* stream, const v1::Ack& ack) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr || ack.nonce() != node->nonce) return;  // no hello, or a stale answer
  node->record.acked_version = static_cast<int64_t>(ack.version());
  if (node->record.nacked_version <= node->record.acked_version) {
    node->record.nacked_version = 0;
    node->record.nack_reason.clear();
  }
  node->record.last_seen = clock_();
  spdlog::info("event=control.edge_acked node={} version={}", node->record.node, ack.version());
  SaveLocked(*node);
  if (RollingOutLocked() && ack.version() == rollout_->target_version()) {
    // The bake of the wave under way counts from its last ACK.
    v1::RolloutWaveStatus& wave =
        *rollout_->mutable_waves(static_cast<int>(rollout_->current_wave()));
    if (Contains(wave, PopOfLocked(*node))) *wave.mutable_last_ack() = ToProto(clock_());
  }
}

void ControlPlane::Nack(EdgeStream* stream, const v1::Nack& nack) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr || nack.nonce() != node->nonce) return;
  node->record.nacked_version = static_cast<int64_t>(nack.version());
  node->record.nack_reason = nack.reason();
  node->record.last_seen = clock_();
  spdlog::warn("event=control.edge_nacked node={} version={} reason=\"{}\"", node->record.node,
               nack.version(), nack.reason());
  SaveLocked(*node);
  // A target one node cannot apply will not fare better elsewhere: stop it before it spreads.
  if (RollingOutLocked() && nack.version() == rollout_->target_version()) {
    RollBackRolloutLocked(Cat("node ", node->record.node, " (POP ", PopOfLocked(*node),
                              ") refused version ", nack.version(), ": ", nack.reason()),
                          clock_());
  }
}

absl::Status ControlPlane::Report(EdgeStream* stream, const v1::HealthReport& report) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr) return absl::OkStatus();  // superseded (or no hello): not its voice now
  const std::string& name = node->record.node;
  if (!report.node().empty() && report.node() != name) {
    return RefuseEdgeLocked(node->peer, "report", name, report.node(),
                            Cat("stream of node ", name, " sent a report naming node ",
                                report.node(), ": refused, stream ended"),
                            reports_refused_);
  }
  const std::optional<std::string> pop = ConfiguredPopLocked(name);
  // A node that has not acknowledged the version in force may still serve a config that puts
  // it elsewhere; what it names is overwritten below anyway, so only a node that should know
  // better is refused.
  if (pop.has_value() && !report.pop().empty() && report.pop() != *pop &&
      static_cast<uint64_t>(node->record.acked_version) == version_) {
    return RefuseEdgeLocked(
        node->peer, "report", name, report.pop(),
        Cat("node ", name, " is in POP ", *pop, " (config version ", version_,
            "), its report named POP ", report.pop(), ": refused, stream ended"),
        reports_refused_);
  }
  const absl::Time now = clock_();
  v1::HealthReport stored = report;
  stored.set_node(name);
  if (pop.has_value()) node->record.pop = *pop;
  stored.set_pop(PopOfLocked(*node));
  // Freshness and "newest" are the control plane's to judge: the node's clock may be wrong, and
  // a report dated ahead would otherwise keep a silent node fresh (issue 24). Its `at` stays for
  // display and to measure the skew.
  *stored.mutable_received_at() = ToProto(now);
  const absl::Duration skew = report.has_at() ? FromProto(report.at()) - now : absl::ZeroDuration();
  const bool skewed = absl::AbsDuration(skew) > kClockSkewWarning;
  if (skewed && !node->skewed) {
    spdlog::warn("event=control.clock_skew node={} skew={} limit={}", name,
                 absl::FormatDuration(skew), absl::FormatDuration(kClockSkewWarning));
  }
  node->skewed = skewed;
  // Kept in memory: reports come every few seconds from every node, and the store is written
  // with fsync. The last one is stored when the stream ends.
  node->record.report = stored.SerializeAsString();
  node->record.last_seen = now;
  return absl::OkStatus();
}

void ControlPlane::Gone(EdgeStream* stream) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr) return;
  node->stream = nullptr;
  spdlog::info("event=control.edge_disconnected node={}", node->record.node);
  SaveLocked(*node);
}

void ControlPlane::SaveLocked(const Node& node) {
  if (absl::Status s = store_->SaveEdge(node.record); !s.ok()) {
    spdlog::error("event=control.store_failed node={} error=\"{}\"", node.record.node,
                  s.ToString());
  }
}

std::string ControlPlane::PopOfLocked(const Node& node) const {
  return ConfiguredPopLocked(node.record.node).value_or(node.record.pop);
}

bool ControlPlane::RollingOutLocked() const {
  return rollout_.has_value() && rollout_->state() == v1::RolloutStatus::RUNNING;
}

uint64_t ControlPlane::VersionForLocked(const Node& node) const {
  if (!RollingOutLocked()) return version_;
  const std::string pop = PopOfLocked(node);
  for (const v1::RolloutWaveStatus& wave : rollout_->waves()) {
    if (wave.state() != "pending" && Contains(wave, pop)) return version_;
  }
  // Not reached yet (or a node of no known POP): it keeps what the fleet ran before.
  return previous_version_;
}

ControlPlane::PopHealth ControlPlane::PopHealthLocked(const std::string& pop) const {
  PopHealth health;
  uint64_t healthy = 0;
  uint64_t total = 0;
  for (const auto& [name, node] : nodes_) {
    if (node.stream == nullptr || node.record.report.empty() || PopOfLocked(node) != pop) continue;
    v1::HealthReport report;
    if (!report.ParseFromString(node.record.report)) continue;
    health.has_data = true;
    health.listeners_up = health.listeners_up || report.listeners_up();
    for (const v1::ClusterHealth& c : report.clusters()) {
      healthy += c.healthy_endpoints();
      total += c.total_endpoints();
    }
  }
  if (total > 0) health.healthy_fraction = static_cast<double>(healthy) / total;
  return health;
}

bool ControlPlane::StartRolloutLocked(absl::Time now) {
  if (config_ == nullptr) return false;
  std::vector<v1::RolloutWaveStatus> waves = ResolveWaves(*config_);
  // Nothing to stage when the first wave is the whole fleet (a fleet of one POP): there is no
  // one to protect from the canary.
  if (waves.empty() || static_cast<int>(waves.front().pops_size()) >= config_->pops_size()) {
    return false;
  }
  v1::RolloutStatus r;
  r.set_state(v1::RolloutStatus::RUNNING);
  r.set_target_version(version_);
  r.set_previous_version(previous_version_);
  for (v1::RolloutWaveStatus& w : waves) *r.add_waves() = std::move(w);
  *r.mutable_bake_time() = config_->safety().rollout().bake_time();
  *r.mutable_started() = ToProto(now);
  for (const v1::Pop& p : config_->pops()) {
    const PopHealth h = PopHealthLocked(p.name());
    v1::PopBaseline* b = r.add_baseline();
    b->set_pop(p.name());
    b->set_has_data(h.has_data);
    b->set_healthy_fraction(h.healthy_fraction);
    b->set_listeners_up(h.listeners_up);
  }
  rollout_ = std::move(r);
  regressed_since_.clear();
  spdlog::info("event=control.rollout_started target={} previous={} waves={} bake_time={}",
               version_, previous_version_, rollout_->waves_size(),
               TimeUtil::ToString(rollout_->bake_time()));
  StartWaveLocked(0, now);
  return true;
}

void ControlPlane::StartWaveLocked(size_t index, absl::Time now) {
  rollout_->set_current_wave(static_cast<uint32_t>(index));
  v1::RolloutWaveStatus& wave = *rollout_->mutable_waves(static_cast<int>(index));
  wave.set_state("waiting");
  *wave.mutable_started() = ToProto(now);
  *wave.mutable_last_ack() = ToProto(now);
  std::string pops;
  for (const std::string& p : wave.pops()) Append(pops, pops.empty() ? "" : ",", p);
  spdlog::info("event=control.rollout_wave_started target={} wave={} pops={}",
               rollout_->target_version(), wave.name(), pops);
  SaveRolloutLocked();
  for (auto& [name, node] : nodes_) {
    if (node.stream != nullptr && node.sent_version != VersionForLocked(node)) {
      SendCurrentLocked(node);
    }
  }
}

void ControlPlane::AdvanceRolloutLocked(absl::Time now) {
  const absl::Time started = FromProto(rollout_->started());
  // DESIGN.md rule 3: a correlated failure that begins while a change is rolling out may be the
  // change; take it back. A freeze already in force at the apply is not this change's doing (and
  // the change may be the fix).
  if (plan_.has_value() && plan_->frozen() && !plan_->freeze_acknowledged() &&
      FromProto(plan_->freeze_since()) >= started) {
    for (const v1::Plan::Alarm& alarm : plan_->alarms()) {
      if (alarm.kind() == "correlated_failure") {
        RollBackRolloutLocked(Cat("correlated failure during the rollout: ", alarm.message()), now);
        return;
      }
    }
  }
  // Health of every POP the target reached, against the baseline.
  bool suspect = false;
  for (const v1::PopBaseline& base : rollout_->baseline()) {
    bool reached = false;
    for (const v1::RolloutWaveStatus& wave : rollout_->waves()) {
      reached = reached || (wave.state() != "pending" && Contains(wave, base.pop()));
    }
    if (!reached || !base.has_data()) continue;
    const PopHealth h = PopHealthLocked(base.pop());
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
    if (now - since >= kRegressionHold) {
      RollBackRolloutLocked(why, now);
      return;
    }
    suspect = true;
  }

  const size_t index = rollout_->current_wave();
  v1::RolloutWaveStatus& wave = *rollout_->mutable_waves(static_cast<int>(index));
  bool acked = true;
  for (const auto& [name, node] : nodes_) {
    if (node.stream == nullptr || !Contains(wave, PopOfLocked(node))) continue;
    acked = acked && static_cast<uint64_t>(node.record.acked_version) == version_;
  }
  if (!acked) {
    wave.set_state("waiting");
    wave.clear_bake_until();
    return;
  }
  const absl::Time bake_until =
      std::max(FromProto(wave.started()), FromProto(wave.last_ack())) +
      absl::Microseconds(TimeUtil::DurationToMicroseconds(rollout_->bake_time()));
  if (wave.state() != "baking") {
    wave.set_state("baking");
    *wave.mutable_bake_until() = ToProto(bake_until);
    SaveRolloutLocked();
  }
  *wave.mutable_bake_until() = ToProto(bake_until);
  // A POP that looks worse than before, not for long enough to roll back, holds the wave.
  if (now < bake_until || suspect) return;
  wave.set_state("done");
  *wave.mutable_done() = ToProto(now);
  spdlog::info("event=control.rollout_wave_done target={} wave={}", rollout_->target_version(),
               wave.name());
  if (index + 1 < static_cast<size_t>(rollout_->waves_size())) {
    StartWaveLocked(index + 1, now);
    return;
  }
  rollout_->set_state(v1::RolloutStatus::COMPLETED);
  rollout_->set_outcome(Cat("every wave done: version ", version_, " is in force everywhere"));
  *rollout_->mutable_finished() = ToProto(now);
  spdlog::info("event=control.rollout_completed target={}", rollout_->target_version());
  SaveRolloutLocked();
}

void ControlPlane::RollBackRolloutLocked(const std::string& reason, absl::Time now) {
  const Actor system{"holdfast-control", "system"};
  absl::StatusOr<int64_t> stored = store_->Rollback(static_cast<int64_t>(previous_version_), system,
                                                    reason, static_cast<int64_t>(version_), now);
  if (!stored.ok()) {
    // The rollout stays under way (the unreached POPs keep the previous version); the next
    // check tries again.
    spdlog::error("event=control.rollout_rollback_failed target={} reason=\"{}\" error=\"{}\"",
                  rollout_->target_version(), reason, stored.status().ToString());
    return;
  }
  rollout_->set_state(v1::RolloutStatus::ROLLED_BACK);
  rollout_->set_outcome(reason);
  rollout_->set_rollback_version(static_cast<uint64_t>(*stored));
  *rollout_->mutable_finished() = ToProto(now);
  const v1::RolloutWaveStatus& wave = rollout_->waves(static_cast<int>(rollout_->current_wave()));
  spdlog::warn(
      "event=control.rollout_rolled_back target={} version={} restores={} wave={} reason=\"{}\"",
      rollout_->target_version(), *stored, previous_version_, wave.name(), reason);
  SaveRolloutLocked();
  bundle_ = previous_bundle_;
  // To every node at once: the previous version is the known good one.
  (void)StoreAndPushLocked(stored);
}

void ControlPlane::SaveRolloutLocked() {
  if (absl::Status s = store_->SaveRollout(rollout_->SerializeAsString()); !s.ok()) {
    spdlog::error("event=control.store_failed what=rollout error=\"{}\"", s.ToString());
  }
}

}  // namespace holdfast::control
