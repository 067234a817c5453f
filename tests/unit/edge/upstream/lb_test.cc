#include "edge/upstream/lb.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "edge/upstream/eligibility.h"
#include "edge/upstream/stable_hash.h"

namespace holdfast::edge {
namespace {

const std::vector<Endpoint> kEndpoints = {
    {"10.0.0.1:80", 1}, {"10.0.0.2:80", 2}, {"10.0.0.3:80", 1}};

TEST_CASE("every policy's balancer picks eligible endpoints and honours avoid",
          "[edge][upstream]") {
  const LbPolicy policy =
      GENERATE(LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kMaglev);
  CAPTURE(LbPolicyName(policy));
  absl::StatusOr<std::shared_ptr<const ClusterLb>> lb = ClusterLb::Compile(policy, kEndpoints, 101);
  REQUIRE(lb.ok());
  CHECK((*lb)->policy() == policy);
  CHECK((*lb)->endpoint_count() == 3);
  CHECK(((*lb)->maglev() != nullptr) == (policy == LbPolicy::kMaglev));

  const std::unique_ptr<Balancer> balancer = (*lb)->NewBalancer(std::mt19937_64(1));
  REQUIRE(balancer != nullptr);
  const std::vector<EndpointHealth> health = {{HealthState::kHealthy, false},
                                              {HealthState::kUnhealthy, false},
                                              {HealthState::kHealthy, false}};
  const Eligibility eligibility = ComputeEligibility(health, 0);
  const std::vector<uint32_t> active = {0, 0, 0};
  for (int i = 0; i < 100; ++i) {
    const uint64_t hash = HashKey(std::to_string(i));
    const std::optional<size_t> index =
        balancer->Pick({.eligibility = eligibility, .hash = hash, .active_requests = active});
    REQUIRE(index.has_value());
    CHECK(eligibility.Contains(*index));
    const std::optional<size_t> retry = balancer->Pick(
        {.eligibility = eligibility, .hash = hash, .active_requests = active, .avoid = index});
    REQUIRE(retry.has_value());
    CHECK(eligibility.Contains(*retry));
    CHECK(*retry != *index);
  }
  CHECK_FALSE(balancer
                  ->Pick({.eligibility = ComputeEligibility(
                              std::vector<EndpointHealth>(3, {HealthState::kUnhealthy, false}), 0)})
                  .has_value());
}

TEST_CASE("workers of a maglev cluster share one table", "[edge][upstream]") {
  absl::StatusOr<std::shared_ptr<const ClusterLb>> lb =
      ClusterLb::Compile(LbPolicy::kMaglev, kEndpoints, 101);
  REQUIRE(lb.ok());
  const std::shared_ptr<const MaglevTable> table = (*lb)->maglev();
  const std::unique_ptr<Balancer> worker1 = (*lb)->NewBalancer(nullptr);
  const std::unique_ptr<Balancer> worker2 = (*lb)->NewBalancer(nullptr);
  CHECK(table.use_count() == 4);  // the ClusterLb, two balancers and `table`
  const Eligibility eligibility = ComputeEligibility(std::vector<EndpointHealth>(3), 0);
  for (int i = 0; i < 100; ++i) {
    const uint64_t hash = HashKey(std::to_string(i));
    CHECK(worker1->Pick({.eligibility = eligibility, .hash = hash}) ==
          worker2->Pick({.eligibility = eligibility, .hash = hash}));
  }
}

TEST_CASE("compiling rejects invalid endpoints and maglev table sizes", "[edge][upstream]") {
  CHECK(ClusterLb::Compile(LbPolicy::kRoundRobin, {{{"a:1", 0}}}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ClusterLb::Compile(LbPolicy::kLeastRequest, {{{"a:1", 1}, {"a:1", 2}}}).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ClusterLb::Compile(LbPolicy::kMaglev, kEndpoints, 100).status().code() ==
        absl::StatusCode::kInvalidArgument);
  CHECK(ClusterLb::Compile(LbPolicy::kRoundRobin, kEndpoints, 100).ok());  // size unused
  CHECK(ClusterLb::Compile(static_cast<LbPolicy>(9), kEndpoints).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("a cluster without endpoints compiles and picks nothing", "[edge][upstream]") {
  const LbPolicy policy =
      GENERATE(LbPolicy::kRoundRobin, LbPolicy::kLeastRequest, LbPolicy::kMaglev);
  absl::StatusOr<std::shared_ptr<const ClusterLb>> lb = ClusterLb::Compile(policy, {});
  REQUIRE(lb.ok());
  CHECK_FALSE((*lb)->NewBalancer(nullptr)->Pick({.eligibility = Eligibility()}).has_value());
}

TEST_CASE("policy names are stable snake_case", "[edge][upstream]") {
  CHECK(LbPolicyName(LbPolicy::kRoundRobin) == "round_robin");
  CHECK(LbPolicyName(LbPolicy::kLeastRequest) == "least_request");
  CHECK(LbPolicyName(LbPolicy::kMaglev) == "maglev");
}

}  // namespace
}  // namespace holdfast::edge
