// The operator's API: plan, apply and roll back a config, and what status, history, show and
// the audit log tell.
#include <utility>
#include <vector>

#include "common/cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "control-plane/server/control_plane.h"
#include "google/protobuf/util/time_util.h"
#include "policy/bundle.h"
#include "policy/diff.h"
#include "policy/finding.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

using google::protobuf::util::TimeUtil;

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
  *info.mutable_created() = ToProtoTimestamp(v.created);
  info.set_parent(static_cast<uint64_t>(v.parent));
  info.set_restores(static_cast<uint64_t>(v.restores));
  return info;
}

}  // namespace

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
    *s->mutable_last_seen() = ToProtoTimestamp(node.record.last_seen);
    if (!node.record.report.empty() && s->mutable_report()->ParseFromString(node.record.report) &&
        s->report().has_at() && s->report().has_received_at()) {
      const absl::Duration skew =
          FromProtoTime(s->report().at()) - FromProtoTime(s->report().received_at());
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
    *p->mutable_time() = ToProtoTimestamp(e.time);
    p->set_actor(e.actor.name);
    p->set_role(e.actor.role);
    p->set_action(e.action);
    p->set_allowed(e.allowed);
    p->set_detail(e.detail);
  }
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

void ControlPlane::DisableGovernor(const std::string& why) {
  spdlog::critical(
      "event=control.governor_off reason=\"{}\" consequence=\"no floor, no rate limit, no "
      "freeze: every unhealthy POP is withdrawn at once, all of them if all look unhealthy\"",
      why);
  std::lock_guard lock(mu_);
  planner_options_.governor = false;
  if (absl::Status s = store_->Audit(
          AuditEntry{0, clock_(), Actor{"holdfast-control", ""}, "governor_off", true, why});
      !s.ok()) {
    spdlog::error("event=control.audit_failed error=\"{}\"", s.ToString());
  }
}

}  // namespace holdfast::control
