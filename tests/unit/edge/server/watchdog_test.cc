// What makes an edge say its listeners are down: the workers' watchdog.
#include "edge/server/watchdog.h"

#include <catch2/catch.hpp>
#include <chrono>

namespace holdfast::edge {
namespace {

using namespace std::chrono_literals;

TEST_CASE("watchdog: a worker loop that stops beating for 2 s is wedged; one not started is not") {
  Watchdog dog(3);
  const Watchdog::Clock::time_point t0 = Watchdog::Clock::now();
  CHECK(dog.Wedged(t0 + 1h) == 0);  // none started
  dog.Beat(0, t0);
  dog.Beat(1, t0);
  CHECK(dog.Wedged(t0 + 1s) == 0);
  CHECK(dog.Wedged(t0 + Watchdog::kWedgedAfter) == 0);
  dog.Beat(1, t0 + 2500ms);
  CHECK(dog.Wedged(t0 + 3s) == 1);
  CHECK(dog.Wedged(t0 + 5s) == 2);
}

}  // namespace
}  // namespace holdfast::edge
