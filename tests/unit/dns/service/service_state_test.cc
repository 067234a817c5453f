#include "dns/service/service_state.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "dns/wire/name.h"
#include "tests/unit/dns/test_config.h"

namespace holdfast::dns {
namespace {

const ServiceAnswers& Www(const ServiceState& state) {
  const ServiceAnswers* s = state.Find(*NameFromText("WWW.example.net."));
  REQUIRE(s != nullptr);
  return *s;
}

net::IpAddress Ip(const char* text) { return *net::IpAddress::Parse(text); }

TEST_CASE("from config alone every POP serves at its capacity weight", "[dns][service]") {
  auto state = ServiceState::FromConfig(testing::TestConfig());
  REQUIRE(state.ok());
  const ServiceAnswers& www = Www(**state);
  CHECK(www.ttl == 30);
  CHECK(www.max_records == 2);
  REQUIRE(www.candidates.size() == 5);
  for (const ServiceCandidate& c : www.candidates) CHECK(c.serving);
  CHECK(www.candidates[0].pop == "ams");
  CHECK(www.candidates[0].weight == 100);
  CHECK(www.floor.size() == 5);
}

TEST_CASE("chooses by weight without replacement", "[dns][service]") {
  auto state = ServiceState::FromConfig(testing::TestConfig());
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
  auto state = ServiceState::FromConfig(testing::TestConfig());
  ServiceAnswers all = Www(**state);
  all.max_records = 10;
  std::mt19937_64 rng(7);
  ServiceSelection v6 = SelectAddresses(all, net::Family::kV6, [&rng] { return rng(); });
  CHECK(v6.addresses.size() == 2);
  for (const net::IpAddress& ip : v6.addresses) CHECK_FALSE(ip.is_v4());
  ServiceSelection v4 = SelectAddresses(all, net::Family::kV4, [&rng] { return rng(); });
  CHECK(v4.addresses.size() == 3);
}

TEST_CASE("the plan decides who serves and a draining POP is not chosen", "[dns][service]") {
  v1::Plan plan;
  v1::Plan::ServicePlan* sp = plan.add_services();
  sp->set_name("www.example.net.");
  sp->set_floor(1);
  auto add = [&](const char* pop, const char* address, uint32_t weight) {
    v1::Plan::Answer* a = sp->add_answers();
    a->set_pop(pop);
    a->set_address(address);
    a->set_weight(weight);
  };
  add("fra", "192.0.2.20", 300);
  add("ams", "192.0.2.10", 0);  // draining
  auto state = ServiceState::FromPlan(testing::TestConfig(), plan);
  REQUIRE(state.ok());
  const ServiceAnswers& www = Www(**state);
  // The plan's two, then the config's three others (ams v6, fra v6, iad v4) not serving.
  CHECK(www.candidates.size() == 5);
  // Floor 1: the best-ranked POP (ams, preference 10) only.
  REQUIRE(www.floor.size() == 2);
  CHECK(www.floor[0].pop == "ams");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50; ++i) {
    ServiceSelection s = SelectAddresses(www, net::Family::kV4, [&rng] { return rng(); });
    REQUIRE(s.addresses.size() == 1);
    CHECK(s.addresses[0] == Ip("192.0.2.20"));
    CHECK_FALSE(s.fail_open);
  }
  // No IPv6 answer serves in the plan: fail open to the floor's IPv6 VIP.
  ServiceSelection v6 = SelectAddresses(www, net::Family::kV6, [&rng] { return rng(); });
  CHECK(v6.fail_open);
  REQUIRE(v6.addresses.size() == 1);
  CHECK(v6.addresses[0] == Ip("2001:db8:1::10"));
}

TEST_CASE("never empty: with every POP down the floor set answers", "[dns][service]") {
  auto state = ServiceState::FromConfig(testing::TestConfig());
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
