// The staged rollout's state machine (control-plane/rollout/rollout.h) on a fake clock: each case
// builds a small fleet (POPs p1..pN, their connected nodes' ACKs and health), starts a rollout
// from version 1 to version 2, and moves the time and the fleet step by step, checking the
// actions and the state the control plane would persist.
#include "control-plane/rollout/rollout.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/proto_time.h"

namespace holdfast::control {
namespace {

using Catch::Matchers::Contains;
using Kind = RolloutAction::Kind;

constexpr uint64_t kPrevious = 1;
constexpr uint64_t kTarget = 2;
constexpr absl::Duration kBake = absl::Seconds(60);

// POPs p1..p`pops`; `waves` as safety.rollout.waves (name and POPs), none for the default canary.
v1::Config MakeConfig(int pops, const std::vector<std::vector<std::string>>& waves = {}) {
  v1::Config config;
  for (int i = 1; i <= pops; ++i) {
    v1::Pop* p = config.add_pops();
    p->set_name("p" + std::to_string(i));
    p->add_nodes()->set_name("n" + std::to_string(i));
  }
  v1::Rollout* rollout = config.mutable_safety()->mutable_rollout();
  rollout->mutable_bake_time()->set_seconds(absl::ToInt64Seconds(kBake));
  for (size_t i = 0; i < waves.size(); ++i) {
    v1::RolloutWave* w = rollout->add_waves();
    w->set_name("w" + std::to_string(i + 1));
    for (const std::string& p : waves[i]) w->add_pops(p);
  }
  return config;
}

std::vector<Kind> Kinds(const std::vector<RolloutAction>& actions) {
  std::vector<Kind> kinds;
  for (const RolloutAction& a : actions) kinds.push_back(a.kind);
  return kinds;
}

// A fleet of one connected node per POP, all on version 1 with every endpoint healthy and
// listeners up; a fake clock; the plan in force (none until a test sets one).
struct Lab {
  explicit Lab(v1::Config c) : config(std::move(c)) {
    for (const v1::Pop& p : config.pops()) {
      PopView& view = fleet.pops[p.name()];
      view.has_data = true;
      view.healthy_fraction = 1;
      view.listeners_up = true;
      view.acked_versions = {kPrevious};
    }
  }

  std::vector<RolloutAction> Start(bool all_at_once = false, uint64_t previous = kPrevious) {
    Rollout::StartInput input;
    input.target = kTarget;
    input.previous = previous;
    input.config = &config;
    input.fleet = View();
    input.all_at_once = all_at_once;
    input.applied_by = "alice";
    return rollout.Start(input, now);
  }
  FleetView View() const {
    FleetView view = fleet;
    view.plan = plan.has_value() ? &*plan : nullptr;
    return view;
  }
  std::vector<RolloutAction> Tick() { return rollout.OnTick(View(), now); }
  void Advance(absl::Duration d) { now += d; }
  // Every node of `pop` acknowledges `version` now.
  void Ack(const std::string& pop, uint64_t version = kTarget) {
    for (uint64_t& v : fleet.pops[pop].acked_versions) v = version;
    rollout.OnAck(pop, version, now);
  }
  // A correlated-failure freeze in the plan, since `since`.
  void Freeze(absl::Time since, bool acknowledged = false) {
    plan.emplace();
    plan->set_frozen(true);
    plan->set_freeze_acknowledged(acknowledged);
    *plan->mutable_freeze_since() = ToProtoTimestamp(since);
    v1::Plan::Alarm* alarm = plan->add_alarms();
    alarm->set_kind("correlated_failure");
    alarm->set_message("3 of 4 POPs turned unhealthy within 1m");
  }
  const v1::RolloutWaveStatus& Wave(int i) const { return rollout.status()->waves(i); }
  std::string State() const { return v1::RolloutStatus::State_Name(rollout.status()->state()); }

