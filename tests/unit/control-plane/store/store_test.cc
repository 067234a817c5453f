#include "control-plane/store/store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace holdfast::control {
namespace {

using holdfast::testing::TempDir;

const Actor kAlice{"alice", "operator"};
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

std::unique_ptr<Store> OpenStore(const TempDir& dir) {
  auto store = Store::Open((dir.path() / "control.db").string());
  REQUIRE(store.ok());
  return *std::move(store);
}

TEST_CASE("an empty store has no version in force", "[control][store]") {
  TempDir dir;
  auto store = OpenStore(dir);
  const auto current = store->Current();
  REQUIRE(current.ok());
  CHECK_FALSE(current->has_value());
  CHECK(store->Version(1).status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("apply stores numbered versions with author, reason, time and parent",
          "[control][store]") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(*store->Apply("config one", kAlice, "first", 0, kT0) == 1);
  REQUIRE(*store->Apply("config two", Actor{"bob", "operator"}, "second", 1,
                        kT0 + absl::Seconds(5)) == 2);
  const auto current = store->Current();
  REQUIRE(current.ok());
  REQUIRE(current->has_value());
  CHECK((*current)->number == 2);
  CHECK((*current)->content == "config two");
  CHECK((*current)->author == "bob");
  CHECK((*current)->parent == 1);
  CHECK((*current)->created == kT0 + absl::Seconds(5));

  const auto history = store->History(10);
  REQUIRE(history.ok());
  REQUIRE(history->size() == 2);
  CHECK((*history)[0].number == 2);  // newest first
  CHECK((*history)[1].reason == "first");
  CHECK((*history)[1].content.empty());  // history lists, show reads the content
}

TEST_CASE("an apply planned against an older version is refused and stores nothing",
          "[control][store]") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Apply("a", kAlice, "one", 0, kT0).ok());
  REQUIRE(store->Apply("b", kAlice, "two", 1, kT0).ok());
  const auto stale = store->Apply("c", kAlice, "planned against 1", 1, kT0);
  CHECK(stale.status().code() == absl::StatusCode::kFailedPrecondition);
  CHECK((*store->Current())->number == 2);
  CHECK(store->History(10)->size() == 2);
  CHECK(store->AuditLog(10)->size() == 2);
}

TEST_CASE("rollback stores a new version with the old content and says which", "[control][store]") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Apply("good", kAlice, "one", 0, kT0).ok());
  REQUIRE(store->Apply("bad", kAlice, "two", 1, kT0).ok());
  const auto rolled = store->Rollback(1, kAlice, "two broke checkout", 2, kT0);
  REQUIRE(rolled.ok());
  CHECK(*rolled == 3);
  const ConfigVersion v = *store->Version(3);
  CHECK(v.content == "good");
  CHECK(v.restores == 1);
  CHECK(v.parent == 2);
  CHECK(store->Rollback(9, kAlice, "no such", 3, kT0).status().code() ==
        absl::StatusCode::kNotFound);
}

TEST_CASE("every apply and rollback is audited, refusals too", "[control][store]") {
  TempDir dir;
  auto store = OpenStore(dir);
  REQUIRE(store->Apply("a", kAlice, "one", 0, kT0).ok());
  REQUIRE(store->Rollback(1, kAlice, "again", 1, kT0).ok());
  REQUIRE(store
              ->Audit(AuditEntry{0, kT0, Actor{"mallory", "viewer"}, "apply", false,
                                 "refused: role viewer may not apply"})
              .ok());
  const auto log = store->AuditLog(10);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 3);
  CHECK((*log)[0].actor.name == "mallory");
  CHECK_FALSE((*log)[0].allowed);
  CHECK((*log)[1].action == "rollback");
  CHECK((*log)[1].detail.find("restores version 1") != std::string::npos);
  CHECK((*log)[2].action == "apply");
  CHECK((*log)[2].allowed);
}

TEST_CASE("edge states are kept per node and survive a reopen", "[control][store]") {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    REQUIRE(store->SaveEdge(EdgeRecord{"fra-1", "fra", 3, 0, "", kT0, "report"}).ok());
    REQUIRE(store->SaveEdge(EdgeRecord{"ams-1", "ams", 2, 3, "cert missing", kT0, ""}).ok());
    REQUIRE(store->SaveEdge(EdgeRecord{"fra-1", "fra", 4, 0, "", kT0, "newer"}).ok());
    REQUIRE(store->Apply("kept", kAlice, "one", 0, kT0).ok());
  }
  auto store = OpenStore(dir);
  const auto edges = store->Edges();
  REQUIRE(edges.ok());
  REQUIRE(edges->size() == 2);
  CHECK((*edges)[0].node == "ams-1");
  CHECK((*edges)[0].nack_reason == "cert missing");
  CHECK((*edges)[1].acked_version == 4);
  CHECK((*edges)[1].report == "newer");
  CHECK((*store->Current())->content == "kept");
}

