#include "control-plane/store/store.h"

#include <sqlite3.h>

#include <utility>

#include "common/cat.h"
#include "common/status_macros.h"

namespace holdfast::control {
namespace {

// Schema version 4 (1 + intents, 2 + rollout, 3 + plan). user_version says which schema a file has;
// a newer one is refused rather than misread. An older one is brought up to date on open: every
// table is CREATE TABLE IF NOT EXISTS, so running the whole schema adds only what is missing.
constexpr int kSchemaVersion = 4;
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS versions (
  number   INTEGER PRIMARY KEY,
  content  BLOB    NOT NULL,
  author   TEXT    NOT NULL,
  reason   TEXT    NOT NULL,
  created  INTEGER NOT NULL,  -- Unix microseconds
  parent   INTEGER NOT NULL,
  restores INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS current (
  id      INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL REFERENCES versions(number)
);
CREATE TABLE IF NOT EXISTS audit (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  time    INTEGER NOT NULL,
  actor   TEXT    NOT NULL,
  role    TEXT    NOT NULL,
  action  TEXT    NOT NULL,
  allowed INTEGER NOT NULL,
  detail  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS edges (
  node           TEXT PRIMARY KEY,
  pop            TEXT    NOT NULL,
  acked_version  INTEGER NOT NULL,
  nacked_version INTEGER NOT NULL,
  nack_reason    TEXT    NOT NULL,
  last_seen      INTEGER NOT NULL,
  report         BLOB    NOT NULL
);
-- AUTOINCREMENT: an id is never reused, so `restore 7` cannot hit a later intent.
CREATE TABLE IF NOT EXISTS intents (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  intent  BLOB    NOT NULL,
  created INTEGER NOT NULL  -- Unix microseconds
);
-- The staged rollout under way or the last one: one row, a serialized message (opaque here).
CREATE TABLE IF NOT EXISTS rollout (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  state BLOB    NOT NULL
);
-- The last announcement plan, which carries the governor's memory: one row, serialized.
CREATE TABLE IF NOT EXISTS plan (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  plan BLOB    NOT NULL
);
)sql";

// Soft state (edges' records, the plan) is written without waiting for the disk: WAL with
// synchronous=NORMAL is durable at the next checkpoint. Versions and the audit log are not.
class RelaxedSync {
 public:
  explicit RelaxedSync(sqlite3* db);
  ~RelaxedSync();
  RelaxedSync(const RelaxedSync&) = delete;
  RelaxedSync& operator=(const RelaxedSync&) = delete;
  const absl::Status& status() const { return status_; }

 private:
  sqlite3* db_;
  absl::Status status_;
};

absl::Status SqlError(sqlite3* db, std::string_view what) {
  return absl::InternalError(Cat("store: ", what, ": ", sqlite3_errmsg(db)));
}

// One prepared statement; finalized when it goes. Bind* and Column* are 1- and 0-based as in
// SQLite.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      status_ = SqlError(db, sql);
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int i, int64_t v) {
    if (status_.ok() && sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK)
      status_ = SqlError(db_, "bind");
    return *this;
  }
  // SQLITE_TRANSIENT: SQLite copies the bytes, so `v` need not outlive the statement.
  Statement& Bind(int i, const std::string& v) {
    if (status_.ok() && sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT,
                                            SQLITE_UTF8) != SQLITE_OK) {
      status_ = SqlError(db_, "bind");
    }
    return *this;
  }
  Statement& BindBlob(int i, const std::string& v) {
    if (status_.ok() &&
        sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT) != SQLITE_OK) {
      status_ = SqlError(db_, "bind");
    }
    return *this;
  }

  // Steps once: true with a row, false when done.
  [[nodiscard]] absl::StatusOr<bool> Step() {
    HF_RETURN_IF_ERROR(status_);
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlError(db_, "step");
  }
  // Runs a statement that returns no rows.
  [[nodiscard]] absl::Status Run() {
    HF_ASSIGN_OR_RETURN(const bool row, Step());
    if (row) return absl::InternalError("store: a statement returned a row");
    return absl::OkStatus();
  }

  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }
  absl::Time Time(int col) const { return absl::FromUnixMicros(Int(col)); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  absl::Status status_;
};

