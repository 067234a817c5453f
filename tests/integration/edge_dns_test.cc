// holdfast-edge's dns listeners: dig (bind9-dnsutils) and kdig (knot-dnsutils) against the edge,
// UDP and TCP on the listener's port, the zone from the config, and a reload that changes it.
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/integration/edge_lab.h"
#include "tests/support/dig.h"

namespace {

using holdfast::testing::DigResult;
using holdfast::testing::EdgeLab;
using holdfast::testing::WaitUntil;
using namespace std::chrono_literals;

std::string Zone(const std::string& www) {
  return "dns:\n"
         "  zones:\n"
         "    - name: example.net.\n"
         "      soa: {mname: ns1.example.net., rname: hostmaster.example.net., minimum: 120}\n"
         "      ns: [ns1.example.net.]\n"
         "      records:\n"
         "        - {name: ns1, type: a, value: 192.0.2.53}\n"
         "        - {name: www, type: a, value: " +
         www +
         "}\n"
         "        - {name: \"@\", type: mx, priority: 10, value: mail.example.net.}\n"
         "        - {name: mail, type: a, value: 192.0.2.25}\n";
}

std::string Listeners(const std::string& www) {
  return "  - {name: http, port: {http}, protocol: http}\n"
         "  - {name: dns, port: {dns}, protocol: dns}\n" +
         Zone(www);
}

DigResult Dig(const EdgeLab& lab, const std::vector<std::string>& args) {
  return holdfast::testing::Dig{.port = lab.dns_port(), .options = {"+norecurse"}}(args);
}

TEST_CASE("a dns listener answers the config's zone over UDP and TCP", "[edge][dns]") {
  EdgeLab lab(Listeners("192.0.2.80"));
  const DigResult a = Dig(lab, {"+short", "www.example.net", "A"});
  INFO(a.out << a.err);
  CHECK(a.out == "192.0.2.80\n");
  const DigResult mx = Dig(lab, {"+tcp", "+short", "example.net", "MX"});
  CHECK(mx.out == "10 mail.example.net.\n");
  // Authoritative, NXDOMAIN with the SOA, and never a resolver for other names.
  const DigResult missing = Dig(lab, {"nope.example.net", "A"});
  CHECK(missing.status == "NXDOMAIN");
  CHECK(missing.HasFlag("aa"));
  CHECK(missing.out.find("IN\tSOA\tns1.example.net.") != std::string::npos);
  CHECK(Dig(lab, {"www.example.com", "A"}).status == "REFUSED");
  const holdfast::testing::Dig kdig{.tool = holdfast::testing::Dig::Tool::kKdig,
                                    .port = lab.dns_port()};
  CHECK(kdig({"+short", "+tcp", "www.EXAMPLE.net", "A"}).out == "192.0.2.80\n");
  // The edge counts them.
  CHECK(lab.Metric("holdfast_dns_queries_total{listener=\"dns\",transport=\"udp\"}") >= 2);
  CHECK(lab.Metric("holdfast_dns_queries_total{listener=\"dns\",transport=\"tcp\"}") >= 2);
  CHECK(lab.Metric("holdfast_dns_responses_total{listener=\"dns\",rcode=\"5\"}") == 1);
  // TCP admission, by reason (dns/limits/tcp_slots.h); no one was turned away here.
  CHECK(lab.Metric(
            "holdfast_dns_tcp_connections_refused_total{listener=\"dns\",reason=\"full\"}") == 0);
  CHECK(lab.Metric(
            "holdfast_dns_tcp_connections_refused_total{listener=\"dns\",reason=\"per_client\"}") ==
        0);
  CHECK(lab.Metric("holdfast_dns_tcp_connections_evicted_total{listener=\"dns\"}") == 0);
  // The latency histogram has a count and a sum: the mean of the answers so far.
  const double count = lab.Metric("holdfast_dns_query_duration_seconds_count{listener=\"dns\"}");
  const double sum = lab.Metric("holdfast_dns_query_duration_seconds_sum{listener=\"dns\"}");
  CHECK(count >= 4);
  CHECK(sum > 0);
  CHECK(sum / count < 1.0);
}

TEST_CASE("a reload changes what the dns listener answers", "[edge][dns][reload]") {
  EdgeLab lab(Listeners("192.0.2.80"));
  REQUIRE(Dig(lab, {"+short", "www.example.net", "A"}).out == "192.0.2.80\n");
  lab.WriteConfig(Listeners("192.0.2.81"), EdgeLab::kRoutes, EdgeLab::kClusters);
  lab.edge().Signal(SIGHUP);
  CHECK(WaitUntil(
      [&] {
        return Dig(lab, {"+short", "www.example.net", "A"}).out == "192.0.2.81\n";
      },
      10s));
}

}  // namespace