  v1::Config config;
  Rollout rollout;
  FleetView fleet;
  std::optional<v1::Plan> plan;
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
};

// Starts a rollout on a fleet of four POPs (canary p1, then all) and brings the canary to the end
// of its bake, one tick before the next wave.
void BakeCanary(Lab& lab) {
  REQUIRE(Kinds(lab.Start()) == std::vector{Kind::kStarted, Kind::kSave, Kind::kPush});
  lab.Advance(absl::Seconds(5));
  lab.Ack("p1");
  REQUIRE(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  lab.Advance(kBake - absl::Seconds(1));
  REQUIRE(lab.Tick().empty());
}

// ---- waves ----------------------------------------------------------------------------------

TEST_CASE("without waves the first POP is the canary, then everyone", "[control][rollout]") {
  const std::vector<v1::RolloutWaveStatus> waves = ResolveWaves(MakeConfig(3));
  REQUIRE(waves.size() == 2);
  CHECK(waves[0].name() == "canary");
  CHECK(std::vector<std::string>(waves[0].pops().begin(), waves[0].pops().end()) ==
        std::vector<std::string>{"p1"});
  CHECK(waves[1].name() == "all");
  CHECK(waves[1].pops_size() == 3);
  CHECK(waves[0].state() == "pending");
  CHECK(ResolveWaves(MakeConfig(0)).empty());
}

TEST_CASE("wave fractions count cumulatively and POPs no wave names get a last wave",
          "[control][rollout]") {
  v1::Config config = MakeConfig(5);
  v1::Rollout* rollout = config.mutable_safety()->mutable_rollout();
  v1::RolloutWave* first = rollout->add_waves();
  first->set_name("first");
  first->set_fraction(0.1);  // ceil(0.5): at least one POP
  v1::RolloutWave* half = rollout->add_waves();
  half->set_name("half");
  half->set_fraction(0.6);
  const std::vector<v1::RolloutWaveStatus> waves = ResolveWaves(config);
  REQUIRE(waves.size() == 3);
  CHECK(waves[0].pops_size() == 1);
  CHECK(waves[1].pops_size() == 3);
  CHECK(waves[2].name() == "remaining");
  CHECK(std::vector<std::string>(waves[2].pops().begin(), waves[2].pops().end()) ==
        std::vector<std::string>{"p4", "p5"});
}

// ---- start ----------------------------------------------------------------------------------

TEST_CASE("the first version goes to everyone at once without a rollout", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  const std::vector<RolloutAction> actions = lab.Start(false, /*previous=*/0);
  REQUIRE(Kinds(actions) == std::vector{Kind::kPushAll});
  CHECK(actions[0].version == kTarget);
  CHECK(lab.rollout.status() == nullptr);
  CHECK_FALSE(lab.rollout.VersionFor("p4").has_value());
}

TEST_CASE("a fleet whose first wave covers every POP goes to everyone at once",
          "[control][rollout]") {
  SECTION("one POP") {
    Lab lab(MakeConfig(1));
    CHECK(Kinds(lab.Start()) == std::vector{Kind::kPushAll});
    CHECK_FALSE(lab.rollout.running());
  }
  SECTION("a first wave of every POP") {
    Lab lab(MakeConfig(2, {{"p1", "p2"}}));
    CHECK(Kinds(lab.Start()) == std::vector{Kind::kPushAll});
    CHECK_FALSE(lab.rollout.running());
  }
  SECTION("a target whose config does not load") {
    Lab lab(MakeConfig(2));
    Rollout::StartInput input;
    input.target = kTarget;
    input.previous = kPrevious;
    CHECK(Kinds(lab.rollout.Start(input, lab.now)) == std::vector{Kind::kPushAll});
  }
}

TEST_CASE("the canary POP gets the target first and the others keep the previous version",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  const std::vector<RolloutAction> actions = lab.Start();
  REQUIRE(Kinds(actions) == std::vector{Kind::kStarted, Kind::kSave, Kind::kPush});
  CHECK(actions[2].version == kTarget);
  CHECK(actions[2].pops == std::vector<std::string>{"p1"});
  CHECK(actions[2].wave == "canary");
  const v1::RolloutStatus& r = *lab.rollout.status();
  CHECK(lab.State() == "RUNNING");
  CHECK(r.target_version() == kTarget);
  CHECK(r.previous_version() == kPrevious);
  CHECK(r.current_wave() == 0);
  CHECK(FromProtoTime(r.started()) == lab.now);
  CHECK(FromProtoDuration(r.bake_time()) == kBake);
  CHECK(r.baseline_size() == 4);
  CHECK(r.baseline(0).has_data());
  CHECK(lab.Wave(0).state() == "waiting");
  CHECK(lab.Wave(1).state() == "pending");
  CHECK(lab.rollout.VersionFor("p1") == kTarget);
  CHECK(lab.rollout.VersionFor("p2") == kPrevious);
  CHECK(lab.rollout.VersionFor("") == kPrevious);  // a node of no known POP
}

TEST_CASE("a second apply is refused while a rollout runs unless it is all at once",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  CHECK(lab.rollout.CanStart(false).ok());
  lab.Start();
  const absl::Status refused = lab.rollout.CanStart(false);
  CHECK(refused.code() == absl::StatusCode::kFailedPrecondition);
  CHECK_THAT(std::string(refused.message()),
             Contains("version 2 is still rolling out (wave canary, waiting)"));
  CHECK(lab.rollout.CanStart(true).ok());
}

TEST_CASE("apply all at once supersedes a rollout under way and goes to everyone",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  lab.Advance(absl::Seconds(3));
  Rollout::StartInput input;
  input.target = 3;
  input.previous = kTarget;
  input.config = &lab.config;
  input.all_at_once = true;
  input.applied_by = "bob";
  const std::vector<RolloutAction> actions = lab.rollout.Start(input, lab.now);
  REQUIRE(Kinds(actions) == std::vector{Kind::kSave, Kind::kPushAll});
  CHECK(actions[1].version == 3);
  CHECK(lab.State() == "SUPERSEDED");
  CHECK(lab.rollout.status()->outcome() == "version 3 was applied all at once by bob");
  CHECK(FromProtoTime(lab.rollout.status()->finished()) == lab.now);
  CHECK_FALSE(lab.rollout.VersionFor("p4").has_value());
}

TEST_CASE("apply all at once with no rollout under way keeps the last rollout's record",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  lab.rollout.OperatorRollback("alice", 3, kPrevious, "no", lab.now);
  CHECK(Kinds(lab.Start(/*all_at_once=*/true)) == std::vector{Kind::kPushAll});
  CHECK(lab.State() == "ROLLED_BACK");
}

// ---- progress -------------------------------------------------------------------------------

TEST_CASE("a wave waits for every connected node of its POPs to acknowledge the target",
          "[control][rollout]") {
  Lab lab(MakeConfig(3));
  lab.fleet.pops["p1"].acked_versions = {kPrevious, kPrevious};  // two nodes
  lab.Start();
  lab.Advance(kBake * 2);
  CHECK(lab.Tick().empty());
  CHECK(lab.Wave(0).state() == "waiting");
  lab.fleet.pops["p1"].acked_versions[0] = kTarget;
  CHECK(lab.Tick().empty());
  CHECK(lab.Wave(0).state() == "waiting");
  CHECK_FALSE(lab.Wave(0).has_bake_until());
  // Nodes of the POPs not reached yet are not waited for; the last ACK starts the bake.
  lab.Ack("p1");
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  CHECK(lab.Wave(0).state() == "baking");
  CHECK(FromProtoTime(lab.Wave(0).bake_until()) == lab.now + kBake);
}

TEST_CASE("a node that stops acknowledging the target sends its wave back to waiting",
          "[control][rollout]") {
  Lab lab(MakeConfig(3));
  lab.Start();
  lab.Ack("p1");
  REQUIRE(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  // A node reconnects serving the previous version (its hello counts as its ACK).
  lab.fleet.pops["p1"].acked_versions = {kTarget, kPrevious};
  CHECK(lab.Tick().empty());
  CHECK(lab.Wave(0).state() == "waiting");
  CHECK_FALSE(lab.Wave(0).has_bake_until());
}

TEST_CASE("a POP without connected nodes does not hold its wave", "[control][rollout]") {
  Lab lab(MakeConfig(3));
  lab.fleet.pops.erase("p1");
  lab.Start();
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  CHECK(lab.Wave(0).state() == "baking");
}

TEST_CASE("the bake counts from the wave's last ACK and then the next wave starts",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  // Another ACK of the target in the canary POP (a node that reconnected) starts the bake again.
  lab.Ack("p1");
  CHECK(lab.Tick().empty());
  CHECK(FromProtoTime(lab.Wave(0).bake_until()) == lab.now + kBake);
  lab.Advance(kBake - absl::Seconds(1));
  CHECK(lab.Tick().empty());
  lab.Advance(absl::Seconds(1));
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
  CHECK(actions[0].wave == "canary");
  CHECK(actions[2].wave == "all");
  CHECK(actions[2].pops == std::vector<std::string>{"p1", "p2", "p3", "p4"});
  CHECK(lab.Wave(0).state() == "done");
  CHECK(FromProtoTime(lab.Wave(0).done()) == lab.now);
  CHECK(lab.Wave(1).state() == "waiting");
  CHECK(lab.rollout.status()->current_wave() == 1);
  CHECK(lab.rollout.VersionFor("p4") == kTarget);
}

TEST_CASE("the last wave's bake completes the rollout", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.Advance(absl::Seconds(1));
  REQUIRE(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
  for (const char* p : {"p1", "p2", "p3", "p4"}) lab.Ack(p);
  REQUIRE(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  lab.Advance(kBake);
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kWaveDone, Kind::kDone, Kind::kSave});
  CHECK(actions[1].version == kTarget);
  CHECK(lab.State() == "COMPLETED");
  CHECK(lab.rollout.status()->outcome() == "every wave done: version 2 is in force everywhere");
  CHECK(FromProtoTime(lab.rollout.status()->finished()) == lab.now);
  CHECK_FALSE(lab.rollout.running());
  CHECK(lab.Tick().empty());
  CHECK(lab.rollout.CanStart(false).ok());
}

TEST_CASE("named waves run in order and a wave past its bake is done at the tick",
          "[control][rollout]") {
  Lab lab(MakeConfig(4, {{"p2"}, {"p3", "p1"}}));
  const std::vector<RolloutAction> start = lab.Start();
  REQUIRE(start.size() == 3);
  CHECK(start[2].pops == std::vector<std::string>{"p2"});
  REQUIRE(lab.rollout.status()->waves_size() == 3);
  CHECK(lab.Wave(2).name() == "remaining");
  lab.Ack("p2");
  // A tick late enough ends the bake it begins: the saves of the next wave cover it.
  lab.Advance(kBake);
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
  CHECK(actions[2].pops == std::vector<std::string>{"p3", "p1"});
  CHECK(lab.rollout.VersionFor("p4") == kPrevious);
}

TEST_CASE("an ACK of another version or from a POP outside the wave does not move the bake",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  const absl::Time started = lab.now;
  lab.Advance(absl::Seconds(10));
  lab.rollout.OnAck("p1", kPrevious, lab.now);
  lab.rollout.OnAck("p2", kTarget, lab.now);
  CHECK(FromProtoTime(lab.Wave(0).last_ack()) == started);
}

// ---- rollback causes ------------------------------------------------------------------------

TEST_CASE("a NACK of the target rolls the rollout back and another NACK does not",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  CHECK(lab.rollout.OnNack("n1", "p1", kPrevious, "old", lab.now).empty());
  const std::vector<RolloutAction> actions =
      lab.rollout.OnNack("n1", "p1", kTarget, "HF3001: no certificate", lab.now);
  REQUIRE(Kinds(actions) == std::vector{Kind::kRollBack});
  CHECK(actions[0].version == kPrevious);
  CHECK(actions[0].reason == "node n1 (POP p1) refused version 2: HF3001: no certificate");
  // Under way until the control plane has stored the rollback.
  CHECK(lab.rollout.running());
  CHECK(Kinds(lab.rollout.RollbackStored(actions[0].reason, 3, lab.now)) ==
        std::vector{Kind::kSave});
  CHECK(lab.State() == "ROLLED_BACK");
  CHECK(lab.rollout.status()->outcome() == actions[0].reason);
  CHECK(lab.rollout.status()->rollback_version() == 3);
  CHECK(FromProtoTime(lab.rollout.status()->finished()) == lab.now);
  CHECK(lab.Wave(1).state() == "pending");
  CHECK_FALSE(lab.rollout.VersionFor("p1").has_value());
}

TEST_CASE("a health regression held for kRegressionHold rolls the rollout back",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.fleet.pops["p1"].healthy_fraction = 0.5;
  CHECK(lab.Tick().empty());
  lab.Advance(Rollout::kRegressionHold - absl::Seconds(1));
  CHECK(lab.Tick().empty());
  lab.Advance(absl::Seconds(1));
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kRollBack});
  CHECK(actions[0].version == kPrevious);
  CHECK(actions[0].reason == "POP p1 regressed: healthy endpoint fraction 1.00 -> 0.50");
}

TEST_CASE("a dip shorter than kRegressionHold holds the wave but does not roll back",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.fleet.pops["p1"].healthy_fraction = 0.7;  // down 0.3: past the tolerance of 0.2
  lab.Advance(absl::Seconds(1));                // the bake is over, but the POP looks worse
  CHECK(lab.Tick().empty());
  CHECK(lab.Wave(0).state() == "baking");
  lab.Advance(Rollout::kRegressionHold - absl::Seconds(2));
  CHECK(lab.Tick().empty());
  lab.fleet.pops["p1"].healthy_fraction = 0.9;  // recovered within the tolerance
  lab.Advance(absl::Seconds(1));
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
  // A new dip starts its own streak: the old one is forgotten.
  lab.fleet.pops["p1"].healthy_fraction = 0.5;
  CHECK(lab.Tick().empty());
  lab.Advance(Rollout::kRegressionHold - absl::Seconds(1));
  CHECK(lab.Tick().empty());
}

TEST_CASE("listeners that go down in a reached POP roll the rollout back", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.fleet.pops["p1"].listeners_up = false;
  CHECK(lab.Tick().empty());
  lab.Advance(Rollout::kRegressionHold);
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kRollBack});
  CHECK(actions[0].reason == "POP p1 regressed: its listeners went down");
}

