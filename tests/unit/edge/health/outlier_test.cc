#include "edge/health/outlier.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

namespace holdfast::edge {
namespace {

using Clock = OutlierDetector::Clock;
using Result = OutlierDetector::Result;
using std::chrono::seconds;

const Clock::time_point kT0 = Clock::time_point{} + std::chrono::hours(1);

OutlierParams Params(uint32_t errors, int64_t base_seconds, uint32_t percent) {
  return OutlierParams{errors, absl::Seconds(base_seconds), percent};
}

// Reports `n` errors for `endpoint` and returns the last result.
Result Fail(OutlierDetector& d, size_t endpoint, int n, Clock::time_point now) {
  Result r = Result::kNone;
  for (int i = 0; i < n; ++i) r = d.Record(endpoint, RequestOutcome::k5xx, now);
  return r;
}

TEST_CASE("consecutive 5xx and connect failures eject an endpoint", "[edge][health]") {
  OutlierDetector d(4, Params(3, 30, 50));
  CHECK(d.Record(1, RequestOutcome::k5xx, kT0) == Result::kNone);
  CHECK(d.Record(1, RequestOutcome::kConnectFailure, kT0) == Result::kNone);
  CHECK(d.state(1).consecutive_errors == 2);
  CHECK(d.Record(1, RequestOutcome::k5xx, kT0) == Result::kEjected);
  CHECK(d.state(1).ejected);
  CHECK(d.state(1).ejections == 1);
  CHECK(d.state(1).ejected_until == kT0 + seconds(30));
  CHECK(d.ejected() == 1);
  CHECK_FALSE(d.state(0).ejected);
  CHECK(d.NextReturn() == kT0 + seconds(30));
}

TEST_CASE("a success resets the consecutive error count", "[edge][health]") {
  OutlierDetector d(4, Params(3, 30, 50));
  CHECK(Fail(d, 0, 2, kT0) == Result::kNone);
  d.Record(0, RequestOutcome::kSuccess, kT0);
  CHECK(d.state(0).consecutive_errors == 0);
  CHECK(Fail(d, 0, 2, kT0) == Result::kNone);
  CHECK_FALSE(d.state(0).ejected);
  CHECK(Fail(d, 0, 1, kT0) == Result::kEjected);
}

TEST_CASE("an ejected endpoint returns when its ejection time is up", "[edge][health]") {
  OutlierDetector d(2, Params(2, 30, 50));
  REQUIRE(Fail(d, 0, 2, kT0) == Result::kEjected);
  CHECK(d.Return(kT0 + seconds(30) - std::chrono::nanoseconds(1)).empty());
  CHECK(d.state(0).ejected);
  CHECK(d.Return(kT0 + seconds(30)) == std::vector<size_t>{0});
  CHECK_FALSE(d.state(0).ejected);
  CHECK(d.state(0).consecutive_errors == 0);
  CHECK(d.ejected() == 0);
  CHECK_FALSE(d.NextReturn().has_value());
  // Back with a clean count: one error is not enough again.
  CHECK(d.Record(0, RequestOutcome::k5xx, kT0 + seconds(31)) == Result::kNone);
}

TEST_CASE("outcomes of an ejected endpoint are not counted", "[edge][health]") {
  OutlierDetector d(2, Params(2, 30, 50));
  REQUIRE(Fail(d, 0, 2, kT0) == Result::kEjected);
  CHECK(Fail(d, 0, 5, kT0) == Result::kNone);
  CHECK(d.state(0).ejections == 1);
  CHECK(d.state(0).ejected_until == kT0 + seconds(30));
}

TEST_CASE("each ejection of the same endpoint lasts longer", "[edge][health]") {
  OutlierDetector d(2, Params(1, 30, 50));
  Clock::time_point now = kT0;
  for (int nth = 1; nth <= 12; ++nth) {
    REQUIRE(d.Record(0, RequestOutcome::k5xx, now) == Result::kEjected);
    const auto expected = seconds(30 * std::min(nth, 10));
    CHECK(d.state(0).ejected_until - now == expected);
    now = d.state(0).ejected_until;
    REQUIRE(d.Return(now) == std::vector<size_t>{0});
  }
  CHECK(d.state(0).ejections == 12);
}

TEST_CASE("ejection time is base times the ejection count, capped", "[edge][health]") {
  CHECK(EjectionDuration(absl::Seconds(30), 0) == absl::Seconds(30));
  CHECK(EjectionDuration(absl::Seconds(30), 1) == absl::Seconds(30));
  CHECK(EjectionDuration(absl::Seconds(30), 2) == absl::Seconds(60));
  CHECK(EjectionDuration(absl::Seconds(30), 10) == absl::Seconds(300));
  CHECK(EjectionDuration(absl::Seconds(30), 50) == absl::Seconds(300));
  // 300 s caps before 10x does.
  CHECK(EjectionDuration(absl::Seconds(60), 4) == absl::Seconds(240));
  CHECK(EjectionDuration(absl::Seconds(60), 6) == absl::Seconds(300));
  // A base above the cap is kept, and does not grow.
  CHECK(EjectionDuration(absl::Seconds(400), 1) == absl::Seconds(400));
  CHECK(EjectionDuration(absl::Seconds(400), 3) == absl::Seconds(400));
  CHECK(EjectionDuration(absl::Milliseconds(100), 3) == absl::Milliseconds(300));
}

TEST_CASE("max ejected is the floor of the cluster's share", "[edge][health]") {
  CHECK(MaxEjected(4, 50) == 2);
  CHECK(MaxEjected(5, 50) == 2);
  CHECK(MaxEjected(1, 50) == 0);
  CHECK(MaxEjected(3, 34) == 1);
  CHECK(MaxEjected(3, 100) == 3);
  CHECK(MaxEjected(3, 250) == 3);
  CHECK(MaxEjected(10, 0) == 0);
  CHECK(MaxEjected(0, 50) == 0);
}

TEST_CASE("max_ejection_percent caps how many endpoints are ejected at once", "[edge][health]") {
  OutlierDetector d(4, Params(2, 30, 50));
  CHECK(d.max_ejected() == 2);
  CHECK(Fail(d, 0, 2, kT0) == Result::kEjected);
  CHECK(Fail(d, 1, 2, kT0 + seconds(10)) == Result::kEjected);
  // The third reaches the threshold with no room: reported once, then quiet.
  CHECK(Fail(d, 2, 2, kT0 + seconds(10)) == Result::kCapped);
  CHECK(d.Record(2, RequestOutcome::k5xx, kT0 + seconds(10)) == Result::kNone);
  CHECK_FALSE(d.state(2).ejected);
  CHECK(d.ejected() == 2);
  // When the first returns, the next error of the third ejects it.
  CHECK(d.Return(kT0 + seconds(30)) == std::vector<size_t>{0});
  CHECK(d.Record(2, RequestOutcome::k5xx, kT0 + seconds(30)) == Result::kEjected);
  CHECK(d.ejected() == 2);
}

TEST_CASE("a cluster whose share floors to zero never ejects", "[edge][health]") {
  OutlierDetector d(1, Params(2, 30, 50));
  CHECK(d.max_ejected() == 0);
  CHECK(Fail(d, 0, 2, kT0) == Result::kCapped);
  CHECK(Fail(d, 0, 10, kT0) == Result::kNone);
  CHECK_FALSE(d.state(0).ejected);
}

TEST_CASE("consecutive_errors of 0 disables ejection", "[edge][health]") {
  OutlierDetector d(4, Params(0, 30, 100));
  CHECK_FALSE(d.enabled());
  CHECK(Fail(d, 0, 100, kT0) == Result::kNone);
  CHECK_FALSE(d.state(0).ejected);
  CHECK(d.state(0).consecutive_errors == 0);
}

}  // namespace
}  // namespace holdfast::edge
