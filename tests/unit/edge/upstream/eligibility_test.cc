#include "edge/upstream/eligibility.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <tuple>
#include <vector>

namespace holdfast::edge {
namespace {

// One letter per endpoint: H healthy, U unhealthy, ? unchecked; lowercase (h, u, c) is the same
// state but ejected.
std::vector<EndpointHealth> Parse(const std::string& letters) {
  std::vector<EndpointHealth> endpoints;
  for (const char letter : letters) {
    switch (letter) {
      case 'H':
      case 'h':
        endpoints.push_back({HealthState::kHealthy, letter == 'h'});
        break;
      case 'U':
      case 'u':
        endpoints.push_back({HealthState::kUnhealthy, letter == 'u'});
        break;
      default:
        endpoints.push_back({HealthState::kUnchecked, letter == 'c'});
        break;
    }
  }
  return endpoints;
}

std::vector<size_t> Indices(const Eligibility& eligibility) {
  return {eligibility.indices().begin(), eligibility.indices().end()};
}

TEST_CASE("eligibility follows health, ejection and the panic threshold", "[edge][upstream]") {
  using Row = std::tuple<std::string, std::string, uint32_t, std::vector<size_t>, bool>;
  const auto [behaviour, endpoints, threshold, eligible,
              panic] = GENERATE(table<std::string, std::string, uint32_t, std::vector<size_t>,
                                      bool>(std::initializer_list<Row>{
      {"all healthy are eligible", "HHH", 50, {0, 1, 2}, false},
      {"unhealthy excluded while usable share is above the threshold",
       "HHHU",
       50,
       {0, 1, 2},
       false},
      {"usable share below the threshold panics over every endpoint",
       "HUUU",
       50,
       {0, 1, 2, 3},
       true},
      {"usable share exactly at the threshold is not panic", "HU", 50, {0}, false},
      {"threshold 100 panics on the first unhealthy endpoint", "HHHU", 100, {0, 1, 2, 3}, true},
      {"unchecked new endpoints do not cause panic", "HH???", 50, {0, 1}, false},
      {"unchecked endpoints are not in the panic denominator", "HU???", 50, {0}, false},
      {"all unchecked: every endpoint is eligible, no panic", "???", 50, {0, 1, 2}, false},
      {"all unchecked with panic disabled: every endpoint is eligible", "???", 0, {0, 1, 2}, false},
      {"all unchecked: ejected ones are still excluded", "??c", 0, {0, 1}, false},
      {"all unchecked: ejection below the threshold panics", "?cc", 50, {0, 1, 2}, true},
      {"ejected healthy endpoint excluded", "HhH", 50, {0, 2}, false},
      {"ejection below the threshold panics", "Hhh", 50, {0, 1, 2}, true},
      {"panic includes unhealthy, ejected and unchecked endpoints",
       "HUUU?h",
       50,
       {0, 1, 2, 3, 4, 5},
       true},
      {"panic disabled and none usable: nothing eligible", "UUh", 0, {}, false},
      {"panic disabled keeps the usable minority", "HUUU", 0, {0}, false},
      {"no endpoints: nothing eligible, no panic", "", 50, {}, false},
  }));
  CAPTURE(behaviour, endpoints, threshold);
  const std::vector<EndpointHealth> health = Parse(endpoints);
  const Eligibility result = ComputeEligibility(health, threshold);
  CHECK(Indices(result) == eligible);
  CHECK(result.panic() == panic);
  for (size_t i = 0; i < health.size(); ++i) {
    CHECK(result.Contains(i) == (std::find(eligible.begin(), eligible.end(), i) != eligible.end()));
  }
  CHECK_FALSE(result.Contains(health.size()));
}

TEST_CASE("two healthy and three unchecked endpoints with threshold 50 are not in panic",
          "[edge][upstream]") {
  const Eligibility result = ComputeEligibility(Parse("HH???"), 50);
  CHECK_FALSE(result.panic());
  CHECK(Indices(result) == std::vector<size_t>{0, 1});
}

TEST_CASE("counts each endpoint by state, and ejection apart", "[edge][upstream]") {
  const Eligibility result = ComputeEligibility(Parse("HHhUu??c"), 0);
  const EligibilityCounts& counts = result.counts();
  CHECK(counts.total == 8);
  CHECK(counts.healthy == 3);
  CHECK(counts.unhealthy == 2);
  CHECK(counts.unchecked == 3);
  CHECK(counts.ejected == 3);
  CHECK(counts.usable == 2);
  CHECK(result.size() == 2);
}

TEST_CASE("a default eligibility has nothing eligible", "[edge][upstream]") {
  const Eligibility result;
  CHECK(result.empty());
  CHECK_FALSE(result.panic());
  CHECK_FALSE(result.Contains(0));
  CHECK(result.counts().total == 0);
}

}  // namespace
}  // namespace holdfast::edge
