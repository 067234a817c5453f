// The DNS tests' config, in the schema: two zones we own, a delegated subzone, a wildcard,
// CNAME chains and one service name on three POPs. The integration tests and the fuzzer serve
// it through edge/config/dns_config; dns/'s unit tests answer from the same data in dns/'s own
// types (test_zones.h), and tests/unit/edge/config/dns_config_test.cc checks that the two agree.
#ifndef HOLDFAST_TESTS_UNIT_DNS_TEST_CONFIG_H_
#define HOLDFAST_TESTS_UNIT_DNS_TEST_CONFIG_H_

#include <google/protobuf/text_format.h>

#include <stdexcept>
#include <string>

#include "holdfast/v1/config.pb.h"

namespace holdfast::dns::testing {

inline constexpr char kTestConfig[] = R"pb(
  prefixes { name: "web-v4" cidr: "192.0.2.0/24" }
  prefixes { name: "web-v6" cidr: "2001:db8:1::/48" }
  pops {
    name: "ams"
    region: "eu"
    capacity_weight: 100
    preference: 10
    announce { prefix: "web-v4" vips: "192.0.2.10" }
    announce { prefix: "web-v6" vips: "2001:db8:1::10" }
  }
  pops {
    name: "fra"
    region: "eu"
    capacity_weight: 300
    preference: 20
    announce { prefix: "web-v4" vips: "192.0.2.20" }
    announce { prefix: "web-v6" vips: "2001:db8:1::20" }
  }
  pops {
    name: "iad"
    region: "us"
    capacity_weight: 600
    preference: 30
    announce { prefix: "web-v4" vips: "192.0.2.30" }
  }
  dns {
    zones {
      name: "example.net"
      soa {
        mname: "ns1.example.net."
        rname: "hostmaster.example.net."
        serial: 7
        refresh: 3600
        retry: 600
        expire: 604800
        minimum: 300
      }
      ns: "ns1.example.net."
      ns: "ns2.example.net."
      ttl: 3600
      records { name: "ns1" type: TYPE_A value: "192.0.2.53" }
      records { name: "ns2" type: TYPE_AAAA value: "2001:db8::53" }
      records { name: "@" type: TYPE_MX priority: 10 value: "mail.example.net." }
      records { name: "mail" type: TYPE_A value: "192.0.2.25" }
      records { name: "mail" type: TYPE_A value: "192.0.2.26" }
      records { name: "@" type: TYPE_TXT value: "v=spf1 mx -all" }
      records { name: "docs" type: TYPE_CNAME value: "www.example.net." ttl: 300 }
      records { name: "a.b.deep" type: TYPE_A value: "192.0.2.7" }
      records { name: "sub" type: TYPE_NS value: "ns.sub.example.net." }
      records { name: "ns.sub" type: TYPE_A value: "192.0.2.99" }
      records { name: "ext" type: TYPE_CNAME value: "www.example.com." }
      records { name: "other" type: TYPE_CNAME value: "host.example.org." }
      records { name: "*.wild" type: TYPE_A value: "192.0.2.77" }
      records { name: "loop1" type: TYPE_CNAME value: "loop2.example.net." }
      records { name: "loop2" type: TYPE_CNAME value: "loop1.example.net." }
      records { name: "gone" type: TYPE_CNAME value: "missing.example.net." }
    }
    zones {
      name: "example.org."
      soa {
        mname: "ns1.example.net."
        rname: "hostmaster.example.net."
        serial: 1
        refresh: 3600
        retry: 600
        expire: 604800
        minimum: 900
      }
      ns: "ns1.example.net."
      ttl: 600
      records { name: "host" type: TYPE_A value: "198.51.100.1" }
    }
    services {
      name: "www.example.net."
      prefixes: "web-v4"
      prefixes: "web-v6"
      ttl: 30
      max_records: 2
    }
  }
)pb";

inline v1::Config TestConfig() {
  v1::Config config;
  if (!google::protobuf::TextFormat::ParseFromString(kTestConfig, &config)) {
    throw std::runtime_error("test config does not parse");
  }
  return config;
}

}  // namespace holdfast::dns::testing

#endif  // HOLDFAST_TESTS_UNIT_DNS_TEST_CONFIG_H_
