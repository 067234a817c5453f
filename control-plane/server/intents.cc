// Operator intents (drain, withdraw, ack-freeze): checked against the config in force, put
// before the governor at once, kept in the store while in force.
#include <string>
#include <utility>

#include "common/cat.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "control-plane/server/control_plane.h"
#include "spdlog/spdlog.h"

namespace holdfast::control {
namespace {

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
  *intent.mutable_at() = ToProtoTimestamp(now);

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

}  // namespace holdfast::control
