#include "edge/upstream/maglev.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "edge/upstream/eligibility.h"
#include "edge/upstream/stable_hash.h"
#include "tests/unit/edge/upstream/eligible.h"

namespace holdfast::edge {
namespace {

using testing::All;
using testing::Only;

constexpr size_t kKeys = 10000;

std::vector<Endpoint> Endpoints(const std::vector<uint32_t>& weights) {
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < weights.size(); ++i) {
    endpoints.push_back({absl::StrCat("10.0.0.", i + 1, ":8080"), weights[i]});
  }
  return endpoints;
}

std::shared_ptr<const MaglevTable> Build(const std::vector<Endpoint>& endpoints,
                                         uint32_t table_size = kDefaultMaglevTableSize) {
  absl::StatusOr<std::shared_ptr<const MaglevTable>> table =
      MaglevTable::Create(endpoints, table_size);
  REQUIRE(table.ok());
  return *std::move(table);
}

uint64_t ClientHash(size_t i) { return HashKey(absl::StrCat("192.0.2.", i % 256, "/", i)); }

// The endpoint key each client key maps to.
std::vector<std::string> MapKeys(const MaglevTable& table, const std::vector<Endpoint>& endpoints) {
  std::vector<std::string> mapped;
  for (size_t i = 0; i < kKeys; ++i) {
    const std::optional<size_t> index = table.Lookup(ClientHash(i));
    REQUIRE(index.has_value());
    mapped.push_back(endpoints[*index].key);
  }
  return mapped;
}

TEST_CASE("HashKey is stable across runs and builds", "[edge][upstream]") {
  // Pinned values: if these change, every consistently hashed key on every edge node moves.
  CHECK(HashKey("") == 0x9775a911a90dcf7aULL);
  CHECK(HashKey("10.0.0.1:8080") == 0xa661b0d0031b9951ULL);
  CHECK(HashKey("user-42") == 0x0d6dd23c6255762dULL);
  CHECK(StableHash64("user-42", 1) != HashKey("user-42"));
}

TEST_CASE("maglev maps a key to the same endpoint in independently built tables",
          "[edge][upstream]") {
  const std::vector<Endpoint> endpoints = Endpoints({1, 1, 2, 1, 3});
  const std::shared_ptr<const MaglevTable> first = Build(endpoints);
  const std::shared_ptr<const MaglevTable> second = Build(endpoints);
  CHECK(MapKeys(*first, endpoints) == MapKeys(*second, endpoints));
}

TEST_CASE("maglev maps keys the same whatever the endpoints' order", "[edge][upstream]") {
  const std::vector<Endpoint> endpoints = Endpoints({1, 2, 3, 1, 1, 2});
  std::vector<Endpoint> reversed(endpoints.rbegin(), endpoints.rend());
  CHECK(MapKeys(*Build(endpoints), endpoints) == MapKeys(*Build(reversed), reversed));
}

TEST_CASE("maglev slot shares are proportional to weights", "[edge][upstream]") {
  const std::vector<uint32_t> weights =
      GENERATE(std::vector<uint32_t>{1, 1, 1, 1, 1, 1, 1, 1}, std::vector<uint32_t>{1, 2, 3, 4},
               std::vector<uint32_t>{100, 10, 1000, 1});
  const std::shared_ptr<const MaglevTable> table = Build(Endpoints(weights));
  const std::vector<size_t> slots = table->SlotCounts();
  uint64_t total_weight = 0;
  for (const uint32_t weight : weights) total_weight += weight;
  for (size_t i = 0; i < weights.size(); ++i) {
    const double expected = double(table->table_size()) * weights[i] / double(total_weight);
    CAPTURE(i, slots[i], expected);
    CHECK(slots[i] >= 1);
    // Within 3% of the expected share, or a couple of slots for the tiny ones.
    CHECK(std::abs(double(slots[i]) - expected) <= std::max(0.03 * expected, 2.0));
  }
}

TEST_CASE("maglev moves about 1/N of keys when one of N endpoints is removed", "[edge][upstream]") {
  const size_t removed = GENERATE(0, 3, 9);
  const std::vector<Endpoint> endpoints = Endpoints(std::vector<uint32_t>(10, 1));
  std::vector<Endpoint> fewer = endpoints;
  fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(removed));

  const std::vector<std::string> before = MapKeys(*Build(endpoints), endpoints);
  const std::vector<std::string> after = MapKeys(*Build(fewer), fewer);
  size_t moved = 0;
  for (size_t i = 0; i < kKeys; ++i) {
    if (before[i] == endpoints[removed].key) CHECK(after[i] != before[i]);
    if (before[i] != after[i]) ++moved;
  }
  CAPTURE(moved);
  CHECK(double(moved) / kKeys < 1.0 / 10 + 0.05);
}

