#include "edge/upstream/round_robin.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "edge/upstream/eligibility.h"
#include "tests/unit/edge/upstream/eligible.h"

namespace holdfast::edge {
namespace {

using testing::All;
using testing::Only;

std::vector<size_t> PickMany(RoundRobinBalancer& balancer, const Eligibility& eligibility,
                             size_t picks) {
  std::vector<size_t> picked;
  for (size_t i = 0; i < picks; ++i) {
    const std::optional<size_t> index = balancer.Pick({.eligibility = eligibility});
    REQUIRE(index.has_value());
    picked.push_back(*index);
  }
  return picked;
}

std::vector<size_t> Histogram(const std::vector<size_t>& picked, size_t count) {
  std::vector<size_t> histogram(count, 0);
  for (const size_t index : picked) ++histogram[index];
  return histogram;
}

bool WithinOne(const std::vector<size_t>& histogram, const std::vector<size_t>& expected) {
  for (size_t i = 0; i < expected.size(); ++i) {
    if (histogram[i] + 1 < expected[i] || histogram[i] > expected[i] + 1) return false;
  }
  return histogram.size() == expected.size();
}

TEST_CASE("weights 5,1,1 pick a,a,b,a,c,a,a like nginx", "[edge][upstream]") {
  RoundRobinBalancer balancer({5, 1, 1});
  const std::vector<size_t> cycle = {0, 0, 1, 0, 2, 0, 0};
  CHECK(PickMany(balancer, All(3), 7) == cycle);
  CHECK(PickMany(balancer, All(3), 7) == cycle);  // the state returns to zero after each cycle
}

TEST_CASE("round robin is exactly proportional to weights over whole cycles", "[edge][upstream]") {
  const auto [weights, picks, expected] =
      GENERATE(table<std::vector<uint32_t>, size_t, std::vector<size_t>>({
          {{5, 1, 1}, 700, {500, 100, 100}},
          {{1, 1, 1, 1}, 400, {100, 100, 100, 100}},
          {{3, 2}, 500, {300, 200}},
          {{1000, 1}, 2002, {2000, 2}},
          {{7}, 10, {10}},
      }));
  RoundRobinBalancer balancer(weights);
  CHECK(Histogram(PickMany(balancer, All(weights.size()), picks), weights.size()) == expected);
}

TEST_CASE("round robin never picks the heavy endpoint 5 times in a row for 5,1,1",
          "[edge][upstream]") {
  RoundRobinBalancer balancer({5, 1, 1});
  const std::vector<size_t> picked = PickMany(balancer, All(3), 700);
  size_t run = 0;
  size_t longest = 0;
  for (size_t i = 0; i < picked.size(); ++i) {
    run = i > 0 && picked[i] == picked[i - 1] ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  CHECK(longest < 5);
}

TEST_CASE("round robin skips an endpoint that leaves and shares again when it returns",
          "[edge][upstream]") {
  RoundRobinBalancer balancer({2, 1, 1});
  PickMany(balancer, All(3), 3);  // leave the rotation mid-cycle

  // Proportional to within one pick: what the rotation held when the set changed carries over
  // (the leaving endpoint's current weight goes with it, a returning one starts from zero).
  const std::vector<size_t> without = Histogram(PickMany(balancer, Only(3, {0, 2}), 300), 3);
  CAPTURE(without);
  CHECK(without[1] == 0);
  CHECK(WithinOne(without, {200, 0, 100}));

  const std::vector<size_t> back = Histogram(PickMany(balancer, All(3), 400), 3);
  CAPTURE(back);
  CHECK(WithinOne(back, {200, 100, 100}));
}

TEST_CASE("round robin never picks an ineligible endpoint", "[edge][upstream]") {
  RoundRobinBalancer balancer({1, 5, 1, 5});
  for (const std::vector<size_t>& eligible :
       std::vector<std::vector<size_t>>{{0}, {1, 3}, {0, 2}, {3}, {0, 1, 2, 3}, {2}}) {
    const Eligibility eligibility = Only(4, eligible);
    for (const size_t index : PickMany(balancer, eligibility, 50)) {
      CHECK(eligibility.Contains(index));
    }
  }
}

TEST_CASE("round robin avoids the previous endpoint when another is eligible", "[edge][upstream]") {
  RoundRobinBalancer balancer({5, 1, 1});
  const Eligibility eligibility = All(3);
  for (int i = 0; i < 100; ++i) {
    const std::optional<size_t> index = balancer.Pick({.eligibility = eligibility, .avoid = 0});
    REQUIRE(index.has_value());
    CHECK(*index != 0);
  }
}

TEST_CASE("round robin picks the avoided endpoint when it is the only eligible one",
          "[edge][upstream]") {
  RoundRobinBalancer balancer({1, 1});
  CHECK(balancer.Pick({.eligibility = Only(2, {1}), .avoid = 1}) == std::optional<size_t>(1));
}

TEST_CASE("round robin picks nothing when nothing is eligible or the sizes disagree",
          "[edge][upstream]") {
  RoundRobinBalancer balancer({1, 1});
  CHECK_FALSE(balancer.Pick({.eligibility = Only(2, {})}).has_value());
  CHECK_FALSE(balancer.Pick({.eligibility = All(3)}).has_value());
  CHECK_FALSE(balancer.Pick({.eligibility = Eligibility()}).has_value());
}

}  // namespace
}  // namespace holdfast::edge
