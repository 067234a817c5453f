#include "dns/service/service_state.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "dns/wire/name.h"
#include "tests/unit/dns/test_zones.h"

namespace holdfast::dns {
namespace {

const ServiceAnswers& Www(const ServiceState& state) {
  const ServiceAnswers* s = state.Find(*NameFromText("WWW.example.net."));
  REQUIRE(s != nullptr);
  return *s;
}

TEST_CASE("chooses by weight without replacement", "[dns][service]") {
  auto state = ServiceState::Create(testing::TestServices());
  REQUIRE(state.ok());
  ServiceAnswers one = Www(**state);
  one.max_records = 1;
  std::mt19937_64 rng(12345);
  std::map<std::string, int> counts;
  constexpr int kRounds = 20000;
  for (int i = 0; i < kRounds; ++i) {
    ServiceSelection s = SelectAddresses(one, net::Family::kV4, [&rng] { return rng(); });
    REQUIRE(s.addresses.size() == 1);
    CHECK_FALSE(s.fail_open);
    ++counts[s.addresses[0].ToString()];
  }
  // Weights 100:300:600. The bounds are six standard deviations wide, so a correct choice
  // fails them far less than once in a million runs, while a uniform choice cannot pass.
  CHECK(counts["192.0.2.10"] > 2000 - 250);
  CHECK(counts["192.0.2.10"] < 2000 + 250);
  CHECK(counts["192.0.2.20"] > 6000 - 400);
  CHECK(counts["192.0.2.20"] < 6000 + 400);
  CHECK(counts["192.0.2.30"] > 12000 - 420);
  CHECK(counts["192.0.2.30"] < 12000 + 420);

  // Two of three: never the same address twice.
  const ServiceAnswers& two = Www(**state);
  for (int i = 0; i < 200; ++i) {
    ServiceSelection s = SelectAddresses(two, net::Family::kV4, [&rng] { return rng(); });
    REQUIRE(s.addresses.size() == 2);
    CHECK_FALSE(s.addresses[0] == s.addresses[1]);
  }
}

TEST_CASE("answers only addresses of the family asked for", "[dns][service]") {
  auto state = ServiceState::Create(testing::TestServices());
  ServiceAnswers all = Www(**state);
  all.max_records = 10;
  std::mt19937_64 rng(7);
  ServiceSelection v6 = SelectAddresses(all, net::Family::kV6, [&rng] { return rng(); });
  CHECK(v6.addresses.size() == 2);
  for (const net::IpAddress& ip : v6.addresses) CHECK_FALSE(ip.is_v4());
  ServiceSelection v4 = SelectAddresses(all, net::Family::kV4, [&rng] { return rng(); });
  CHECK(v4.addresses.size() == 3);
}

TEST_CASE("never empty: with every POP down the floor set answers", "[dns][service]") {
  auto state = ServiceState::Create(testing::TestServices());
  ServiceAnswers down = Www(**state);
  for (ServiceCandidate& c : down.candidates) c.serving = false;
  std::mt19937_64 rng(9);
  ServiceSelection s = SelectAddresses(down, net::Family::kV4, [&rng] { return rng(); });
  CHECK(s.fail_open);
  CHECK(s.addresses.size() == 2);
  // Weight zero everywhere counts as down too, and the floor still answers.
  for (ServiceCandidate& c : down.candidates) c.serving = true, c.weight = 0;
  for (ServiceCandidate& c : down.floor) c.weight = 0;
  s = SelectAddresses(down, net::Family::kV4, [&rng] { return rng(); });
  CHECK(s.fail_open);
  CHECK(s.addresses.size() == 2);
}

TEST_CASE("rejects a repeated service name and max_records of zero", "[dns][service]") {
  ServiceAnswers a;
  a.name = *NameFromText("www.example.net");
  ServiceAnswers b = a;
  b.name = *NameFromText("WWW.example.net");
  CHECK_FALSE(ServiceState::Create({a, b}).ok());
  a.max_records = 0;
  CHECK_FALSE(ServiceState::Create({a}).ok());
}

}  // namespace
}  // namespace holdfast::dns
