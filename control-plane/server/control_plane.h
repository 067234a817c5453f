// The control plane's logic, apart from gRPC: the operator's changes (plan, apply, rollback)
// through validation and the store, and the edge nodes' streams (who is connected, what each
// acknowledged or refused, what it reported). The gRPC services (services.h) translate calls
// into these methods.
//
// Staged rollout (DESIGN.md, "A config change travels the same road"): an apply makes the new
// version the target, and the previous one stays in force for the POPs its waves have not
// reached. The decisions (waves, the bake, the health gate, the rollback causes) are the state
// machine's, control-plane/rollout/rollout.h, which states them; the control plane feeds it
// (apply, ACK, NACK, each Replan with the fleet's health and the plan) and executes what it
// returns. A NACK of the target, a regression, or a correlated-failure freeze that began during
// the rollout rolls it back automatically: the previous version's content is stored as a new
// version (author "holdfast-control", the reason naming the cause) and pushed to every node at
// once, as an operator's rollback is. A fleet whose first wave already covers every POP (one
// POP), the first version, and apply with all_at_once are pushed to everyone at once. The
// rollout's state is in the store: a restarted control plane continues it, and the bake of the
// wave under way starts again (the nodes reconnect meanwhile).
//
// One class, defined by concern across server/: control_plane.cc (construction from the store,
// the config in force), operator_api.cc (plan, apply, rollback, status, history, audit),
// intents.cc (operator intents), edge_streams.cc (hello, ACK, NACK, reports, the snapshots
// sent), plan_fanout.cc (planning and sending plans) and rollout_driver.cc (feeding the rollout
// state machine and executing its actions).
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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "control-plane/rollout/rollout.h"
#include "control-plane/store/store.h"
#include "holdfast/v1/config.pb.h"
#include "holdfast/v1/control.pb.h"
#include "policy/plan/planner.h"

namespace holdfast::control {

// One edge node's open stream, as the control plane sees it. Implemented by the sync service.
class EdgeStream {
 public:
  virtual ~EdgeStream() = default;
  // Queues `message` for the node. Never blocks; may be called from any thread.
  virtual void Send(const v1::ControlMessage& message) = 0;
  // Ends the stream with `status`, which the edge sees. The control plane calls it with its
  // mutex held, after forgetting the stream: it must not call back into ControlPlane (Gone comes
  // later, from the stream's own thread, and finds nothing). Later calls do nothing.
  virtual void End(const absl::Status& status) = 0;
};

class ControlPlane {
 public:
  using Clock = std::function<absl::Time()>;

  // A node whose clock is further than this from the control plane's (measured on each report,
  // transit included) is flagged in status and logged. Freshness never depends on it.
  static constexpr absl::Duration kClockSkewWarning = absl::Seconds(2);

  ControlPlane(std::unique_ptr<Store> store, Clock clock);

  // Operator API. Validation findings are data (in the responses); an error status is a refusal
  // with its reason: INVALID_ARGUMENT (the config does not validate), FAILED_PRECONDITION
  // (another version landed since the change was planned), NOT_FOUND, or a store failure.
  // Apply and Rollback audit what they store; the caller audits their refusals. Apply starts a
  // staged rollout (FAILED_PRECONDITION while another one is under way, unless
  // request.all_at_once(), which pushes to every node at once and is audited as such). Rollback
  // ends a rollout under way and goes to every node at once: it is the emergency exit.
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

  // Plans without the safety governor from now on: every unhealthy POP is withdrawn at once,
  // with no floor, rate limit or freeze, which can blackhole every POP (Facebook, 2021). Only
  // for the lab's incident replays, which show what the governor prevents. Logged and audited
  // (`why` is the audit entry's detail).
  void DisableGovernor(const std::string& why);

  // Edge streams. A stream speaks for one node only, the one its hello names, which the sync
  // service has checked against the certificate (services.h); every message on it is bound to
  // that node, and its POP is the one the config in force gives the node, whatever the messages
  // say (issue 24: one edge's certificate must not move another node's health).
  //
  // Hello registers the stream under its node and sends the version in force for its POP (the
  // previous version while a rollout has not reached it) when the node runs another one. It is
  // refused (PERMISSION_DENIED; audited, counted, logged; the caller ends the stream with it)
  // when it names no node, a node the config in force does not have, or, for a node that says it
  // serves the version in force, another POP than that version gives it. A hello for a node that
  // has a stream already supersedes that stream, which is ended with ABORTED (audited, counted).
  // A NACK of a rollout's target rolls it back.
  [[nodiscard]] absl::Status Hello(EdgeStream* stream, const Actor& peer, const v1::Hello& hello);
  // A hello refused before Hello (a certificate of another node or role, a second hello on one
  // stream): audited, counted and logged as Hello's refusals are. Returns the PERMISSION_DENIED
  // status to end the stream with.
  [[nodiscard]] absl::Status RefuseHello(const Actor& peer, const v1::Hello& hello,
                                         const std::string& why);
  void Ack(EdgeStream* stream, const v1::Ack& ack);
  void Nack(EdgeStream* stream, const v1::Nack& nack);
  // Stores the report as the stream's node's, with node and POP set from the stream and the
  // config and received_at from the control plane's clock (what the planner judges freshness
  // by). A report naming another node, or another POP than the config in force gives the node
  // while the node acknowledged that version, is refused (PERMISSION_DENIED; audited, counted,
  // logged, nothing stored; the caller ends the stream). A report on a stream that was
  // superseded, or before hello, is dropped (OK).
  [[nodiscard]] absl::Status Report(EdgeStream* stream, const v1::HealthReport& report);
  // The stream ended; the node stays known (its last state is in the store), not connected.
  void Gone(EdgeStream* stream);
  // The control plane is stopping: every edge's stream is ended (UNAVAILABLE, `why`) and its node
  // saved as disconnected, so that the server's shutdown need not wait out streams that would
  // never end by themselves, and the edges reconnect to the next control plane at once.
  void EndStreams(const std::string& why);

