// A cluster's gate (edge/overload/gate.h) on a fake clock: admits under the limit, refuses at it
// with the reason, frees a place when a ticket goes, and tells refused clients to come back
// after about refused / drained seconds, spread.
#include "edge/overload/gate.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <variant>
#include <vector>

namespace holdfast::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart = SteadyTime() + std::chrono::hours(1);

bool Admitted(const ClusterGate::Decision& d) {
  return std::holds_alternative<ClusterGate::Ticket>(d);
}

TEST_CASE("the fixed breaker admits max_requests at once and refuses the next", "[overload]") {
  ClusterGate gate({.adaptive = false, .limit = {.max_limit = 2}}, kStart, 1);
  auto a = gate.Admit(kStart);
  auto b = gate.Admit(kStart);
  REQUIRE(Admitted(a));
  REQUIRE(Admitted(b));
  auto c = gate.Admit(kStart);
  REQUIRE_FALSE(Admitted(c));
  CHECK(std::get<ClusterGate::Refusal>(c).reason == ShedReason::kMaxRequests);
  CHECK(gate.Status(kStart).in_flight == 2);
  std::get<ClusterGate::Ticket>(a).Finish(kStart, milliseconds(1));
  CHECK(gate.Status(kStart).in_flight == 1);
  CHECK(Admitted(gate.Admit(kStart)));  // a place again (and given back at once)
  const GateStatus s = gate.Status(kStart);
  CHECK(s.admitted == 3);
  CHECK(s.refused[static_cast<size_t>(ShedReason::kMaxRequests)] == 1);
  CHECK(s.limit == 2);
}

TEST_CASE("the adaptive gate admits min_limit while it measures, then what the limit allows",
          "[overload]") {
  ClusterGate gate({.adaptive = true, .limit = {.min_limit = 3, .max_limit = 100}}, kStart, 1);
  std::vector<ClusterGate::Ticket> held;
  for (int i = 0; i < 3; ++i) {
    auto d = gate.Admit(kStart);
    REQUIRE(Admitted(d));
    held.push_back(std::get<ClusterGate::Ticket>(std::move(d)));
  }
  auto refused = gate.Admit(kStart);
  REQUIRE_FALSE(Admitted(refused));
  CHECK(std::get<ClusterGate::Refusal>(refused).reason == ShedReason::kConcurrencyLimit);
  CHECK(gate.Status(kStart).measuring);
  // The measurement's 50 answers, at 1 ms each.
  SteadyTime now = kStart;
  for (int i = 0; i < 50; ++i) {
    held[0].Finish(now, milliseconds(1));
    now += milliseconds(1);
    auto d = gate.Admit(now);
    REQUIRE(Admitted(d));
    held[0] = std::get<ClusterGate::Ticket>(std::move(d));
  }
  held[0].Finish(now, milliseconds(1));
  const GateStatus s = gate.Status(kStart);
  CHECK_FALSE(s.measuring);
  CHECK(s.min_rtt == milliseconds(1));
  CHECK(s.in_flight == 2);
}

TEST_CASE("a ticket that goes unfinished still frees its place", "[overload]") {
  ClusterGate gate({.adaptive = false, .limit = {.max_limit = 1}}, kStart, 1);
  {
    auto d = gate.Admit(kStart);
    REQUIRE(Admitted(d));
    CHECK_FALSE(Admitted(gate.Admit(kStart)));
  }
  CHECK(gate.Status(kStart).in_flight == 0);
  CHECK(Admitted(gate.Admit(kStart)));
}

