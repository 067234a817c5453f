// The adaptive concurrency limit (edge/overload/concurrency_limit.h) on a fake clock: it
// measures the latency without queueing first, grows while the backends answer at that
// latency, shrinks while they queue, leaves alone a limit nothing presses against, and settles
// near what a backend of K workers takes at once.
#include "edge/overload/concurrency_limit.h"

#include <catch2/catch.hpp>
#include <chrono>

namespace holdfast::edge {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const SteadyTime kStart = SteadyTime() + std::chrono::hours(1);

struct Driver {
  LimitParams params;
  SteadyTime now = kStart;
  ConcurrencyLimit limit;

  explicit Driver(LimitParams p = {}) : params(p), limit(p, kStart, 7) {}

  // Answers the min RTT measurement with `rtt`: min_rtt_requests samples admitted under it.
  void Measure(Micros rtt) {
    REQUIRE(limit.measuring());
    for (uint32_t i = 0; i < params.min_rtt_requests; ++i) limit.OnSample(limit.epoch(), rtt);
    limit.Advance(now);
    REQUIRE_FALSE(limit.measuring());
  }

  // One update interval with `in_flight` requests at its peak, each answering after `rtt`.
  void Interval(uint32_t in_flight, Micros rtt) {
    limit.NoteInFlight(in_flight);
    for (int i = 0; i < 100; ++i) limit.OnSample(limit.epoch(), rtt);
    now += params.update_interval;
    limit.Advance(now);
  }
};

TEST_CASE("the limit starts at min_limit while the latency without queueing is measured",
          "[overload]") {
  Driver d;
  CHECK(d.limit.measuring());
  CHECK(d.limit.limit() == 3);
  // Too few samples: still measuring.
  for (int i = 0; i < 49; ++i) d.limit.OnSample(d.limit.epoch(), milliseconds(1));
  d.limit.Advance(d.now);
  CHECK(d.limit.measuring());
  d.limit.OnSample(d.limit.epoch(), milliseconds(1));
  d.limit.Advance(d.now);
  CHECK_FALSE(d.limit.measuring());
  CHECK(d.limit.min_rtt() == milliseconds(1));
}

TEST_CASE("samples of requests admitted before a measurement do not count in it", "[overload]") {
  Driver d;
  const uint64_t before = d.limit.epoch();
  d.Measure(milliseconds(2));
  // The next measurement is due within 60 s +- 15%.
  d.now += seconds(70);
  d.limit.Advance(d.now);
  REQUIRE(d.limit.measuring());
  for (int i = 0; i < 100; ++i) d.limit.OnSample(before, milliseconds(50));
  d.limit.Advance(d.now);
  CHECK(d.limit.measuring());
  d.Measure(milliseconds(3));
  CHECK(d.limit.min_rtt() == milliseconds(3));
}

TEST_CASE("the limit grows while the backends answer at min RTT, up to max_limit", "[overload]") {
  Driver d({.max_limit = 200});
  d.Measure(milliseconds(1));
  uint32_t last = d.limit.limit();
  // At min RTT the gradient is 1 + buffer, 1.25, plus the headroom: 3, 5, 8, 13, ...
  d.Interval(last, milliseconds(1));
  CHECK(d.limit.limit() == 5);
  d.Interval(5, milliseconds(1));
  CHECK(d.limit.limit() == 8);
  for (int i = 0; i < 20; ++i) {
    last = d.limit.limit();
    d.Interval(last, milliseconds(1));
    CHECK(d.limit.limit() >= last);
  }
  CHECK(d.limit.limit() == 200);
}

TEST_CASE("the limit shrinks while the backends queue, down to min_limit", "[overload]") {
  Driver d({.max_limit = 1000});
  d.Measure(milliseconds(1));
  for (int i = 0; i < 20; ++i) d.Interval(d.limit.limit(), milliseconds(1));
  const uint32_t high = d.limit.limit();
  REQUIRE(high == 1000);
  // Ten times min RTT: the gradient is at its floor, 0.5.
  d.Interval(high, milliseconds(10));
  CHECK(d.limit.sample_rtt() == milliseconds(10));
  CHECK(d.limit.limit() == 522);  // 500 + sqrt(500)
  for (int i = 0; i < 30; ++i) d.Interval(d.limit.limit(), milliseconds(10));
  CHECK(d.limit.limit() == 3);
}

TEST_CASE("a limit nothing presses against is left alone, whatever the latency", "[overload]") {
  Driver d;
  d.Measure(milliseconds(1));
  for (int i = 0; i < 6; ++i) d.Interval(d.limit.limit(), milliseconds(1));
  const uint32_t limit = d.limit.limit();
  // A slow path at low concurrency: fewer than half the limit in flight.
  d.Interval(limit / 2 - 1, milliseconds(100));
  CHECK(d.limit.limit() == limit);
  // Nothing answered in an interval: nothing to go by.
  d.now += d.params.update_interval;
  d.limit.Advance(d.now);
  CHECK(d.limit.limit() == limit);
}

TEST_CASE(
    "in front of a backend of K workers the limit settles near K and the latency near "
    "min RTT",
    "[overload]") {
  // K requests at once take 2 ms each; more wait their turn: latency 2 ms x in_flight / K.
  const uint32_t k = GENERATE(8u, 64u, 400u);
  Driver d({.max_limit = 4000});
  d.Measure(milliseconds(2));
  auto latency = [&](uint32_t in_flight) {
    return Micros(2000 * std::max<uint32_t>(in_flight, k) / k);
  };
  // Offered load far above capacity: the limit is always full.
  for (int i = 0; i < 200; ++i) d.Interval(d.limit.limit(), latency(d.limit.limit()));
  INFO("K=" << k << " limit=" << d.limit.limit());
  CHECK(d.limit.limit() >= k * 3 / 4);
  CHECK(d.limit.limit() <= k * 2 + 8);
  CHECK(latency(d.limit.limit()) <= Micros(4000));
}

TEST_CASE("min RTT is measured again after its jittered interval", "[overload]") {
  Driver d;
  d.Measure(milliseconds(1));
  // Not before 60 s - 15%.
  for (int s = 1; s <= 50; ++s) {
    d.now = kStart + seconds(s);
    d.limit.Advance(d.now);
    REQUIRE_FALSE(d.limit.measuring());
  }
  bool measuring = false;
  for (int s = 51; s <= 70 && !measuring; ++s) {
    d.now = kStart + seconds(s);
    d.limit.Advance(d.now);
    measuring = d.limit.measuring();
  }
  CHECK(measuring);
  CHECK(d.limit.limit() == 3);
}

TEST_CASE("a reload's new bounds clamp the learnt limit", "[overload]") {
  Driver d;
  d.Measure(milliseconds(1));
  for (int i = 0; i < 20; ++i) d.Interval(d.limit.limit(), milliseconds(1));
  REQUIRE(d.limit.limit() == 1024);
  d.limit.Reconfigure({.max_limit = 100});
  CHECK(d.limit.limit() == 100);
  CHECK(d.limit.min_rtt() == milliseconds(1));
}

}  // namespace
}  // namespace holdfast::edge