  // Makes a new announcement plan (policy/plan/planner.h) from the config in force, the nodes'
  // latest reports and the operator intents in force, with the governor's memory of the last
  // plan, and sends it to every connected node when a decision changed; then moves a rollout
  // under way on (or rolls it back). Called every few seconds by the daemon, and at once after
  // an intent is added or removed.
  void Replan();
  // `wake` is called when a report says something the planner acts on (policy::ReportChanged,
  // or a node's first report), so that the daemon plans at once rather than at its next tick.
  // Set before the streams start; it is called with the mutex held and must only signal.
  void SetReplanWake(std::function<void()> wake) { replan_wake_ = std::move(wake); }

 private:
  struct Node {
    EdgeRecord record;
    EdgeStream* stream = nullptr;
    // The nonce of the last snapshot sent: an ACK or NACK for another one is stale.
    std::string nonce;
    uint64_t sent_version = 0;
    // The Actor of the stream, for the audit log of what it does.
    Actor peer;
    // Its clock skew was over kClockSkewWarning on its last report (logged once per crossing).
    bool skewed = false;
  };

  // Every *Locked method requires mu_.

  // control_plane.cc: construction and the config in force.
  // The intents, the last plan and the rollout kept in the store.
  void RestoreIntentsLocked();
  void RestorePlanLocked();
  void RestoreRolloutLocked();
  // Loads config_ from bundle_ (after a new version).
  void LoadConfigLocked();

  // operator_api.cc
  // Makes the stored version the one in force and sends it to every connected node at once.
  absl::StatusOr<v1::ApplyResponse> StoreAndPushLocked(absl::StatusOr<int64_t> stored);

  // intents.cc
  // The intents in force and the plan in force.
  v1::IntentsResponse IntentsLocked() const;

  // edge_streams.cc
  Node* FindLocked(EdgeStream* stream);
  // The node's POP as the config in force lists it, else as last stored (before any config);
  // "" when unknown. Never what the node says.
  std::string PopOfLocked(const Node& node) const;
  // The POP of node `name` in the config in force; nullopt without a config or when it has no
  // such node.
  std::optional<std::string> ConfiguredPopLocked(const std::string& name) const;
  // Audits, counts (into `counter`) and logs a refused edge message; returns PERMISSION_DENIED
  // with `why`.
  absl::Status RefuseEdgeLocked(const Actor& peer, const std::string& action,
                                const std::string& node, const std::string& claimed,
                                const std::string& why, uint64_t& counter);
  void SaveLocked(const Node& node);
  // The snapshot of the version in force for the node's POP, for one node.
  void SendCurrentLocked(Node& node);

  // plan_fanout.cc
  // The plan from the config in force (not null), the reports and the intents in force, then
  // `extra` when given (an intent not stored yet).
  v1::Plan MakePlanLocked(const v1::OperatorIntent* extra);
  // Makes `plan` the one in force and sends it to the edges when a decision changed.
  void AdoptPlanLocked(v1::Plan plan);
  void SendPlanLocked(Node& node);

  // rollout_driver.cc: what the rollout state machine is fed, and its actions executed.
  // The version the node should run: the previous one while a rollout has not reached its POP.
  uint64_t VersionForLocked(const Node& node) const;
  // Sends the snapshot it should run to each connected node that was sent another one.
  void ResyncLocked();
  // What the rollout judges by: each POP's connected nodes (ACKs, health) and the plan in force.
  FleetView FleetViewLocked() const;
  // Executes the rollout's actions in order: persists, pushes, rolls back, logs.
  void RunRolloutLocked(const std::vector<RolloutAction>& actions, absl::Time now);
  // Stores version `previous`'s content (previous_bundle_) again as a new version with `reason`
  // and pushes it to everyone; on a store failure the rollout stays under way (logged).
  void RollBackRolloutLocked(uint64_t previous, const std::string& reason, absl::Time now);
  void SaveRolloutLocked();

  std::mutex mu_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  // When this process began receiving reports: the planner's observing_since (until
  // stale_after has passed, a POP without a fresh report is unknown, not failed).
  absl::Time started_;
  std::function<void()> replan_wake_;
  // The planner's options: the governor is on unless DisableGovernor() was called.
  policy::PlannerOptions planner_options_;
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
  // The staged rollout under way, or the last one; persisted in the store.
  Rollout rollout_;
  // The content of the version in force before the rollout's target, for the POPs not reached
  // yet and for an automatic rollback.
  v1::ConfigBundle previous_bundle_;
  // The operator intents in force by id (the order the planner applies them), from the store.
  std::map<int64_t, v1::OperatorIntent> intents_;
  // Since the start: what was refused or cut off on the edges' streams (status shows them as
  // v1::EdgeStreamCounters).
  uint64_t hellos_refused_ = 0;
  uint64_t reports_refused_ = 0;
  uint64_t streams_superseded_ = 0;
};

}  // namespace holdfast::control

#endif  // HOLDFAST_CONTROL_PLANE_SERVER_CONTROL_PLANE_H_
