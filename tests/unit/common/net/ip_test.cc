#include "common/net/ip.h"

#include <catch2/catch.hpp>

namespace holdfast::net {
namespace {

TEST_CASE("parses IPv4 and IPv6 addresses and prints them canonically", "[common][net]") {
  auto [text, canonical, v4] = GENERATE(table<const char*, const char*, bool>({
      {"192.0.2.1", "192.0.2.1", true},
      {"127.0.1.2", "127.0.1.2", true},
      {"2001:DB8::1", "2001:db8::1", false},
      {"::1", "::1", false},
      {"::ffff:192.0.2.1", "::ffff:192.0.2.1", false},
  }));
  auto a = IpAddress::Parse(text);
  REQUIRE(a.has_value());
  CHECK(a->ToString() == canonical);
  CHECK(a->is_v4() == v4);
}

TEST_CASE("rejects what is not an address", "[common][net]") {
  auto text = GENERATE("", "192.0.2", "192.0.2.256", "192.0.2.1 ", "2001:db8::1::2", "host.example",
                       "[::1]", "fe80::1%eth0", "192.0.2.1/24");
  CHECK_FALSE(IpAddress::Parse(text).has_value());
}

TEST_CASE("a prefix contains the addresses of its network only", "[common][net]") {
  auto p = IpPrefix::Parse("192.0.2.0/25");
  REQUIRE(p.ok());
  CHECK(p->Contains(*IpAddress::Parse("192.0.2.0")));
  CHECK(p->Contains(*IpAddress::Parse("192.0.2.127")));
  CHECK_FALSE(p->Contains(*IpAddress::Parse("192.0.2.128")));
  CHECK_FALSE(p->Contains(*IpAddress::Parse("2001:db8::1")));

  auto v6 = IpPrefix::Parse("2001:db8:100::/48");
  REQUIRE(v6.ok());
  CHECK(v6->Contains(*IpAddress::Parse("2001:db8:100:ffff::1")));
  CHECK_FALSE(v6->Contains(*IpAddress::Parse("2001:db8:101::1")));

  auto all = IpPrefix::Parse("0.0.0.0/0");
  REQUIRE(all.ok());
  CHECK(all->Contains(*IpAddress::Parse("203.0.113.9")));
}

TEST_CASE("prefixes overlap when one contains the other", "[common][net]") {
  auto a = *IpPrefix::Parse("192.0.2.0/24");
  CHECK(a.Overlaps(*IpPrefix::Parse("192.0.2.128/25")));
  CHECK(IpPrefix::Parse("192.0.2.128/25")->Overlaps(a));
  CHECK(a.Overlaps(a));
  CHECK_FALSE(a.Overlaps(*IpPrefix::Parse("192.0.3.0/24")));
  CHECK_FALSE(a.Overlaps(*IpPrefix::Parse("2001:db8::/32")));
}

TEST_CASE("rejects malformed prefixes with a reason", "[common][net]") {
  auto [text, reason] = GENERATE(table<const char*, const char*>({
      {"192.0.2.0", "expected ADDRESS/LENGTH"},
      {"192.0.2.0/33", "not a prefix length"},
      {"192.0.2.0/", "not a prefix length"},
      {"192.0.2.0/-1", "not a prefix length"},
      {"2001:db8::/129", "not a prefix length"},
      {"192.0.2.1/24", "host bits set; the network is 192.0.2.0/24"},
      {"2001:db8::1/64", "the network is 2001:db8::/64"},
      {"example/24", "not an IPv4 or IPv6 address"},
  }));
  auto p = IpPrefix::Parse(text);
  REQUIRE_FALSE(p.ok());
  CHECK_THAT(std::string(p.status().message()), Catch::Contains(reason));
}

}  // namespace
}  // namespace holdfast::net
