// The control plane's store: every config version, the audit log of every operator action, and
// the last known state of every edge node. SQLite (the embedded default): one file, WAL journal,
// synchronous=FULL, so a write that returned OK survives a crash of the process or the machine.
// Every write is one transaction; a write that fails changes nothing.
//
// Versions are numbered 1, 2, 3, ... and never change once stored. A rollback stores a new
// version with an earlier one's content: the version in force only ever grows, which is what
// edges compare against, and the history says what happened in the order it happened.
//
// Operator intents in force (drain, withdraw) are kept until an operator removes them, each under
// an id that is never reused; adding and removing one is audited in the same transaction.
//
// The staged rollout under way (or the last one) is one serialized record, replaced on every
// change of its state.
//
// Time is passed in (the caller's clock). Not thread-safe: one caller at a time (the control
// plane serializes writes on its own).
#ifndef HOLDFAST_CONTROL_PLANE_STORE_STORE_H_
#define HOLDFAST_CONTROL_PLANE_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

struct sqlite3;

namespace holdfast::control {

// Who did something, as the operator API authenticated them.
struct Actor {
  std::string name;
  std::string role;  // "operator", "viewer", "edge", "" when unauthenticated
};

struct ConfigVersion {
  int64_t number = 0;
  // The config as the control plane sends it to edges (a serialized bundle; opaque here).
  std::string content;
  std::string author;
  std::string reason;
  absl::Time created;
  // The version in force when this one was stored; 0 for the first.
  int64_t parent = 0;
  // For a rollback: the version whose content this one restores; else 0.
  int64_t restores = 0;
};

struct AuditEntry {
  int64_t id = 0;
  absl::Time time;
  Actor actor;
  // What was asked: "apply", "rollback", "status", ...
  std::string action;
  // False when the request was refused (authentication, role, validation, a stale base).
  bool allowed = true;
  // What it was about and how it ended, for people: "version 7", "refused: role viewer".
  std::string detail;
};

// What the control plane last heard from an edge node.
struct EdgeRecord {
  std::string node;
  std::string pop;
  // The newest version the node acknowledged (0: none yet), and the last one it refused.
  int64_t acked_version = 0;
  int64_t nacked_version = 0;
  std::string nack_reason;
  absl::Time last_seen;
  // The node's last report (a serialized holdfast.v1 message; opaque here).
  std::string report;
};

// An operator intent in force: a serialized holdfast.v1.OperatorIntent (opaque here).
struct IntentRecord {
  int64_t id = 0;
  std::string intent;
};

class Store {
 public:
  // Opens the store at `path`, creating it (and its schema) when absent.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The version in force, or nullopt before the first apply.
  [[nodiscard]] absl::StatusOr<std::optional<ConfigVersion>> Current();
  // One version; NOT_FOUND when there is no such version.
  [[nodiscard]] absl::StatusOr<ConfigVersion> Version(int64_t number);
  // The newest `limit` versions, newest first (content left empty).
  [[nodiscard]] absl::StatusOr<std::vector<ConfigVersion>> History(int limit);

  // Stores `content` as a new version in force, and audits it, in one transaction. `base` is the
  // version the caller planned against (0: none): when another version was applied since, the
  // apply is refused with FAILED_PRECONDITION, so no one overwrites a change they have not seen.
  [[nodiscard]] absl::StatusOr<int64_t> Apply(const std::string& content, const Actor& actor,
                                              const std::string& reason, int64_t base,
                                              absl::Time now);
  // Stores a new version with the content of version `target` and makes it the one in force,
  // audited, in one transaction. `base` as for Apply. NOT_FOUND when `target` does not exist.
  [[nodiscard]] absl::StatusOr<int64_t> Rollback(int64_t target, const Actor& actor,
                                                 const std::string& reason, int64_t base,
                                                 absl::Time now);

  // Appends to the audit log (refusals, reads worth recording).
  [[nodiscard]] absl::Status Audit(const AuditEntry& entry);
  // The newest `limit` audit entries, newest first.
  [[nodiscard]] absl::StatusOr<std::vector<AuditEntry>> AuditLog(int limit);

  // Stores an intent and audits it ("add-intent", detail "intent ID: `detail`") in one
  // transaction; returns its id.
  [[nodiscard]] absl::StatusOr<int64_t> AddIntent(const std::string& intent, const Actor& actor,
                                                  const std::string& detail, absl::Time now);
  // Removes intent `id` and audits it ("remove-intent") in one transaction; NOT_FOUND (and
  // nothing audited) when there is no such intent.
  [[nodiscard]] absl::Status RemoveIntent(int64_t id, const Actor& actor, const std::string& detail,
                                          absl::Time now);
  // The intents in force, oldest first.
  [[nodiscard]] absl::StatusOr<std::vector<IntentRecord>> Intents();

  // Replaces the rollout record (a serialized holdfast.v1.RolloutStatus; opaque here). Flushed
  // to disk before it returns.
  [[nodiscard]] absl::Status SaveRollout(const std::string& state);
  // The rollout record, or nullopt when none was ever saved.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Rollout();

  // Replaces the last announcement plan (a serialized holdfast.v1.Plan; opaque here). Not
  // flushed to disk before it returns: it is made again every few seconds.
  [[nodiscard]] absl::Status SavePlan(const std::string& plan);
  // The last plan saved, or nullopt.
  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Plan();

  // Records a node's state, replacing what was stored for it. Not flushed to disk before it
  // returns (the edges say it again when they reconnect); versions and the audit log are.
  [[nodiscard]] absl::Status SaveEdge(const EdgeRecord& edge);
  // Every edge node ever heard from, by node name.
  [[nodiscard]] absl::StatusOr<std::vector<EdgeRecord>> Edges();

 private:
  explicit Store(sqlite3* db);
  [[nodiscard]] absl::StatusOr<int64_t> StoreVersion(const std::string& content, const Actor& actor,
                                                     const std::string& reason, int64_t base,
                                                     int64_t restores, const std::string& action,
                                                     absl::Time now);

  sqlite3* db_;
};

}  // namespace holdfast::control

#endif  // HOLDFAST_CONTROL_PLANE_STORE_STORE_H_
