#include "edge/config/dns_config.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dns/wire/name.h"
#include "tests/unit/dns/test_config.h"
#include "tests/unit/dns/test_zones.h"

namespace holdfast::edge {
namespace {

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

}  // namespace
}  // namespace holdfast::edge
