// Per-client token buckets (edge/overload/client_limiter.h) on a fake clock: a client gets its
// burst and then its rate, another client is not affected, the Retry-After says when the next
// token comes, and the table of clients stays bounded.
#include "edge/overload/client_limiter.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

namespace holdfast::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart = SteadyTime() + std::chrono::hours(1);

TEST_CASE("a client gets its burst, then its rate; another client is not affected", "[overload]") {
  ClientLimiter limiter({.rate = 10, .burst = 5});
  for (int i = 0; i < 5; ++i) REQUIRE(limiter.Take("192.0.2.1", kStart).allowed);
  const ClientLimiter::Decision refused = limiter.Take("192.0.2.1", kStart);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after == seconds(1));  // a token in 100 ms: whole seconds, at least 1
  CHECK(limiter.Take("192.0.2.2", kStart).allowed);
  // 10 a second: one more after 100 ms, not two.
  CHECK(limiter.Take("192.0.2.1", kStart + milliseconds(100)).allowed);
  CHECK_FALSE(limiter.Take("192.0.2.1", kStart + milliseconds(100)).allowed);
  // Over a second at the full rate, about 10 get through.
  int allowed = 0;
  for (int ms = 110; ms <= 1100; ms += 10) {
    allowed += limiter.Take("192.0.2.1", kStart + milliseconds(ms)).allowed ? 1 : 0;
  }
  CHECK(allowed >= 9);
  CHECK(allowed <= 11);
}

TEST_CASE("a slow rate says so in its Retry-After", "[overload]") {
  ClientLimiter limiter({.rate = 0.2, .burst = 1});
  REQUIRE(limiter.Take("a", kStart).allowed);
  CHECK(limiter.Take("a", kStart).retry_after == seconds(5));
  CHECK(limiter.Take("a", kStart + seconds(2)).retry_after == seconds(3));
}

TEST_CASE(
    "the table of clients is bounded: idle ones go, busy ones stay, the rest pass "
    "untracked",
    "[overload]") {
  ClientLimiter limiter({.rate = 1, .burst = 1, .max_clients = ClientLimiter::kShards});
  // Far more clients than places, each using its one token: shards fill with busy clients.
  for (int i = 0; i < 200; ++i) limiter.Take("client-" + std::to_string(i), kStart);
  CHECK(limiter.clients() <= ClientLimiter::kShards);
  CHECK(limiter.untracked() > 0);
  // Two seconds later every bucket has refilled: the next sweep makes room again.
  const size_t before = limiter.untracked();
  for (int i = 0; i < 200; ++i) limiter.Take("other-" + std::to_string(i), kStart + seconds(2));
  CHECK(limiter.clients() <= ClientLimiter::kShards);
  CHECK(limiter.untracked() - before < 200);
}

}  // namespace
}  // namespace holdfast::edge