TEST_CASE("POPs not reached yet are not judged", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  lab.Ack("p1");
  lab.fleet.pops["p2"].healthy_fraction = 0;
  lab.fleet.pops["p2"].listeners_up = false;
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kSave});
  lab.Advance(kBake);
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
}

TEST_CASE("a canary whose nodes have not reported waits for their first report, its baseline",
          "[control][rollout]") {
  // The control plane just started: p1's node is connected and has said nothing yet. Unknown is
  // not unhealthy, and no baseline to judge a regression by: the target waits.
  Lab lab(MakeConfig(4));
  lab.fleet.pops["p1"].has_data = false;
  CHECK(Kinds(lab.Start()) == std::vector{Kind::kStarted, Kind::kSave});
  CHECK(lab.Wave(0).state() == "awaiting_health");
  CHECK_THAT(lab.Wave(0).waiting_for(), Catch::Matchers::Contains("POP p1"));
  CHECK(lab.rollout.VersionFor("p1") == kPrevious);
  lab.Advance(absl::Seconds(2));
  CHECK(lab.Tick().empty());
  // It reports: half its endpoints healthy. That is the baseline, and the canary goes.
  lab.fleet.pops["p1"] = PopView{.has_data = true,
                                 .healthy_fraction = 0.5,
                                 .listeners_up = true,
                                 .acked_versions = {kPrevious}};
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kSave, Kind::kPush});
  CHECK(lab.Wave(0).state() == "waiting");
  CHECK(lab.Wave(0).waiting_for().empty());
  CHECK(lab.rollout.VersionFor("p1") == kTarget);
  REQUIRE(lab.rollout.status()->baseline(0).pop() == "p1");
  CHECK(lab.rollout.status()->baseline(0).has_data());
  CHECK(lab.rollout.status()->baseline(0).healthy_fraction() == 0.5);
  // Judged against it: down to 0.2 for kRegressionHold rolls back.
  lab.Ack("p1");
  lab.fleet.pops["p1"].healthy_fraction = 0.2;
  lab.Tick();
  lab.Advance(Rollout::kRegressionHold);
  const std::vector<RolloutAction> back = lab.Tick();
  REQUIRE(Kinds(back) == std::vector{Kind::kRollBack});
  CHECK_THAT(back[0].reason, Catch::Matchers::Contains("healthy endpoint fraction 0.50 -> 0.20"));
}

