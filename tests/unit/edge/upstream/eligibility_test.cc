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

// Endpoints with locality priorities, one digit each (0 own POP, 1 own region, 2 elsewhere),
// and weights.
std::vector<Endpoint> Located(const std::string& priorities, uint32_t weight = 1) {
  std::vector<Endpoint> endpoints;
  for (const char p : priorities) {
    endpoints.push_back(
        Endpoint{std::to_string(endpoints.size()), weight, static_cast<uint8_t>(p - '0')});
  }
  return endpoints;
}

TEST_CASE("locality: the own POP's endpoints first, the next level when too few are healthy",
          "[edge][upstream]") {
  using Row = std::tuple<std::string, std::string, std::string, std::vector<size_t>, bool>;
  const auto [behaviour, priorities, health, eligible, failing_over] =
      GENERATE(table<std::string, std::string, std::string, std::vector<size_t>,
                     bool>(std::initializer_list<Row>{
          {"own POP healthy: only its endpoints", "0011", "HHHH", {0, 1}, false},
          {"own POP below the threshold: its healthy one and the region's",
           "0011",
           "HUHH",
           {0, 2, 3},
           true},
          {"own POP down: the region's", "0011", "UUHH", {2, 3}, true},
          {"own POP and region down: elsewhere", "001122", "UUUUHH", {4, 5}, true},
          {"region short too: both next levels", "001122", "UUHUHH", {2, 4, 5}, true},
          {"no own endpoints: the region's is the first level", "1122", "HHHH", {0, 1}, false},
          {"3 of 4 healthy is above 70%: stays local", "000011", "HHHUHH", {0, 1, 2}, false},
          {"own POP not checked yet while others are: fails over", "0011", "??HH", {2, 3}, true},
          {"no check results anywhere: own POP's endpoints", "0011", "????", {0, 1}, false},
      }));
  CAPTURE(behaviour, priorities, health);
  const std::vector<Endpoint> endpoints = Located(priorities);
  // Panic off: the whole cluster's ratio is a separate rule.
  const Eligibility result = ComputeEligibility(Parse(health), 0, endpoints, 70);
  CHECK(Indices(result) == eligible);
  CHECK(result.failing_over() == failing_over);
}

TEST_CASE("locality: panic is judged over the whole cluster", "[edge][upstream]") {
  const std::vector<Endpoint> endpoints = Located("0011");
  // Own POP down, region up: 2 of 4 usable is 50%, not below 50: fail over, no panic.
  const Eligibility over = ComputeEligibility(Parse("UUHH"), 50, endpoints, 70);
  CHECK_FALSE(over.panic());
  CHECK(Indices(over) == std::vector<size_t>{2, 3});
  // 1 of 4: panic, every endpoint.
  const Eligibility panic = ComputeEligibility(Parse("UUHU"), 50, endpoints, 70);
  CHECK(panic.panic());
  CHECK_FALSE(panic.failing_over());
  CHECK(panic.size() == 4);
}

TEST_CASE("locality: the preferred counts are the first level's, with weights",
          "[edge][upstream]") {
  std::vector<Endpoint> endpoints = Located("0011");
  endpoints[0].weight = 3;
  const Eligibility result = ComputeEligibility(Parse("HUHH"), 0, endpoints, 70);
  CHECK(result.preferred().total == 2);
  CHECK(result.preferred().usable == 1);
  CHECK(result.preferred().total_weight == 4);
  CHECK(result.preferred().usable_weight == 3);
  CHECK(result.counts().total == 4);
  CHECK(result.counts().usable == 3);
}

}  // namespace
}  // namespace holdfast::edge