TEST_CASE("intents are kept in order with ids never reused, audited, and survive a reopen",
          "[control][store]") {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    const auto first = store->AddIntent("drain", kAlice, "drain p2: works", kT0);
    const auto second = store->AddIntent("withdraw", kAlice, "withdraw p2: swap", kT0);
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(*first == 1);
    CHECK(*second == 2);
    REQUIRE(store->RemoveIntent(2, kAlice, "removes withdraw p2", kT0).ok());
    CHECK(store->RemoveIntent(2, kAlice, "again", kT0).code() == absl::StatusCode::kNotFound);
    // AUTOINCREMENT: the removed id is not handed out again.
    const auto third = store->AddIntent("drain-again", kAlice, "drain p1: x", kT0);
    REQUIRE(third.ok());
    CHECK(*third == 3);
  }
  auto store = OpenStore(dir);
  const auto intents = store->Intents();
  REQUIRE(intents.ok());
  REQUIRE(intents->size() == 2);
  CHECK((*intents)[0].id == 1);
  CHECK((*intents)[0].intent == "drain");
  CHECK((*intents)[1].id == 3);
  const auto log = store->AuditLog(10);
  REQUIRE(log.ok());
  REQUIRE(log->size() == 4);  // three adds and one removal; the failed removal left nothing
  CHECK((*log)[1].action == "remove-intent");
  CHECK((*log)[1].detail == "intent 2: removes withdraw p2");
  CHECK((*log)[3].action == "add-intent");
  CHECK((*log)[3].detail == "intent 1: drain p2: works");
  CHECK((*log)[3].actor.name == "alice");
}

// Each schema version added a table: 2 intents, 3 rollout, 4 plan. A store of schema 1 gains
// them all on open, and keeps its versions.
TEST_CASE("a store of schema 1 gains every later table on open, its versions kept",
          "[control][store]") {
  TempDir dir;
  {
    auto store = OpenStore(dir);
    REQUIRE(store->Apply("old", kAlice, "one", 0, kT0).ok());
  }
  const std::string path = (dir.path() / "control.db").string();
  REQUIRE(std::system(("sqlite3 " + path +
                       " 'DROP TABLE intents; DROP TABLE rollout; DROP TABLE plan; "
                       "PRAGMA user_version=1'")
                          .c_str()) == 0);
  {
    auto store = OpenStore(dir);
    CHECK((*store->Current())->content == "old");
    const auto intents = store->Intents();
    REQUIRE(intents.ok());
    CHECK(intents->empty());
    const auto rollout = store->Rollout();
    REQUIRE(rollout.ok());
    CHECK_FALSE(rollout->has_value());
    const auto plan = store->Plan();
    REQUIRE(plan.ok());
    CHECK_FALSE(plan->has_value());
    CHECK(store->AddIntent("drain", kAlice, "drain p1: x", kT0).ok());
    REQUIRE(store->SaveRollout("first").ok());
    REQUIRE(store->SaveRollout("second").ok());  // replaces
    REQUIRE(store->SavePlan("plan 1").ok());
    REQUIRE(store->SavePlan("plan 2").ok());  // replaces
  }
  auto store = OpenStore(dir);
  CHECK(store->Intents()->size() == 1);
  CHECK(*store->Rollout() == std::optional<std::string>("second"));
  CHECK(*store->Plan() == std::optional<std::string>("plan 2"));
}

TEST_CASE("a store written by a newer schema is refused, not misread", "[control][store]") {
  TempDir dir;
  { auto store = OpenStore(dir); }
  const std::string path = (dir.path() / "control.db").string();
  REQUIRE(std::system(("sqlite3 " + path + " 'PRAGMA user_version=99'").c_str()) == 0);
  const auto reopened = Store::Open(path);
  CHECK(reopened.status().code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a process killed mid-write loses no acknowledged version", "[control][store]") {
  TempDir dir;
  const std::string path = (dir.path() / "control.db").string();
  int acks[2];
  REQUIRE(::pipe(acks) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The writer: applies versions as fast as it can and reports each one that returned OK.
    ::close(acks[0]);
    auto store = Store::Open(path);
    if (!store.ok()) ::_exit(1);
    for (int64_t v = 1; v <= 100000; ++v) {
      const std::string content = "config " + std::to_string(v) + std::string(2000, 'x');
      if (!(*store)->Apply(content, kAlice, "load", v - 1, kT0).ok()) ::_exit(2);
      if (::write(acks[1], &v, sizeof v) != sizeof v) ::_exit(3);
    }
    ::_exit(0);
  }
  ::close(acks[1]);
  std::vector<int64_t> acked;
  int64_t v = 0;
  while (acked.size() < 200 && ::read(acks[0], &v, sizeof v) == sizeof v) acked.push_back(v);
  ::kill(child, SIGKILL);  // mid-write, most likely inside a transaction
  int status = 0;
  ::waitpid(child, &status, 0);
  while (::read(acks[0], &v, sizeof v) == sizeof v) acked.push_back(v);
  ::close(acks[0]);
  REQUIRE(acked.size() >= 200);

  auto store = Store::Open(path);
  REQUIRE(store.ok());
  for (const int64_t n : acked) {
    const auto version = (*store)->Version(n);
    REQUIRE(version.ok());
    CHECK(version->content == "config " + std::to_string(n) + std::string(2000, 'x'));
  }
  const auto current = (*store)->Current();
  REQUIRE(current.ok());
  REQUIRE(current->has_value());
  CHECK((*current)->number >= acked.back());
  // And it goes on from there.
  CHECK((*store)->Apply("after", kAlice, "go on", (*current)->number, kT0).ok());
}

}  // namespace
}  // namespace holdfast::control