TEST_CASE("a wave waits at most kEvidenceWait for a POP that never reports", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.fleet.pops["p1"].has_data = false;
  lab.Start();
  lab.Advance(Rollout::kEvidenceWait - absl::Seconds(1));
  CHECK(lab.Tick().empty());
  lab.Advance(absl::Seconds(1));
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kSave, Kind::kPush});
  CHECK(lab.Wave(0).state() == "waiting");
  CHECK_THAT(lab.Wave(0).waiting_for(), Catch::Matchers::Contains("without a baseline for POP p1"));
}

TEST_CASE("a POP of a later wave gets its baseline from its first report", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.fleet.pops["p3"].has_data = false;
  BakeCanary(lab);
  // p3 reports during the canary's bake: its baseline is taken then, before the target reaches it.
  lab.fleet.pops["p3"].has_data = true;
  lab.fleet.pops["p3"].healthy_fraction = 0.75;
  lab.Advance(absl::Seconds(1));
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
  REQUIRE(lab.rollout.status()->baseline(2).pop() == "p3");
  CHECK(lab.rollout.status()->baseline(2).has_data());
  CHECK(lab.rollout.status()->baseline(2).healthy_fraction() == 0.75);
}

TEST_CASE("a POP whose reports stop is not taken for a regressed one", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.fleet.pops["p1"].has_data = false;
  lab.fleet.pops["p1"].healthy_fraction = 0;
  lab.Advance(Rollout::kRegressionHold);
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
}

