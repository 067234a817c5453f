// The zones and service name the DNS unit tests answer from, in dns/'s own types: two zones we
// own, a delegated subzone, a wildcard, CNAME chains and one service name on three POPs. The
// same data as the config of test_config.h, which the integration tests and the fuzzer serve
// through edge/config/dns_config; tests/unit/edge/config/dns_config_test.cc checks that the
// two compile alike.
#ifndef HOLDFAST_TESTS_UNIT_DNS_TEST_ZONES_H_
#define HOLDFAST_TESTS_UNIT_DNS_TEST_ZONES_H_

#include <stdexcept>
#include <string>
#include <vector>

#include "common/net/ip.h"
#include "dns/service/service_state.h"
#include "dns/wire/name.h"
#include "dns/zone/zone_set.h"

namespace holdfast::dns::testing {

inline std::vector<ZoneSpec> TestZones() {
  using T = RecordType;
  ZoneSpec net;
  net.apex = "example.net";
  net.soa = SoaSpec{"ns1.example.net.", "hostmaster.example.net.", 7, 3600, 600, 604800, 300};
  net.ns = {"ns1.example.net.", "ns2.example.net."};
  net.ttl = 3600;
  net.records = {
      {"ns1", T::kA, {}, "192.0.2.53", 0},
      {"ns2", T::kAaaa, {}, "2001:db8::53", 0},
      {"@", T::kMx, {}, "mail.example.net.", 10},
      {"mail", T::kA, {}, "192.0.2.25", 0},
      {"mail", T::kA, {}, "192.0.2.26", 0},
      {"@", T::kTxt, {}, "v=spf1 mx -all", 0},
      {"docs", T::kCname, 300, "www.example.net.", 0},
      {"a.b.deep", T::kA, {}, "192.0.2.7", 0},
      {"sub", T::kNs, {}, "ns.sub.example.net.", 0},
      {"ns.sub", T::kA, {}, "192.0.2.99", 0},
      {"ext", T::kCname, {}, "www.example.com.", 0},
      {"other", T::kCname, {}, "host.example.org.", 0},
      {"*.wild", T::kA, {}, "192.0.2.77", 0},
      {"loop1", T::kCname, {}, "loop2.example.net.", 0},
      {"loop2", T::kCname, {}, "loop1.example.net.", 0},
      {"gone", T::kCname, {}, "missing.example.net.", 0},
  };

  ZoneSpec org;
  org.apex = "example.org.";
  org.soa = SoaSpec{"ns1.example.net.", "hostmaster.example.net.", 1, 3600, 600, 604800, 900};
  org.ns = {"ns1.example.net."};
  org.ttl = 600;
  org.records = {{"host", T::kA, {}, "198.51.100.1", 0}};
  return {net, org};
}

// The service names of the zones' config: the GSLB names ZoneSet marks as service nodes.
inline std::vector<std::string> TestServiceNames() { return {"www.example.net."}; }

// www.example.net. (A from web-v4, AAAA from web-v6) as the config alone answers it: every POP
// serves at its capacity weight (ams 100 with preference 10, fra 300 with 20, iad 600 with 30,
// iad having no IPv6 VIP), and the floor set is every POP, best-ranked first.
inline std::vector<ServiceAnswers> TestServices() {
  const auto ip = [](const char* text) {
    const std::optional<net::IpAddress> a = net::IpAddress::Parse(text);
    if (!a.has_value()) throw std::runtime_error("test address does not parse");
    return *a;
  };
  const absl::StatusOr<std::string> name = NameFromText("www.example.net.");
  if (!name.ok()) throw std::runtime_error("test service name does not parse");
  ServiceAnswers www;
  www.name = *name;
  www.ttl = 30;
  www.max_records = 2;
  www.candidates = {
      {ip("192.0.2.10"), "ams", 100, true}, {ip("2001:db8:1::10"), "ams", 100, true},
      {ip("192.0.2.20"), "fra", 300, true}, {ip("2001:db8:1::20"), "fra", 300, true},
      {ip("192.0.2.30"), "iad", 600, true},
  };
  www.floor = www.candidates;
  return {www};
}

}  // namespace holdfast::dns::testing

#endif  // HOLDFAST_TESTS_UNIT_DNS_TEST_ZONES_H_
