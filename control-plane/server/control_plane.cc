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
  policy::PlanInput input;
  input.config = config_.get();
  for (const auto& [name, node] : nodes_) {
    v1::HealthReport report;
    if (!node.record.report.empty() && report.ParseFromString(node.record.report)) {
      input.reports.push_back(std::move(report));
    }
  }
  input.previous = plan_.has_value() ? &*plan_ : nullptr;
  input.now = clock_();
  v1::Plan plan = policy::MakePlan(input);
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