TEST_CASE("a correlated-failure freeze that begins mid-rollout rolls it back",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  lab.Freeze(lab.now);
  const std::vector<RolloutAction> actions = lab.Tick();
  REQUIRE(Kinds(actions) == std::vector{Kind::kRollBack});
  CHECK(actions[0].version == kPrevious);
  CHECK(actions[0].reason ==
        "correlated failure during the rollout: 3 of 4 POPs turned unhealthy within 1m");
  // Until the rollback is stored, each tick asks again.
  CHECK(lab.rollout.running());
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kRollBack});
  lab.rollout.RollbackStored(actions[0].reason, 3, lab.now);
  CHECK(lab.State() == "ROLLED_BACK");
  CHECK(lab.Tick().empty());
}

TEST_CASE("a freeze that began at the rollout's start counts as during it", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  const absl::Time start = lab.now;
  lab.Start();
  lab.Freeze(start);
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kRollBack});
}

TEST_CASE("a freeze in force before the rollout began does not roll it back",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Freeze(lab.now - absl::Minutes(5));
  BakeCanary(lab);
  lab.Advance(absl::Seconds(1));
  CHECK(Kinds(lab.Tick()) == std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
}

TEST_CASE("an acknowledged freeze or one without a correlated-failure alarm does not roll back",
          "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  SECTION("acknowledged") { lab.Freeze(lab.now, /*acknowledged=*/true); }
  SECTION("another alarm") {
    lab.Freeze(lab.now);
    lab.plan->mutable_alarms(0)->set_kind("floor_unmet");
  }
  SECTION("not frozen") {
    lab.Freeze(lab.now);
    lab.plan->set_frozen(false);
  }
  CHECK(lab.Tick().empty());
}

TEST_CASE("an operator's rollback ends the rollout", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  const std::vector<RolloutAction> actions =
      lab.rollout.OperatorRollback("alice", 3, kPrevious, "bad idea", lab.now);
  CHECK(Kinds(actions) == std::vector{Kind::kSave});
  CHECK(lab.State() == "ROLLED_BACK");
  CHECK(lab.rollout.status()->outcome() ==
        "rolled back by alice as version 3 (restores 1): bad idea");
  CHECK(lab.rollout.status()->rollback_version() == 3);
  CHECK(FromProtoTime(lab.rollout.status()->finished()) == lab.now);
  CHECK(lab.Tick().empty());
  // Nothing to end a second time.
  CHECK(lab.rollout.OperatorRollback("alice", 4, 2, "again", lab.now).empty());
  CHECK(lab.rollout.status()->rollback_version() == 3);
}

// ---- resume ---------------------------------------------------------------------------------

TEST_CASE("a resumed rollout bakes its current wave again from the restart", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  BakeCanary(lab);
  const v1::RolloutStatus saved = *lab.rollout.status();

  Rollout resumed;
  lab.Advance(absl::Minutes(10));
  CHECK(resumed.Resume(saved, /*resumable=*/true, lab.now).empty());
  REQUIRE(resumed.running());
  CHECK(resumed.status()->current_wave() == 0);
  CHECK(FromProtoTime(resumed.status()->waves(0).last_ack()) == lab.now);
  CHECK(resumed.VersionFor("p1") == kTarget);
  CHECK(resumed.VersionFor("p2") == kPrevious);
  FleetView view = lab.View();
  CHECK(resumed.OnTick(view, lab.now).empty());
  CHECK(FromProtoTime(resumed.status()->waves(0).bake_until()) == lab.now + kBake);
  lab.Advance(kBake);
  CHECK(Kinds(resumed.OnTick(view, lab.now)) ==
        std::vector{Kind::kWaveDone, Kind::kSave, Kind::kPush});
}

TEST_CASE("a rollout that cannot be resumed ends superseded", "[control][rollout]") {
  Lab lab(MakeConfig(4));
  lab.Start();
  Rollout resumed;
  CHECK(Kinds(resumed.Resume(*lab.rollout.status(), /*resumable=*/false, lab.now)) ==
        std::vector{Kind::kSave});
  CHECK(resumed.status()->state() == v1::RolloutStatus::SUPERSEDED);
  CHECK(resumed.status()->outcome() == "the control plane restarted and could not resume it");
  CHECK_FALSE(resumed.VersionFor("p1").has_value());
}

TEST_CASE("a finished rollout is kept as it was for status", "[control][rollout]") {
  v1::RolloutStatus done;
  done.set_state(v1::RolloutStatus::COMPLETED);
  done.set_target_version(kTarget);
  Rollout resumed;
  CHECK(resumed.Resume(done, /*resumable=*/false, absl::UnixEpoch()).empty());
  CHECK(resumed.status()->state() == v1::RolloutStatus::COMPLETED);
  CHECK_FALSE(resumed.running());
}

}  // namespace
}  // namespace holdfast::control