TEST_CASE("Retry-After grows with refused over drained, spread over [0.5, 1.5] of it",
          "[overload]") {
  ClusterGate gate({.adaptive = false, .limit = {.max_limit = 10}}, kStart, 42);
  // A full second of 100 answers and 900 refusals: retried over 9 s, they come back at the
  // rate the backends drained.
  std::vector<ClusterGate::Ticket> held;
  for (int i = 0; i < 10; ++i) held.push_back(std::get<ClusterGate::Ticket>(gate.Admit(kStart)));
  for (int ms = 0; ms < 1000; ms += 10) {
    const SteadyTime now = kStart + milliseconds(ms);
    held[0].Finish(now, milliseconds(10));
    held[0] = std::get<ClusterGate::Ticket>(gate.Admit(now));
    for (int i = 0; i < 9; ++i) REQUIRE_FALSE(Admitted(gate.Admit(now)));
  }
  const GateStatus s = gate.Status(kStart + milliseconds(1000));
  CHECK(s.drained_per_second == Approx(100).epsilon(0.05));
  CHECK(s.refused_per_second == Approx(900).epsilon(0.05));
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    const ClusterGate::Refusal r =
        gate.Refuse(kStart + milliseconds(1000 + i), ShedReason::kMaxRequests);
    CHECK(r.retry_after >= seconds(4));
    CHECK(r.retry_after <= seconds(15));
    seen.insert(r.retry_after.count());
  }
  CHECK(seen.size() >= 5);  // spread, not one value
}

TEST_CASE("Retry-After is 1 or 2 s under light refusal and at most 60 s", "[overload]") {
  ClusterGate gate({.adaptive = false, .limit = {.max_limit = 1}}, kStart, 3);
  auto held = gate.Admit(kStart);
  const ClusterGate::Refusal light = gate.Refuse(kStart, ShedReason::kMaxRequests);
  CHECK(light.retry_after >= seconds(1));
  CHECK(light.retry_after <= seconds(2));
  // Nothing drains and thousands are refused.
  for (int i = 0; i < 5000; ++i) gate.Admit(kStart + milliseconds(i / 5));
  CHECK(gate.Refuse(kStart + seconds(1), ShedReason::kMaxRequests).retry_after <= seconds(60));
}

// A queued request's side: the ticket the gate handed over, if any.
struct TestWaiter : ClusterGate::Waiter {
  std::optional<ClusterGate::Ticket> ticket;
  void Admitted(ClusterGate::Ticket t) override { ticket = std::move(t); }
};

GateParams Queueing(uint32_t max_limit, uint32_t max_pending, Micros timeout) {
  return {.adaptive = false,
          .limit = {.max_limit = max_limit},
          .max_pending = max_pending,
          .pending_timeout = timeout};
}

TEST_CASE("over the limit a request waits in the queue and gets the next place freed",
          "[overload]") {
  ClusterGate gate(Queueing(1, 2, milliseconds(100)), kStart, 1);
  auto first = gate.Admit(kStart);
  REQUIRE(Admitted(first));
  auto waiter = std::make_shared<TestWaiter>();
  const ClusterGate::Decision second = gate.Admit(kStart, Priority::kNormal, waiter);
  REQUIRE(std::holds_alternative<ClusterGate::Queued>(second));
  CHECK(std::get<ClusterGate::Queued>(second).deadline == kStart + milliseconds(100));
  CHECK(gate.Status(kStart).pending == 1);
  // Without a waiter, nobody could be told: refused at once.
  CHECK(std::get<ClusterGate::Refusal>(gate.Admit(kStart)).reason == ShedReason::kMaxRequests);
  std::get<ClusterGate::Ticket>(first).Finish(kStart + milliseconds(5), milliseconds(5));
  REQUIRE(waiter->ticket.has_value());
  CHECK(gate.Status(kStart).in_flight == 1);
  CHECK(gate.Status(kStart).pending == 0);
  // Its place was handed over: abandoning now is too late, and refuses nothing.
  CHECK_FALSE(gate.Abandon(std::get<ClusterGate::Queued>(second).id, kStart).has_value());
}

