#include "edge/health/active_check.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace holdfast::edge {
namespace {

// Feeds results ('p' pass, 'f' fail) and returns the state letter after each: U unchecked,
// H healthy, D down (unhealthy), lowercase when that result changed the state.
std::string Run(const std::string& results, uint32_t rise, uint32_t fall) {
  CheckCounters c;
  std::string states;
  for (const char r : results) {
    const bool changed = RecordCheckResult(c, r == 'p', rise, fall);
    char letter = c.state == HealthState::kHealthy     ? 'H'
                  : c.state == HealthState::kUnhealthy ? 'D'
                                                       : 'U';
    if (changed) letter = static_cast<char>(letter - 'A' + 'a');
    states.push_back(letter);
  }
  return states;
}

TEST_CASE("the first check result decides an unchecked endpoint at once", "[edge][health]") {
  CHECK(Run("p", 2, 3) == "h");
  CHECK(Run("f", 2, 3) == "d");
}

TEST_CASE("health checks follow rise and fall", "[edge][health]") {
  using Row = std::tuple<std::string, std::string, uint32_t, uint32_t, std::string>;
  const auto [behaviour, results, rise, fall, states] = GENERATE(
      table<std::string, std::string, uint32_t, uint32_t, std::string>(std::initializer_list<Row>{
          {"three failures take a healthy endpoint down with fall 3", "pfff", 2, 3, "hHHd"},
          {"a pass between failures resets the failure count", "pffpfff", 2, 3, "hHHHHHd"},
          {"two passes bring it back with rise 2", "fpp", 2, 3, "dDh"},
          {"a failure between passes resets the pass count", "fpfpp", 2, 3, "dDDDh"},
          {"rise and fall of 1 follow every result", "pfpf", 1, 1, "hdhd"},
          {"rise and fall of 0 count as 1", "pfp", 0, 0, "hdh"},
          {"further failures keep it down without another change", "ffff", 2, 3, "dDDD"},
      }));
  INFO(behaviour);
  CHECK(Run(results, rise, fall) == states);
}

TEST_CASE("check counters count consecutive results for the reports", "[edge][health]") {
  CheckCounters c;
  RecordCheckResult(c, true, 2, 3);
  RecordCheckResult(c, false, 2, 3);
  RecordCheckResult(c, false, 2, 3);
  CHECK(c.consecutive_failures == 2);
  CHECK(c.consecutive_successes == 0);
  RecordCheckResult(c, true, 2, 3);
  CHECK(c.consecutive_failures == 0);
  CHECK(c.consecutive_successes == 1);
}

TEST_CASE("check phase is deterministic, within the interval and spread", "[edge][health]") {
  const absl::Duration interval = absl::Seconds(5);
  std::set<int64_t> phases;
  for (int port = 9000; port < 9020; ++port) {
    const std::string key = "10.0.0.1:" + std::to_string(port);
    const absl::Duration phase = CheckPhase("web", key, interval);
    CHECK(phase >= absl::ZeroDuration());
    CHECK(phase < interval);
    CHECK(phase == CheckPhase("web", key, interval));
    phases.insert(absl::ToInt64Milliseconds(phase));
  }
  CHECK(phases.size() > 10);
  CHECK(CheckPhase("web", "10.0.0.1:80", absl::ZeroDuration()) == absl::ZeroDuration());
}

TEST_CASE("the HTTP check request is a GET with Host, User-Agent and close", "[edge][health]") {
  CHECK(HealthCheckRequest("/healthz", "127.0.0.1:9101") ==
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:9101\r\nUser-Agent: holdfast-health\r\n"
        "Connection: close\r\n\r\n");
  CHECK(HealthCheckRequest("", "h").starts_with("GET / HTTP/1.1\r\n"));
}

TEST_CASE("a check status passes when expected, or 200 by default", "[edge][health]") {
  CHECK(StatusPasses(200, {}));
  CHECK_FALSE(StatusPasses(204, {}));
  CHECK_FALSE(StatusPasses(500, {}));
  CHECK(StatusPasses(204, {200, 204}));
  CHECK_FALSE(StatusPasses(200, {204}));
}

}  // namespace
}  // namespace holdfast::edge
