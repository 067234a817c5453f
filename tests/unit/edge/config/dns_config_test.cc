#include "edge/config/dns_config.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dns/wire/name.h"
#include "tests/unit/dns/test_config.h"
#include "tests/unit/dns/test_zones.h"

namespace holdfast::edge {
namespace {

using dns::ServiceAnswers;
using dns::ServiceCandidate;
using dns::ServiceSelection;

const ServiceAnswers& Www(const dns::ServiceState& state) {
  const ServiceAnswers* s = state.Find(*dns::NameFromText("WWW.example.net."));
  REQUIRE(s != nullptr);
  return *s;
}

net::IpAddress Ip(const char* text) { return *net::IpAddress::Parse(text); }

void CheckSameZones(const dns::ZoneSet& got, const dns::ZoneSet& want) {
  REQUIRE(got.zones().size() == want.zones().size());
  for (size_t i = 0; i < want.zones().size(); ++i) {
    const dns::Zone& g = got.zones()[i];
    const dns::Zone& w = want.zones()[i];
    INFO("zone " << dns::NameToText(w.apex));
    CHECK(g.apex == w.apex);
    CHECK(g.soa_ttl == w.soa_ttl);
    CHECK(g.soa_rdata == w.soa_rdata);
    CHECK(g.negative_ttl == w.negative_ttl);
    CHECK(g.nodes.size() == w.nodes.size());
    for (const auto& [key, wn] : w.nodes) {
      INFO("node " << dns::NameToText(wn.name));
      const dns::ZoneNode* gn = g.Find(key);
      REQUIRE(gn != nullptr);
      CHECK(gn->name == wn.name);
      CHECK(gn->delegation == wn.delegation);
      CHECK(gn->service == wn.service);
      REQUIRE(gn->rrsets.size() == wn.rrsets.size());
      for (size_t j = 0; j < wn.rrsets.size(); ++j) {
        CHECK(gn->rrsets[j].type == wn.rrsets[j].type);
        CHECK(gn->rrsets[j].ttl == wn.rrsets[j].ttl);
        CHECK(gn->rrsets[j].rdatas == wn.rrsets[j].rdatas);
      }
    }
  }
}

void CheckSameCandidates(const std::vector<ServiceCandidate>& got,
                         const std::vector<ServiceCandidate>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    CHECK(got[i].address == want[i].address);
    CHECK(got[i].pop == want[i].pop);
    CHECK(got[i].weight == want[i].weight);
    CHECK(got[i].serving == want[i].serving);
  }
}

TEST_CASE("compiles the config's zones as dns/ compiles the same zone specs", "[edge][config]") {
  const auto got = CompileZones(dns::testing::TestConfig().dns());
  REQUIRE(got.ok());
  const auto want =
      dns::ZoneSet::Compile(dns::testing::TestZones(), dns::testing::TestServiceNames());
  REQUIRE(want.ok());
  CheckSameZones(**got, **want);
}

TEST_CASE("refuses a zone record of unspecified type, naming it", "[edge][config]") {
  v1::Dns config = dns::testing::TestConfig().dns();
  config.mutable_zones(0)->mutable_records(1)->set_type(v1::Record::TYPE_UNSPECIFIED);
  const auto zones = CompileZones(config);
  REQUIRE_FALSE(zones.ok());
  CHECK(zones.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(zones.status().message()) == "zone example.net: record 'ns2': record type 0");
}

TEST_CASE("zone errors come back from dns/ as they are", "[edge][config]") {
  v1::Dns config = dns::testing::TestConfig().dns();
  config.mutable_services(0)->set_name("www.example.com.");
  const auto zones = CompileZones(config);
  REQUIRE_FALSE(zones.ok());
  CHECK(zones.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(zones.status().message()) ==
        "service 'www.example.com.' is in none of the zones");
}

TEST_CASE("service state from config alone: every POP serves at its capacity weight",
          "[edge][config]") {
  auto state = ServiceStateFromConfig(dns::testing::TestConfig());
  REQUIRE(state.ok());
  const ServiceAnswers& www = Www(**state);
  CHECK(www.ttl == 30);
  CHECK(www.max_records == 2);
  REQUIRE(www.candidates.size() == 5);
  for (const ServiceCandidate& c : www.candidates) CHECK(c.serving);
  CHECK(www.candidates[0].pop == "ams");
  CHECK(www.candidates[0].weight == 100);
  CHECK(www.floor.size() == 5);

  // What the DNS unit tests build by hand is what the config compiles to.
  const ServiceAnswers want = dns::testing::TestServices().at(0);
  CHECK(www.name == want.name);
  CheckSameCandidates(www.candidates, want.candidates);
  CheckSameCandidates(www.floor, want.floor);
}

TEST_CASE("service state from a plan: the plan decides who serves and a draining POP is not chosen",
          "[edge][config]") {
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
  auto state = ServiceStateFromPlan(dns::testing::TestConfig(), plan);
  REQUIRE(state.ok());
  const ServiceAnswers& www = Www(**state);
  // The plan's two, then the config's three others (ams v6, fra v6, iad v4) not serving.
  CHECK(www.candidates.size() == 5);
  // Floor 1: the best-ranked POP (ams, preference 10) only.
  REQUIRE(www.floor.size() == 2);
  CHECK(www.floor[0].pop == "ams");
  std::mt19937_64 rng(3);
  for (int i = 0; i < 50; ++i) {
    ServiceSelection s = dns::SelectAddresses(www, net::Family::kV4, [&rng] { return rng(); });
    REQUIRE(s.addresses.size() == 1);
    CHECK(s.addresses[0] == Ip("192.0.2.20"));
    CHECK_FALSE(s.fail_open);
  }
  // No IPv6 answer serves in the plan: fail open to the floor's IPv6 VIP.
  ServiceSelection v6 = dns::SelectAddresses(www, net::Family::kV6, [&rng] { return rng(); });
  CHECK(v6.fail_open);
  REQUIRE(v6.addresses.size() == 1);
  CHECK(v6.addresses[0] == Ip("2001:db8:1::10"));
}

}  // namespace
}  // namespace holdfast::edge
