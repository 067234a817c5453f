#include "control-plane/server/control_plane.h"

#include <utility>

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
  absl::StatusOr<int64_t> stored =
      store_->Apply(request.config().SerializeAsString(), actor, request.reason(),
                    static_cast<int64_t>(request.base_version()), now);
  if (!stored.ok()) return stored.status();
  bundle_ = request.config();
  v1::ApplyResponse response = *StoreAndPushLocked(stored);
  AddFindings(loaded.findings, *response.mutable_findings());
  spdlog::info("event=control.applied version={} author={} reason=\"{}\"", *stored, actor.name,
               request.reason());
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
  for (const auto& [id, intent] : intents_) {
    v1::StoredIntent* s = response.add_intents();
    s->set_id(static_cast<uint64_t>(id));
    *s->mutable_intent() = intent;
  }
  for (const auto& [name, node] : nodes_) {
    v1::NodeStatus* s = response.add_nodes();
    s->set_pop(node.record.pop);
    s->set_node(name);
    s->set_connected(node.stream != nullptr);
    s->set_acked_version(static_cast<uint64_t>(node.record.acked_version));
    s->set_nacked_version(static_cast<uint64_t>(node.record.nacked_version));
    s->set_nack_reason(node.record.nack_reason);
    *s->mutable_last_seen() = ToProto(node.record.last_seen);
    if (!node.record.report.empty()) s->mutable_report()->ParseFromString(node.record.report);
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

void ControlPlane::Hello(EdgeStream* stream, const v1::Hello& hello) {
  std::lock_guard lock(mu_);
  Node& node = nodes_[hello.node()];
  node.stream = stream;
  node.record.node = hello.node();
  node.record.pop = hello.pop();
  node.record.last_seen = clock_();
  // What it serves now (a persisted snapshot, after a restart) counts as acknowledged.
  if (hello.version() != 0) node.record.acked_version = static_cast<int64_t>(hello.version());
  spdlog::info("event=control.edge_connected node={} pop={} serving_version={} version={}",
               hello.node(), hello.pop(), hello.version(), version_);
  SaveLocked(node);
  if (version_ != 0 && hello.version() != version_) SendCurrentLocked(node);
  if (plan_.has_value()) SendPlanLocked(node);
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
}

v1::Plan ControlPlane::MakePlanLocked(const v1::OperatorIntent* extra) {
  policy::PlanInput input;
  input.config = config_.get();
  for (const auto& [name, node] : nodes_) {
    v1::HealthReport report;
    if (!node.record.report.empty() && report.ParseFromString(node.record.report)) {
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
  if (!changed) return;
  for (auto& [name, node] : nodes_) {
    if (node.stream != nullptr) SendPlanLocked(node);
  }
}

void ControlPlane::SendCurrentLocked(Node& node) {
  node.nonce = Cat(version_, "-", ++pushes_);
  node.sent_version = version_;
  v1::ControlMessage message;
  v1::ConfigSnapshot* snapshot = message.mutable_snapshot();
  snapshot->set_version(version_);
  snapshot->set_nonce(node.nonce);
  *snapshot->mutable_config() = bundle_;
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
}

void ControlPlane::Report(EdgeStream* stream, const v1::HealthReport& report) {
  std::lock_guard lock(mu_);
  Node* node = FindLocked(stream);
  if (node == nullptr) return;
  // Kept in memory: reports come every few seconds from every node, and the store is written
  // with fsync. The last one is stored when the stream ends.
  node->record.report = report.SerializeAsString();
  if (!report.pop().empty()) node->record.pop = report.pop();  // a node that booted configless
  node->record.last_seen = clock_();
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

}  // namespace holdfast::control
