#include "dns/zone/zone_set.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "tests/unit/dns/test_zones.h"

namespace holdfast::dns {
namespace {

std::string Key(std::string_view text) { return LowerName(*NameFromText(text)); }

TEST_CASE("compiles zones with owners, empty non-terminals and cuts", "[dns][zone]") {
  absl::StatusOr<std::shared_ptr<const ZoneSet>> set =
      ZoneSet::Compile(testing::TestZones(), testing::TestServiceNames());
  REQUIRE(set.ok());
  const Zone* zone = (*set)->FindZone(Key("a.b.deep.EXAMPLE.net"));
  REQUIRE(zone != nullptr);
  CHECK(zone->apex == Key("example.net"));
  CHECK(zone->negative_ttl == 300);
  CHECK(zone->Find(Key("deep.example.net")) != nullptr);
  CHECK(zone->Find(Key("deep.example.net"))->rrsets.empty());
  CHECK(zone->Find(Key("sub.example.net"))->delegation);
  CHECK_FALSE(zone->Find(Key("example.net"))->delegation);
  CHECK(zone->Find(Key("www.example.net"))->service);
  const RRset* mail = zone->Find(Key("mail.example.net"))->Find(kTypeA);
  REQUIRE(mail != nullptr);
  CHECK(mail->rdatas.size() == 2);
  CHECK((*set)->FindZone(Key("example.com")) == nullptr);
  CHECK((*set)->FindZone(Key("host.example.org"))->apex == Key("example.org"));
}

TEST_CASE("an RRset takes the lowest TTL of its records", "[dns][zone]") {
  std::vector<ZoneSpec> zones = testing::TestZones();
  zones[0].records.push_back({"mail", RecordType::kA, 60, "192.0.2.27", 0});
  auto set = ZoneSet::Compile(zones, testing::TestServiceNames());
  REQUIRE(set.ok());
  const RRset* mail =
      (*set)->FindZone(Key("mail.example.net"))->Find(Key("mail.example.net"))->Find(kTypeA);
  CHECK(mail->ttl == 60);
  CHECK(mail->rdatas.size() == 3);
}

TEST_CASE("refuses config the validator should have refused", "[dns][zone]") {
  const int which = GENERATE(0, 1, 2, 3);
  const char* const kErrors[] = {
      "zone example.net: record 'ns1': 'not an address' is not an IPv4 address",
      "zone example.net: record 'www.example.com.' is outside the zone",
      "service 'www.example.com.' is in none of the zones",
      "zone example.net: listed twice",
  };
  std::vector<ZoneSpec> zones = testing::TestZones();
  std::vector<std::string> services = testing::TestServiceNames();
  switch (which) {
    case 0:
      zones[0].records[0].value = "not an address";
      break;
    case 1:
      zones[0].records[0].owner = "www.example.com.";
      break;
    case 2:
      services[0] = "www.example.com.";
      break;
    case 3:
      zones.push_back(zones[0]);
      break;
  }
  const absl::StatusOr<std::shared_ptr<const ZoneSet>> set = ZoneSet::Compile(zones, services);
  REQUIRE_FALSE(set.ok());
  CHECK(set.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(set.status().message()) == kErrors[which]);
}

}  // namespace
}  // namespace holdfast::dns
