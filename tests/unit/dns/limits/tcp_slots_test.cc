#include "dns/limits/tcp_slots.h"

#include <catch2/catch.hpp>

namespace holdfast::dns {
namespace {

using Verdict = TcpSlots::Verdict;

TcpClientKey V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return TcpClientKey::FromV4({a, b, c, d});
}

TEST_CASE("keys IPv4 by address and IPv6 by /64, mapped IPv4 as IPv4", "[dns][limits]") {
  CHECK(V4(192, 0, 2, 1) == V4(192, 0, 2, 1));
  CHECK_FALSE(V4(192, 0, 2, 1) == V4(192, 0, 2, 2));
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4};
  std::array<uint8_t, 16> b = a;
  b[8] = 0xff;  // inside the /64: differs from byte 8 on
  b[15] = 9;
  CHECK(TcpClientKey::FromV6(a) == TcpClientKey::FromV6(b));
  b[7] = 5;
  CHECK_FALSE(TcpClientKey::FromV6(a) == TcpClientKey::FromV6(b));
  std::array<uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  CHECK(TcpClientKey::FromV6(mapped) == V4(192, 0, 2, 7));
  CHECK_FALSE(TcpClientKey::FromV6(mapped) == V4(192, 0, 2, 8));
}

TEST_CASE("refuses a client's connection past its limit, others still admitted", "[dns][limits]") {
  TcpSlots slots(TcpSlotsOptions{10, 2});
  const TcpClientKey a = V4(192, 0, 2, 1);
  const TcpClientKey b = V4(192, 0, 2, 2);
  REQUIRE(slots.Check(a) == Verdict::kAdmit);
  const TcpSlots::Id first = slots.Add(a);
  REQUIRE(slots.Check(a) == Verdict::kAdmit);
  slots.Add(a);
  CHECK(slots.Check(a) == Verdict::kRefusePerClient);
  CHECK(slots.Check(b) == Verdict::kAdmit);
  CHECK(slots.count(a) == 2);
  // A closed connection gives its client the slot back.
  slots.Remove(first);
  CHECK(slots.count(a) == 1);
  CHECK(slots.Check(a) == Verdict::kAdmit);
}

TEST_CASE("per-client limit 0 turns it off", "[dns][limits]") {
  TcpSlots slots(TcpSlotsOptions{100, 0});
  for (int i = 0; i < 100; ++i) {
    REQUIRE(slots.Check(V4(192, 0, 2, 1)) == Verdict::kAdmit);
    slots.Add(V4(192, 0, 2, 1));
  }
  CHECK(slots.Check(V4(192, 0, 2, 1)) == Verdict::kFull);
}

TEST_CASE("the per-client limit is checked before the table is full", "[dns][limits]") {
  // A client at its limit must not close another client's idle connection to get in.
  TcpSlots slots(TcpSlotsOptions{2, 1});
  slots.Add(V4(192, 0, 2, 1));
  slots.Add(V4(192, 0, 2, 2));
  CHECK(slots.Check(V4(192, 0, 2, 1)) == Verdict::kRefusePerClient);
  CHECK(slots.Check(V4(192, 0, 2, 3)) == Verdict::kFull);
}

TEST_CASE("the connection idle the longest is offered first and a busy one never",
          "[dns][limits]") {
  TcpSlots slots(TcpSlotsOptions{3, 0});
  const TcpSlots::Id a = slots.Add(V4(192, 0, 2, 1));
  const TcpSlots::Id b = slots.Add(V4(192, 0, 2, 2));
  const TcpSlots::Id c = slots.Add(V4(192, 0, 2, 3));
  CHECK(slots.Check(V4(192, 0, 2, 4)) == Verdict::kFull);
  CHECK(slots.OldestIdle() == a);
  // `a` asks a query and is answered: idle again, but since now, so `b` has waited longest.
  slots.SetBusy(a);
  CHECK(slots.OldestIdle() == b);
  slots.SetIdle(a);
  CHECK(slots.OldestIdle() == b);
  // Setting an idle connection idle again does not restart its idle time.
  slots.SetIdle(b);
  CHECK(slots.OldestIdle() == b);
  slots.SetBusy(b);
  slots.SetBusy(c);
  CHECK(slots.OldestIdle() == a);
  slots.SetBusy(a);
  CHECK_FALSE(slots.OldestIdle().has_value());
  CHECK(slots.idle() == 0);
  CHECK(slots.size() == 3);
}

TEST_CASE("removing twice or touching a removed connection changes nothing", "[dns][limits]") {
  TcpSlots slots(TcpSlotsOptions{3, 2});
  const TcpSlots::Id a = slots.Add(V4(192, 0, 2, 1));
  const TcpSlots::Id b = slots.Add(V4(192, 0, 2, 1));
  slots.SetBusy(b);
  slots.Remove(a);
  slots.Remove(a);
  slots.SetIdle(a);
  slots.SetBusy(a);
  CHECK(slots.size() == 1);
  CHECK(slots.idle() == 0);
  CHECK(slots.count(V4(192, 0, 2, 1)) == 1);
  CHECK_FALSE(slots.OldestIdle().has_value());
  slots.Remove(b);
  CHECK(slots.size() == 0);
  CHECK(slots.count(V4(192, 0, 2, 1)) == 0);
  // Ids are not reused: a stale id cannot reach a newer connection.
  CHECK(slots.Add(V4(192, 0, 2, 1)) != a);
}

}  // namespace
}  // namespace holdfast::dns