absl::Status Exec(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    absl::Status s = absl::InternalError(Cat("store: ", error == nullptr ? "" : error));
    sqlite3_free(error);
    return s;
  }
  return absl::OkStatus();
}

RelaxedSync::RelaxedSync(sqlite3* db) : db_(db), status_(Exec(db, "PRAGMA synchronous=NORMAL")) {}
RelaxedSync::~RelaxedSync() { (void)Exec(db_, "PRAGMA synchronous=FULL"); }

// BEGIN IMMEDIATE ... COMMIT, rolled back when the scope is left without Commit().
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db), status_(Exec(db, "BEGIN IMMEDIATE")) {}
  ~Transaction() {
    if (status_.ok() && !committed_) (void)Exec(db_, "ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  const absl::Status& status() const { return status_; }
  [[nodiscard]] absl::Status Commit() {
    HF_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  sqlite3* db_;
  absl::Status status_;
  bool committed_ = false;
};

ConfigVersion ReadVersion(const Statement& s, bool with_content) {
  ConfigVersion v;
  v.number = s.Int(0);
  if (with_content) v.content = s.Text(1);
  v.author = s.Text(2);
  v.reason = s.Text(3);
  v.created = s.Time(4);
  v.parent = s.Int(5);
  v.restores = s.Int(6);
  return v;
}

absl::Status AppendAudit(sqlite3* db, const AuditEntry& e) {
  Statement s(db,
              "INSERT INTO audit (time, actor, role, action, allowed, detail) "
              "VALUES (?, ?, ?, ?, ?, ?)");
  s.Bind(1, absl::ToUnixMicros(e.time))
      .Bind(2, e.actor.name)
      .Bind(3, e.actor.role)
      .Bind(4, e.action)
      .Bind(5, int64_t{e.allowed ? 1 : 0})
      .Bind(6, e.detail);
  return s.Run();
}

absl::StatusOr<int64_t> CurrentNumber(sqlite3* db) {
  Statement s(db, "SELECT version FROM current WHERE id = 1");
  HF_ASSIGN_OR_RETURN(const bool row, s.Step());
  return row ? s.Int(0) : 0;
}

}  // namespace

Store::Store(sqlite3* db) : db_(db) {}

Store::~Store() { sqlite3_close(db_); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Store> store(new Store(db));  // closes `db` on every return below
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(Cat("store: cannot open ", path, ": ",
                                      db == nullptr ? "out of memory" : sqlite3_errmsg(db)));
  }
  // WAL with synchronous=FULL: a committed transaction is on disk before COMMIT returns.
  HF_RETURN_IF_ERROR(Exec(db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;"));
  Statement version(db, "PRAGMA user_version");
  HF_ASSIGN_OR_RETURN(const bool row, version.Step());
  const int64_t schema = row ? version.Int(0) : 0;
  if (schema > kSchemaVersion) {
    return absl::FailedPreconditionError(Cat("store: ", path, " has schema version ", schema,
                                             "; this holdfast-control ", "knows up to ",
                                             kSchemaVersion, " (a newer release wrote it)"));
  }
  if (schema < kSchemaVersion) {
    Transaction tx(db);
    HF_RETURN_IF_ERROR(tx.status());
    HF_RETURN_IF_ERROR(Exec(db, kSchema));
    HF_RETURN_IF_ERROR(Exec(db, Cat("PRAGMA user_version=", kSchemaVersion).c_str()));
    HF_RETURN_IF_ERROR(tx.Commit());
  }
  return store;
}

absl::StatusOr<std::optional<ConfigVersion>> Store::Current() {
  HF_ASSIGN_OR_RETURN(const int64_t number, CurrentNumber(db_));
  if (number == 0) return std::nullopt;
  HF_ASSIGN_OR_RETURN(ConfigVersion v, Version(number));
  return v;
}

absl::StatusOr<ConfigVersion> Store::Version(int64_t number) {
  Statement s(db_,
              "SELECT number, content, author, reason, created, parent, restores FROM versions "
              "WHERE number = ?");
  s.Bind(1, number);
  HF_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return absl::NotFoundError(Cat("no config version ", number));
  return ReadVersion(s, /*with_content=*/true);
}

absl::StatusOr<std::vector<ConfigVersion>> Store::History(int limit) {
  Statement s(db_,
              "SELECT number, NULL, author, reason, created, parent, restores FROM versions "
              "ORDER BY number DESC LIMIT ?");
  s.Bind(1, int64_t{limit});
  std::vector<ConfigVersion> out;
  for (;;) {
    HF_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(ReadVersion(s, /*with_content=*/false));
  }
  return out;
}

absl::StatusOr<int64_t> Store::StoreVersion(const std::string& content, const Actor& actor,
                                            const std::string& reason, int64_t base,
                                            int64_t restores, const std::string& action,
                                            absl::Time now) {
  Transaction tx(db_);
  HF_RETURN_IF_ERROR(tx.status());
  HF_ASSIGN_OR_RETURN(const int64_t current, CurrentNumber(db_));
  if (current != base) {
    return absl::FailedPreconditionError(Cat("version ", current, " was applied since version ",
                                             base,
                                             " this change was planned against; plan it again"));
  }
  Statement insert(db_,
                   "INSERT INTO versions (number, content, author, reason, created, parent, "
                   "restores) VALUES (?, ?, ?, ?, ?, ?, ?)");
  const int64_t number = current + 1;
  insert.Bind(1, number)
      .BindBlob(2, content)
      .Bind(3, actor.name)
      .Bind(4, reason)
      .Bind(5, absl::ToUnixMicros(now))
      .Bind(6, current)
      .Bind(7, restores);
  HF_RETURN_IF_ERROR(insert.Run());
  Statement set(db_, "INSERT OR REPLACE INTO current (id, version) VALUES (1, ?)");
  set.Bind(1, number);
  HF_RETURN_IF_ERROR(set.Run());
  std::string detail = Cat("version ", number);
  if (restores != 0) Append(detail, " restores version ", restores);
  Append(detail, ": ", reason);
  HF_RETURN_IF_ERROR(AppendAudit(db_, AuditEntry{0, now, actor, action, true, detail}));
  HF_RETURN_IF_ERROR(tx.Commit());
  return number;
}

absl::StatusOr<int64_t> Store::Apply(const std::string& content, const Actor& actor,
                                     const std::string& reason, int64_t base, absl::Time now) {
  return StoreVersion(content, actor, reason, base, /*restores=*/0, "apply", now);
}

absl::StatusOr<int64_t> Store::Rollback(int64_t target, const Actor& actor,
                                        const std::string& reason, int64_t base, absl::Time now) {
  HF_ASSIGN_OR_RETURN(const ConfigVersion old, Version(target));
  return StoreVersion(old.content, actor, reason, base, target, "rollback", now);
}

absl::Status Store::Audit(const AuditEntry& entry) { return AppendAudit(db_, entry); }

absl::StatusOr<std::vector<AuditEntry>> Store::AuditLog(int limit) {
  Statement s(db_,
              "SELECT id, time, actor, role, action, allowed, detail FROM audit "
              "ORDER BY id DESC LIMIT ?");
  s.Bind(1, int64_t{limit});
  std::vector<AuditEntry> out;
  for (;;) {
    HF_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(AuditEntry{s.Int(0), s.Time(1), Actor{s.Text(2), s.Text(3)}, s.Text(4),
                             s.Int(5) != 0, s.Text(6)});
  }
  return out;
}

absl::StatusOr<int64_t> Store::AddIntent(const std::string& intent, const Actor& actor,
                                         const std::string& detail, absl::Time now) {
  Transaction tx(db_);
  HF_RETURN_IF_ERROR(tx.status());
  Statement insert(db_, "INSERT INTO intents (intent, created) VALUES (?, ?)");
  insert.BindBlob(1, intent).Bind(2, absl::ToUnixMicros(now));
  HF_RETURN_IF_ERROR(insert.Run());
  const int64_t id = sqlite3_last_insert_rowid(db_);
  HF_RETURN_IF_ERROR(AppendAudit(
      db_, AuditEntry{0, now, actor, "add-intent", true, Cat("intent ", id, ": ", detail)}));
  HF_RETURN_IF_ERROR(tx.Commit());
  return id;
}

absl::Status Store::RemoveIntent(int64_t id, const Actor& actor, const std::string& detail,
                                 absl::Time now) {
  Transaction tx(db_);
  HF_RETURN_IF_ERROR(tx.status());
  Statement remove(db_, "DELETE FROM intents WHERE id = ?");
  remove.Bind(1, id);
  HF_RETURN_IF_ERROR(remove.Run());
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(Cat("no intent ", id, " in force"));
  HF_RETURN_IF_ERROR(AppendAudit(
      db_, AuditEntry{0, now, actor, "remove-intent", true, Cat("intent ", id, ": ", detail)}));
  return tx.Commit();
}

absl::StatusOr<std::vector<IntentRecord>> Store::Intents() {
  Statement s(db_, "SELECT id, intent FROM intents ORDER BY id");
  std::vector<IntentRecord> out;
  for (;;) {
    HF_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(IntentRecord{s.Int(0), s.Text(1)});
  }
  return out;
}

absl::Status Store::SaveRollout(const std::string& state) {
  // Durable (synchronous=FULL): a restarted control plane must not forget that a rollout is
  // under way, or it would send the target to POPs whose wave never started.
  Statement s(db_, "INSERT OR REPLACE INTO rollout (id, state) VALUES (1, ?)");
  s.BindBlob(1, state);
  return s.Run();
}

absl::StatusOr<std::optional<std::string>> Store::Rollout() {
  Statement s(db_, "SELECT state FROM rollout WHERE id = 1");
  HF_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::nullopt;
  return s.Text(0);
}

absl::Status Store::SaveEdge(const EdgeRecord& e) {
  // Soft state: every edge says it again when it next connects. A thousand ACKs after an apply
  // would otherwise cost a thousand fsyncs.
  const RelaxedSync relaxed(db_);
  HF_RETURN_IF_ERROR(relaxed.status());
  Statement s(db_,
              "INSERT OR REPLACE INTO edges (node, pop, acked_version, nacked_version, "
              "nack_reason, last_seen, report) VALUES (?, ?, ?, ?, ?, ?, ?)");
  s.Bind(1, e.node)
      .Bind(2, e.pop)
      .Bind(3, e.acked_version)
      .Bind(4, e.nacked_version)
      .Bind(5, e.nack_reason)
      .Bind(6, absl::ToUnixMicros(e.last_seen))
      .BindBlob(7, e.report);
  return s.Run();
}

absl::Status Store::SavePlan(const std::string& plan) {
  // Made again every few seconds: losing the last few to a crash costs one plan's memory.
  const RelaxedSync relaxed(db_);
  HF_RETURN_IF_ERROR(relaxed.status());
  Statement s(db_, "INSERT OR REPLACE INTO plan (id, plan) VALUES (1, ?)");
  s.BindBlob(1, plan);
  return s.Run();
}

absl::StatusOr<std::optional<std::string>> Store::Plan() {
  Statement s(db_, "SELECT plan FROM plan WHERE id = 1");
  HF_ASSIGN_OR_RETURN(const bool row, s.Step());
  if (!row) return std::nullopt;
  return s.Text(0);
}

absl::StatusOr<std::vector<EdgeRecord>> Store::Edges() {
  Statement s(db_,
              "SELECT node, pop, acked_version, nacked_version, nack_reason, last_seen, report "
              "FROM edges ORDER BY node");
  std::vector<EdgeRecord> out;
  for (;;) {
    HF_ASSIGN_OR_RETURN(const bool row, s.Step());
    if (!row) break;
    out.push_back(
        EdgeRecord{s.Text(0), s.Text(1), s.Int(2), s.Int(3), s.Text(4), s.Time(5), s.Text(6)});
  }
  return out;
}

}  // namespace holdfast::control
