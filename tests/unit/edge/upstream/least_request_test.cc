#include "edge/upstream/least_request.h"

#include <catch2/catch.hpp>
#include <random>
#include <utility>
#include <vector>

#include "edge/upstream/eligibility.h"
#include "tests/unit/edge/upstream/eligible.h"

namespace holdfast::edge {
namespace {

using testing::All;
using testing::Only;

// Replays `values`, then fails the test if asked for more.
RandomSource Script(std::vector<uint64_t> values) {
  return [values = std::move(values), next = size_t{0}]() mutable {
    REQUIRE(next < values.size());
    return values[next++];
  };
}

TEST_CASE("least request picks the less loaded of two endpoints", "[edge][upstream]") {
  LeastRequestBalancer balancer({1, 1}, std::mt19937_64(1));
  const Eligibility eligibility = All(2);
  const std::vector<uint32_t> active_low_second = {5, 2};
  const std::vector<uint32_t> active_low_first = {0, 9};
  for (int i = 0; i < 100; ++i) {
    CHECK(balancer.Pick({.eligibility = eligibility, .active_requests = active_low_second}) ==
          std::optional<size_t>(1));
    CHECK(balancer.Pick({.eligibility = eligibility, .active_requests = active_low_first}) ==
          std::optional<size_t>(0));
  }
}

TEST_CASE("least request compares only the two sampled endpoints", "[edge][upstream]") {
  // Draws 0 and 0: the first candidate is endpoint 0, the second the 0th of the other three,
  // endpoint 1. Endpoints 2 and 3 are idle but not sampled.
  LeastRequestBalancer balancer({1, 1, 1, 1}, Script({0, 0}));
  const std::vector<uint32_t> active = {9, 3, 0, 0};
  CHECK(balancer.Pick({.eligibility = All(4), .active_requests = active}) ==
        std::optional<size_t>(1));
}

TEST_CASE("least request with equal loads spreads picks about uniformly", "[edge][upstream]") {
  LeastRequestBalancer balancer({1, 1, 1, 1, 1}, std::mt19937_64(42));
  const Eligibility eligibility = All(5);
  const std::vector<uint32_t> active = {3, 3, 3, 3, 3};
  std::vector<size_t> histogram(5, 0);
  for (int i = 0; i < 10000; ++i) {
    const std::optional<size_t> index =
        balancer.Pick({.eligibility = eligibility, .active_requests = active});
    REQUIRE(index.has_value());
    ++histogram[*index];
  }
  for (const size_t count : histogram) {
    CHECK(count > 1700);  // 2000 expected, standard deviation 40: loose, and the seed is fixed
    CHECK(count < 2300);
  }
}

TEST_CASE("least request sends idle traffic in proportion to weight", "[edge][upstream]") {
  LeastRequestBalancer balancer({3, 1}, std::mt19937_64(7));
  const Eligibility eligibility = All(2);
  size_t heavy = 0;
  for (int i = 0; i < 10000; ++i) {
    if (balancer.Pick({.eligibility = eligibility}) == std::optional<size_t>(0)) ++heavy;
  }
  CHECK(heavy > 7200);  // 7500 expected
  CHECK(heavy < 7800);
}

TEST_CASE("least request compares active requests per unit of weight", "[edge][upstream]") {
  const auto [active, expected] = GENERATE(table<std::vector<uint32_t>, size_t>({
      {{3, 1}, 0},  // 3/4 < 1/1
      {{5, 1}, 1},  // 5/4 > 1/1
      {{0, 0}, 0},  // tie: the first candidate, and with weights 4,1 draw 0 samples endpoint 0
  }));
  LeastRequestBalancer balancer({4, 1}, Script({0, 0}));
  CHECK(balancer.Pick({.eligibility = All(2), .active_requests = active}) ==
        std::optional<size_t>(expected));
}

TEST_CASE("least request never picks an ineligible endpoint", "[edge][upstream]") {
  const std::vector<uint32_t> weights =
      GENERATE(std::vector<uint32_t>{1, 1, 1, 1, 1, 1}, std::vector<uint32_t>{1, 9, 2, 9, 1, 5});
  LeastRequestBalancer balancer(weights, std::mt19937_64(3));
  std::mt19937_64 loads(4);
  for (const std::vector<size_t>& eligible :
       std::vector<std::vector<size_t>>{{0}, {1, 4}, {0, 2, 5}, {3, 4, 5}, {0, 1, 2, 3, 4, 5}}) {
    const Eligibility eligibility = Only(6, eligible);
    for (int i = 0; i < 200; ++i) {
      std::vector<uint32_t> active(6);
      for (uint32_t& a : active) a = static_cast<uint32_t>(loads() % 10);
      const std::optional<size_t> index =
          balancer.Pick({.eligibility = eligibility, .active_requests = active});
      REQUIRE(index.has_value());
      CHECK(eligibility.Contains(*index));
    }
  }
}

TEST_CASE("least request avoids the previous endpoint when another is eligible",
          "[edge][upstream]") {
  const std::vector<uint32_t> weights =
      GENERATE(std::vector<uint32_t>{1, 1, 1}, std::vector<uint32_t>{1, 5, 2});
  LeastRequestBalancer balancer(weights, std::mt19937_64(5));
  const Eligibility eligibility = All(3);
  const std::vector<uint32_t> active = {0, 0, 100};  // endpoint 1 is the obvious choice...
  for (int i = 0; i < 200; ++i) {
    const std::optional<size_t> index =
        balancer.Pick({.eligibility = eligibility, .active_requests = active, .avoid = 1});
    REQUIRE(index.has_value());
    CHECK(*index != 1);  // ...but the retry must go elsewhere
  }
  // With one other candidate left it is picked without a draw.
  LeastRequestBalancer two({1, 1}, Script({}));
  CHECK(two.Pick({.eligibility = All(2), .avoid = 0}) == std::optional<size_t>(1));
}

TEST_CASE("least request picks a lone eligible endpoint without drawing", "[edge][upstream]") {
  LeastRequestBalancer balancer({1, 1, 1}, Script({}));
  CHECK(balancer.Pick({.eligibility = Only(3, {2})}) == std::optional<size_t>(2));
  CHECK(balancer.Pick({.eligibility = Only(3, {2}), .avoid = 2}) == std::optional<size_t>(2));
  CHECK_FALSE(balancer.Pick({.eligibility = Only(3, {})}).has_value());
  CHECK_FALSE(balancer.Pick({.eligibility = All(4)}).has_value());
}

}  // namespace
}  // namespace holdfast::edge