TEST_CASE("the queue holds max_pending and lets a waiter go at its deadline", "[overload]") {
  ClusterGate gate(Queueing(1, 1, milliseconds(100)), kStart, 1);
  auto first = gate.Admit(kStart);
  auto waiter = std::make_shared<TestWaiter>();
  const ClusterGate::Decision queued = gate.Admit(kStart, Priority::kNormal, waiter);
  REQUIRE(std::holds_alternative<ClusterGate::Queued>(queued));
  const ClusterGate::Decision full =
      gate.Admit(kStart, Priority::kNormal, std::make_shared<TestWaiter>());
  REQUIRE(std::holds_alternative<ClusterGate::Refusal>(full));
  CHECK(std::get<ClusterGate::Refusal>(full).reason == ShedReason::kMaxPending);
  // The deadline passes: the waiter gives up, refused.
  const auto gave_up =
      gate.Abandon(std::get<ClusterGate::Queued>(queued).id, kStart + milliseconds(100));
  REQUIRE(gave_up.has_value());
  CHECK(gave_up->reason == ShedReason::kPendingTimeout);
  std::get<ClusterGate::Ticket>(first).Finish(kStart + milliseconds(150), milliseconds(150));
  CHECK_FALSE(waiter->ticket.has_value());
  const GateStatus s = gate.Status(kStart + milliseconds(150));
  CHECK(s.refused[static_cast<size_t>(ShedReason::kMaxPending)] == 1);
  CHECK(s.refused[static_cast<size_t>(ShedReason::kPendingTimeout)] == 1);
}

TEST_CASE("a request that would wait longer than pending_timeout is refused at once",
          "[overload]") {
  ClusterGate gate(Queueing(1, 100, milliseconds(50)), kStart, 1);
  // Ten answers in a second: a place every 100 ms, longer than the 50 ms anyone may wait.
  SteadyTime now = kStart;
  for (int i = 0; i < 10; ++i) {
    now = kStart + milliseconds(100 * i);
    std::get<ClusterGate::Ticket>(gate.Admit(now))
        .Finish(now + milliseconds(100), milliseconds(100));
  }
  auto held = gate.Admit(now);
  REQUIRE(Admitted(held));
  const ClusterGate::Decision d =
      gate.Admit(now, Priority::kNormal, std::make_shared<TestWaiter>());
  REQUIRE(std::holds_alternative<ClusterGate::Refusal>(d));
  CHECK(std::get<ClusterGate::Refusal>(d).reason == ShedReason::kPendingTimeout);
}

TEST_CASE(
    "critical requests wait ahead of normal ones and may exceed the adaptive limit by a "
    "quarter",
    "[overload]") {
  SECTION("the queue") {
    ClusterGate gate(Queueing(1, 10, milliseconds(100)), kStart, 1);
    auto first = gate.Admit(kStart);
    auto normal = std::make_shared<TestWaiter>();
    auto critical = std::make_shared<TestWaiter>();
    REQUIRE(
        std::holds_alternative<ClusterGate::Queued>(gate.Admit(kStart, Priority::kNormal, normal)));
    REQUIRE(std::holds_alternative<ClusterGate::Queued>(
        gate.Admit(kStart, Priority::kCritical, critical)));
    std::get<ClusterGate::Ticket>(first).Finish(kStart, milliseconds(1));
    CHECK(critical->ticket.has_value());
    CHECK_FALSE(normal->ticket.has_value());
    critical->ticket->Finish(kStart, milliseconds(1));
    CHECK(normal->ticket.has_value());
  }
  SECTION("the limit") {
    // Measuring min RTT: the limit is min_limit, 8; critical requests get 2 more.
    ClusterGate gate({.adaptive = true, .limit = {.min_limit = 8, .max_limit = 100}}, kStart, 1);
    std::vector<ClusterGate::Ticket> held;
    for (int i = 0; i < 8; ++i) held.push_back(std::get<ClusterGate::Ticket>(gate.Admit(kStart)));
    CHECK_FALSE(Admitted(gate.Admit(kStart)));
    held.push_back(std::get<ClusterGate::Ticket>(gate.Admit(kStart, Priority::kCritical)));
    held.push_back(std::get<ClusterGate::Ticket>(gate.Admit(kStart, Priority::kCritical)));
    const ClusterGate::Decision over = gate.Admit(kStart, Priority::kCritical);
    REQUIRE(std::holds_alternative<ClusterGate::Refusal>(over));
    CHECK(std::get<ClusterGate::Refusal>(over).reason == ShedReason::kConcurrencyLimit);
  }
}

}  // namespace
}  // namespace holdfast::edge
