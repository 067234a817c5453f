// The control plane's logic, apart from gRPC: the operator's changes (plan, apply, rollback)
// through validation and the store, and the edge nodes' streams (who is connected, what each
// acknowledged or refused, what it reported). The gRPC services (sync_service.h,
// operator_service.h) translate calls into these methods.
//
// Thread-safe: gRPC calls it from its own threads; one mutex guards the fleet, and writes to the
// store are serialized under it too (SQLite takes one writer at a time anyway).
#ifndef HOLDFAST_CONTROL_PLANE_SERVER_CONTROL_PLANE_H_
#define HOLDFAST_CONTROL_PLANE_SERVER_CONTROL_PLANE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control-plane/store/store.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/control.pb.h"

namespace holdfast::control {

// One edge node's open stream, as the control plane sees it. Implemented by the sync service.
class EdgeStream {
 public:
  virtual ~EdgeStream() = default;
  // Queues `message` for the node. Never blocks; may be called from any thread.
  virtual void Send(const v1::ControlMessage& message) = 0;
};

class ControlPlane {
 public:
  using Clock = std::function<absl::Time()>;

  ControlPlane(std::unique_ptr<Store> store, Clock clock);

  // Operator API. Validation findings are data (in the responses); an error status is a refusal
  // with its reason: INVALID_ARGUMENT (the config does not validate), FAILED_PRECONDITION
  // (another version landed since the change was planned), NOT_FOUND, or a store failure.
  // Apply and Rollback audit what they store; the caller audits their refusals.
  [[nodiscard]] absl::StatusOr<v1::PlanResponse> Plan(const v1::ChangeRequest& request);
  [[nodiscard]] absl::StatusOr<v1::ApplyResponse> Apply(const v1::ChangeRequest& request,
                                                        const Actor& actor);
  [[nodiscard]] absl::StatusOr<v1::ApplyResponse> Rollback(const v1::RollbackRequest& request,
                                                           const Actor& actor);
  [[nodiscard]] absl::StatusOr<v1::StatusResponse> Status();
  [[nodiscard]] absl::StatusOr<v1::HistoryResponse> History(uint32_t limit);
  [[nodiscard]] absl::StatusOr<v1::ShowResponse> Show(uint64_t version);
  [[nodiscard]] absl::StatusOr<v1::AuditResponse> AuditLog(uint32_t limit);

  // Operator intents (drain, withdraw, ack-freeze). AddIntent checks the intent against the
  // config in force (INVALID_ARGUMENT naming what is wrong: unknown POP or prefix, no reason;
  // FAILED_PRECONDITION before the first config), sets its author and time, and plans with it at
  // once. The governor decides: an intent it applies is stored (audited) and the plan goes to
  // the edges; one it refuses (it would break a floor, without break_glass) is not stored, the
  // refusal is audited, and the plan stays as it was; either way the response carries the
  // outcome. DRAIN and WITHDRAW stay in force, through every later plan and restarts, until
  // RemoveIntent; an ACK_FREEZE is consumed by the plan it is given to (the plan carries the
  // acknowledgement on, and an acknowledgement never covers a later freeze anyway).
  // RemoveIntent (NOT_FOUND for an unknown id) replans at once too.
  [[nodiscard]] absl::StatusOr<v1::IntentsResponse> AddIntent(const v1::AddIntentRequest& request,
                                                              const Actor& actor);
  [[nodiscard]] absl::StatusOr<v1::IntentsResponse> RemoveIntent(
      const v1::RemoveIntentRequest& request, const Actor& actor);
  [[nodiscard]] absl::StatusOr<v1::IntentsResponse> ListIntents();
  // Records a request refused before it reached the methods above (authentication, role).
  void AuditRefusal(const Actor& actor, const std::string& action, const std::string& why);

  // Edge streams. Hello registers the stream under its node (replacing an older stream of the
  // same node) and sends the version in force when the node runs another one.
  void Hello(EdgeStream* stream, const v1::Hello& hello);
  void Ack(EdgeStream* stream, const v1::Ack& ack);
  void Nack(EdgeStream* stream, const v1::Nack& nack);
  void Report(EdgeStream* stream, const v1::HealthReport& report);
  // The stream ended; the node stays known (its last state is in the store), not connected.
  void Gone(EdgeStream* stream);

  // Makes a new announcement plan (policy/plan/planner.h) from the config in force, the nodes'
  // latest reports and the operator intents in force, with the governor's memory of the last
  // plan, and sends it to every connected node when a decision changed. Called every few
  // seconds by the daemon, and at once after an intent is added or removed.
  void Replan();

 private:
  struct Node {
    EdgeRecord record;
    EdgeStream* stream = nullptr;
    // The nonce of the last snapshot sent: an ACK or NACK for another one is stale.
    std::string nonce;
    uint64_t sent_version = 0;
  };

  // The snapshot of the version in force, for one node. Requires mu_.
  void SendCurrentLocked(Node& node);
  void SendPlanLocked(Node& node);
  // Loads config_ from bundle_ (after a new version). Requires mu_.
  void LoadConfigLocked();
  Node* FindLocked(EdgeStream* stream);
  absl::StatusOr<v1::ApplyResponse> StoreAndPushLocked(absl::StatusOr<int64_t> stored);
  void SaveLocked(const Node& node);
  // The plan from the config in force (not null), the reports and the intents in force, then
  // `extra` when given (an intent not stored yet). Requires mu_.
  v1::Plan MakePlanLocked(const v1::OperatorIntent* extra);
  // Makes `plan` the one in force and sends it to the edges when a decision changed.
  void AdoptPlanLocked(v1::Plan plan);
  // The intents in force and the plan in force. Requires mu_.
  v1::IntentsResponse IntentsLocked() const;

  std::mutex mu_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  // By node name.
  std::map<std::string, Node> nodes_;
  // The version in force and its bundle, cached from the store.
  uint64_t version_ = 0;
  v1::ConfigBundle bundle_;
  // bundle_ loaded; null when there is none (or it no longer loads).
  std::shared_ptr<const v1::Config> config_;
  uint64_t pushes_ = 0;
  // The last plan, and what its decisions were (states and weights, without reasons), to
  // send only plans that change something.
  std::optional<v1::Plan> plan_;
  std::string plan_decisions_;
  // The operator intents in force by id (the order the planner applies them), from the store.
  std::map<int64_t, v1::OperatorIntent> intents_;
};

}  // namespace holdfast::control

#endif  // HOLDFAST_CONTROL_PLANE_SERVER_CONTROL_PLANE_H_