TEST_CASE("maglev falls back from an ineligible endpoint and moves no other key",
          "[edge][upstream]") {
  const std::vector<Endpoint> endpoints = Endpoints({1, 1, 1, 1, 1});
  const std::shared_ptr<const MaglevTable> table = Build(endpoints);
  const Eligibility all = All(5);
  const Eligibility without_two = Only(5, {0, 1, 3, 4});
  std::vector<size_t> received(5, 0);  // where endpoint 2's keys went
  for (size_t i = 0; i < kKeys; ++i) {
    const uint64_t hash = ClientHash(i);
    const std::optional<size_t> usual = table->Pick(hash, all, std::nullopt);
    const std::optional<size_t> now = table->Pick(hash, without_two, std::nullopt);
    REQUIRE(usual.has_value());
    REQUIRE(now.has_value());
    CHECK(usual == table->Lookup(hash));
    CHECK(without_two.Contains(*now));
    if (*usual != 2) {
      CHECK(now == usual);
    } else {
      ++received[*now];
      CHECK(now == table->Pick(hash, without_two, std::nullopt));  // deterministic
    }
  }
  // Spread over the others rather than dumped on one neighbour.
  for (const size_t index : {0, 1, 3, 4}) CHECK(received[index] > 0);
}

TEST_CASE("maglev finds the lone eligible endpoint", "[edge][upstream]") {
  const std::shared_ptr<const MaglevTable> table = Build(Endpoints({5, 5, 5, 1}), 1009);
  for (size_t i = 0; i < 1000; ++i) {
    CHECK(table->Pick(ClientHash(i), Only(4, {3}), std::nullopt) == std::optional<size_t>(3));
  }
}

TEST_CASE("maglev retries go to a different endpoint when another is eligible",
          "[edge][upstream]") {
  const std::shared_ptr<const MaglevTable> table = Build(Endpoints({1, 1, 1}), 101);
  MaglevBalancer balancer(table);
  const Eligibility eligibility = All(3);
  for (size_t i = 0; i < 1000; ++i) {
    const uint64_t hash = ClientHash(i);
    const std::optional<size_t> first = balancer.Pick({.eligibility = eligibility, .hash = hash});
    REQUIRE(first.has_value());
    const std::optional<size_t> retry =
        balancer.Pick({.eligibility = eligibility, .hash = hash, .avoid = first});
    REQUIRE(retry.has_value());
    CHECK(*retry != *first);
  }
  CHECK(balancer.Pick({.eligibility = Only(3, {1}), .hash = 7, .avoid = 1}) ==
        std::optional<size_t>(1));
}

TEST_CASE("maglev with a small prime table gives every endpoint a slot", "[edge][upstream]") {
  const std::shared_ptr<const MaglevTable> table = Build(Endpoints({1000, 1, 1000}), 7);
  CHECK(table->table_size() == 7);
  for (const size_t slots : table->SlotCounts()) CHECK(slots >= 1);
}

TEST_CASE("maglev picks nothing with no endpoints, nothing eligible or mismatched sizes",
          "[edge][upstream]") {
  const std::shared_ptr<const MaglevTable> empty = Build({});
  CHECK(empty->table_size() == 0);
  CHECK_FALSE(empty->Lookup(1).has_value());
  CHECK_FALSE(empty->Pick(1, Eligibility(), std::nullopt).has_value());

  const std::shared_ptr<const MaglevTable> table = Build(Endpoints({1, 1}), 11);
  CHECK_FALSE(table->Pick(1, Only(2, {}), std::nullopt).has_value());
  CHECK_FALSE(table->Pick(1, All(3), std::nullopt).has_value());
}

TEST_CASE("maglev rejects a bad table size or bad endpoints", "[edge][upstream]") {
  const auto [table_size, endpoints] = GENERATE(table<uint32_t, std::vector<Endpoint>>({
      {0, Endpoints({1})},
      {1, Endpoints({1})},
      {65536, Endpoints({1})},         // not prime
      {16777259, Endpoints({1})},      // prime, above kMaxMaglevTableSize
      {3, Endpoints({1, 1, 1, 1})},    // fewer slots than endpoints
      {11, Endpoints({0})},            // weight below range
      {11, Endpoints({1001})},         // weight above range
      {11, {{"a:1", 1}, {"a:1", 1}}},  // duplicate key
      {11, {{"", 1}}},                 // empty key
  }));
  CAPTURE(table_size, endpoints.size());
  CHECK(MaglevTable::Create(endpoints, table_size).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace holdfast::edge
