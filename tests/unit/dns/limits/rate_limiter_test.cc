#include "dns/limits/rate_limiter.h"

#include <catch2/catch.hpp>
#include <chrono>

namespace holdfast::dns {
namespace {

using std::chrono::milliseconds;
using Action = RateLimiter::Action;

const std::chrono::steady_clock::time_point kT0{std::chrono::seconds(1000)};

ClientKey V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return ClientKey::FromV4({a, b, c, d}); }

TEST_CASE("keys IPv4 by /24 and IPv6 by /56, mapped IPv4 as IPv4", "[dns][limits]") {
  CHECK(V4(192, 0, 2, 1) == V4(192, 0, 2, 200));
  CHECK_FALSE(V4(192, 0, 2, 1) == V4(192, 0, 3, 1));
  std::array<uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4};
  std::array<uint8_t, 16> b = a;
  b[7] = 0xff;  // inside the /56: differs from byte 7 on
  b[15] = 9;
  CHECK(ClientKey::FromV6(a) == ClientKey::FromV6(b));
  b[6] = 0;
  CHECK_FALSE(ClientKey::FromV6(a) == ClientKey::FromV6(b));
  std::array<uint8_t, 16> mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  CHECK(ClientKey::FromV6(mapped) == V4(192, 0, 2, 1));
}

TEST_CASE("sends the burst, then slips every Nth and drops the rest", "[dns][limits]") {
  RateLimiter rrl(RateLimitOptions{10, 5, 2, 100});
  for (int i = 0; i < 5; ++i) CHECK(rrl.Check(V4(192, 0, 2, 1), kT0) == Action::kSend);
  CHECK(rrl.Check(V4(192, 0, 2, 1), kT0) == Action::kDrop);
  CHECK(rrl.Check(V4(192, 0, 2, 2), kT0) == Action::kSlip);  // same /24
  CHECK(rrl.Check(V4(192, 0, 2, 1), kT0) == Action::kDrop);
  CHECK(rrl.Check(V4(192, 0, 2, 1), kT0) == Action::kSlip);
  // Another prefix has its own bucket.
  CHECK(rrl.Check(V4(198, 51, 100, 1), kT0) == Action::kSend);
}

TEST_CASE("refills at the configured rate", "[dns][limits]") {
  RateLimiter rrl(RateLimitOptions{10, 1, 0, 100});
  const ClientKey c = V4(192, 0, 2, 1);
  CHECK(rrl.Check(c, kT0) == Action::kSend);
  CHECK(rrl.Check(c, kT0 + milliseconds(50)) == Action::kDrop);  // half a token back
  CHECK(rrl.Check(c, kT0 + milliseconds(110)) == Action::kSend);
  // A long pause refills to the burst, not beyond.
  CHECK(rrl.Check(c, kT0 + milliseconds(10000)) == Action::kSend);
  CHECK(rrl.Check(c, kT0 + milliseconds(10000)) == Action::kDrop);
}

TEST_CASE("rate 0 turns limiting off and slip 1 truncates every limited response",
          "[dns][limits]") {
  RateLimiter off(RateLimitOptions{0, 0, 2, 100});
  for (int i = 0; i < 1000; ++i) REQUIRE(off.Check(V4(192, 0, 2, 1), kT0) == Action::kSend);
  RateLimiter slip_all(RateLimitOptions{1, 1, 1, 100});
  CHECK(slip_all.Check(V4(192, 0, 2, 1), kT0) == Action::kSend);
  for (int i = 0; i < 10; ++i) CHECK(slip_all.Check(V4(192, 0, 2, 1), kT0) == Action::kSlip);
}

TEST_CASE("the table of prefixes stays bounded", "[dns][limits]") {
  RateLimiter rrl(RateLimitOptions{1, 1, 0, 4});
  CHECK(rrl.Check(V4(10, 0, 0, 1), kT0) == Action::kSend);
  CHECK(rrl.Check(V4(10, 0, 0, 1), kT0) == Action::kDrop);
  // Four more prefixes fill the table; the fifth starts it afresh, forgetting 10.0.0.0/24.
  for (uint8_t i = 1; i <= 4; ++i) CHECK(rrl.Check(V4(10, 0, i, 1), kT0) == Action::kSend);
  CHECK(rrl.Check(V4(10, 0, 0, 1), kT0) == Action::kSend);
}

}  // namespace
}  // namespace holdfast::dns
