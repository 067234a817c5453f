#include "control-plane/server/control_plane.h"

#include <map>
#include <utility>
#include <vector>

#include "common/cat.h"
#include "common/status_macros.h"
#include "control-plane/internal/proto_time.h"
#include "google/protobuf/util/time_util.h"
#include "policy/bundle.h"
#include "policy/diff.h"
#include "policy/plan/planner.h"
#include "policy/validate/validator.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

using google::protobuf::util::TimeUtil;
using internal::FromProto;
using internal::ToProto;

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
  HF_RETURN_IF_ERROR(rollout_.CanStart(request.all_at_once()));
  absl::StatusOr<int64_t> stored =
      store_->Apply(request.config().SerializeAsString(), actor, request.reason(),
                    static_cast<int64_t>(request.base_version()), now);
  if (!stored.ok()) return stored.status();
  const uint64_t previous = version_;
  previous_bundle_ = std::move(bundle_);
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
  }
  version_ = static_cast<uint64_t>(*stored);
  LoadConfigLocked();
  Rollout::StartInput start;
  start.target = version_;
  start.previous = previous;
  start.config = config_.get();
  start.fleet = FleetViewLocked();
  start.all_at_once = request.all_at_once();
  start.applied_by = actor.name;
  RunRolloutLocked(rollout_.Start(start, now), now);
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
  if (rollout_.running()) {
    std::vector<RolloutAction> actions =
        rollout_.OperatorRollback(actor.name, static_cast<uint64_t>(*stored),
                                  static_cast<uint64_t>(target), request.reason(), now);
    spdlog::warn("event=control.rollout_rolled_back target={} version={} reason=\"{}\"",
                 rollout_.status()->target_version(), *stored, rollout_.status()->outcome());
    RunRolloutLocked(actions, now);
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
  if (rollout_.status() != nullptr) *response.mutable_rollout() = *rollout_.status();
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
  // The bake of a rollout's wave counts from its last ACK.
  rollout_.OnAck(PopOfLocked(*node), ack.version(), clock_());
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
  // A NACK of a rollout's target rolls it back before it spreads.
  const absl::Time now = clock_();
  RunRolloutLocked(
      rollout_.OnNack(node->record.node, PopOfLocked(*node), nack.version(), nack.reason(), now),
      now);
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
    v1::HealthReport report;
    if (node.record.report.empty() || !report.ParseFromString(node.record.report)) continue;
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
