#include "dns/zone/zone_set.h"

#include <catch2/catch.hpp>
#include <string>

#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "tests/unit/dns/test_config.h"

namespace holdfast::dns {
namespace {

std::string Key(std::string_view text) { return LowerName(*NameFromText(text)); }

TEST_CASE("compiles zones with owners, empty non-terminals and cuts", "[dns][zone]") {
  absl::StatusOr<std::shared_ptr<const ZoneSet>> set =
      ZoneSet::Compile(testing::TestConfig().dns());
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
  v1::Dns dns = testing::TestConfig().dns();
  v1::Record* r = dns.mutable_zones(0)->add_records();
  r->set_name("mail");
  r->set_type(v1::Record::TYPE_A);
  r->set_value("192.0.2.27");
  r->set_ttl(60);
  auto set = ZoneSet::Compile(dns);
  REQUIRE(set.ok());
  const RRset* mail =
      (*set)->FindZone(Key("mail.example.net"))->Find(Key("mail.example.net"))->Find(kTypeA);
  CHECK(mail->ttl == 60);
  CHECK(mail->rdatas.size() == 3);
}

TEST_CASE("refuses config the validator should have refused", "[dns][zone]") {
  const int which = GENERATE(0, 1, 2, 3);
  v1::Dns dns = testing::TestConfig().dns();
  switch (which) {
    case 0:
      dns.mutable_zones(0)->mutable_records(0)->set_value("not an address");
      break;
    case 1:
      dns.mutable_zones(0)->mutable_records(0)->set_name("www.example.com.");
      break;
    case 2:
      dns.mutable_services(0)->set_name("www.example.com.");
      break;
    case 3:
      *dns.add_zones() = dns.zones(0);
      break;
  }
  CHECK_FALSE(ZoneSet::Compile(dns).ok());
}

}  // namespace
}  // namespace holdfast::dns
