// The server as an operator sees it: dig (BIND) and kdig (Knot) against a holdfast DNS server
// on loopback.
#include "tests/support/dig.h"

#include <catch2/catch.hpp>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/dns/test_data.h"
#include "tests/integration/dns/test_server.h"

namespace holdfast::dns::testing {
namespace {

using holdfast::testing::DigResult;

ServerOptions Options() {
  ServerOptions o;
  o.rate_limit.responses_per_second = 0;
  // Loopback is a known client: the amplification limit has its own test.
  o.trusted_prefixes.push_back(*net::IpPrefix::Parse("127.0.0.0/8"));
  return o;
}

// dig or kdig against the server, two tries of 2 s; it must exit 0.
std::string Ask(holdfast::testing::Dig::Tool tool, const TestServer& server,
                const std::vector<std::string>& args) {
  const DigResult r = holdfast::testing::Dig{.tool = tool, .port = server.port(), .tries = 2}(args);
  INFO(r.out << r.err);
  REQUIRE(r.ok);
  return r.out;
}

std::string Dig(const TestServer& server, const std::vector<std::string>& args) {
  return Ask(holdfast::testing::Dig::Tool::kDig, server, args);
}
std::string Kdig(const TestServer& server, const std::vector<std::string>& args) {
  return Ask(holdfast::testing::Dig::Tool::kKdig, server, args);
}

bool Has(const std::string& out, const std::string& pattern) {
  return std::regex_search(out, std::regex(pattern));
}

// The number after "ANSWER: " in dig's header line.
int AnswerCount(const std::string& out) {
  holdfast::testing::RunResult r;
  r.out = out;
  return holdfast::testing::ParseDig(r).answer_count;
}

TEST_CASE("dig gets every record type", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const auto [name, type, line] = GENERATE(table<std::string, std::string, std::string>({
      {"mail.example.net", "A", "mail\\.example\\.net\\.\\s+3600\\s+IN\\s+A\\s+192\\.0\\.2\\.25"},
      {"ns2.example.net", "AAAA", "IN\\s+AAAA\\s+2001:db8::53"},
      {"docs.example.net", "CNAME", "docs\\.example\\.net\\.\\s+300\\s+IN\\s+CNAME\\s+www\\."},
      {"example.net", "NS", "IN\\s+NS\\s+ns2\\.example\\.net\\."},
      {"example.net", "SOA",
       "IN\\s+SOA\\s+ns1\\.example\\.net\\. hostmaster\\.example\\.net\\. 7 3600 600 604800 300"},
      {"example.net", "MX", "IN\\s+MX\\s+10 mail\\.example\\.net\\."},
      {"example.net", "TXT", "IN\\s+TXT\\s+\"v=spf1 mx -all\""},
      {"www.example.net", "A", "www\\.example\\.net\\.\\s+30\\s+IN\\s+A\\s+192\\.0\\.2\\.[123]0"},
      {"www.example.net", "AAAA", "IN\\s+AAAA\\s+2001:db8:1::[12]0"},
      {"host.example.org", "A", "IN\\s+A\\s+198\\.51\\.100\\.1"},
  }));
  const std::string out = Dig(server, {name, type});
  INFO(out);
  CHECK(Has(out, "status: NOERROR"));
  CHECK(Has(out, "flags: qr aa rd;"));  // authoritative, no recursion offered
  CHECK(Has(out, line));
  const std::string kout = Kdig(server, {name, type});
  INFO(kout);
  CHECK(Has(kout, "status: NOERROR"));
  CHECK(Has(kout, line));
}

TEST_CASE("dig follows a CNAME chain across our zones", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string out = Dig(server, {"other.example.net", "A"});
  INFO(out);
  CHECK(Has(out, "other\\.example\\.net\\.\\s+3600\\s+IN\\s+CNAME\\s+host\\.example\\.org\\."));
  CHECK(Has(out, "host\\.example\\.org\\.\\s+600\\s+IN\\s+A\\s+198\\.51\\.100\\.1"));
}

TEST_CASE("NXDOMAIN and NODATA carry the SOA with the negative TTL", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string nx = Dig(server, {"nope.example.net", "A"});
  INFO(nx);
  CHECK(Has(nx, "status: NXDOMAIN"));
  CHECK(Has(nx, "flags: qr aa rd;"));
  CHECK(Has(nx, "ANSWER: 0, AUTHORITY: 1"));
  CHECK(Has(nx, "example\\.net\\.\\s+300\\s+IN\\s+SOA"));

  for (const char* name : {"mail.example.net", "deep.example.net"}) {
    const std::string nodata = Dig(server, {name, "AAAA"});
    INFO(nodata);
    CHECK(Has(nodata, "status: NOERROR"));
    CHECK(Has(nodata, "ANSWER: 0, AUTHORITY: 1"));
    CHECK(Has(nodata, "example\\.net\\.\\s+300\\s+IN\\s+SOA"));
  }
  const std::string knx = Kdig(server, {"nope.example.net", "A"});
  INFO(knx);
  CHECK(Has(knx, "status: NXDOMAIN"));
  CHECK(Has(knx, "example\\.net\\.\\s+300\\s+IN\\s+SOA"));
}

TEST_CASE("the query's case comes back in question and answer", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string out = Dig(server, {"MaIl.ExAmPlE.nEt", "A"});
  INFO(out);
  CHECK(Has(out, ";MaIl\\.ExAmPlE\\.nEt\\.\\s+IN\\s+A"));
  CHECK(Has(out, "\nMaIl\\.ExAmPlE\\.nEt\\.\\s+3600\\s+IN\\s+A\\s+192\\.0\\.2\\.2[56]"));
  // A service name too (kdig lowers names before sending, so dig it is).
  const std::string www = Dig(server, {"WwW.ExAmPlE.nEt", "A"});
  INFO(www);
  CHECK(Has(www, "\nWwW\\.ExAmPlE\\.nEt\\.\\s+30\\s+IN\\s+A\\s+192\\.0\\.2\\."));
}

TEST_CASE("EDNS: the client's size is honoured up to ours and the OPT echoed",
          "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  // mid (about 900 octets) does not fit 512: TC, and +ignore keeps dig from retrying.
  const std::string small = Dig(server, {"+bufsize=512", "+ignore", "mid.example.net", "TXT"});
  INFO(small);
  CHECK(Has(small, "flags: qr aa tc rd;"));
  CHECK(AnswerCount(small) == 0);
  CHECK(Has(small, "EDNS: version: 0, flags:; udp: 1232"));
  // It fits 1232.
  const std::string fits = Dig(server, {"+bufsize=1232", "+ignore", "mid.example.net", "TXT"});
  INFO(fits);
  CHECK(Has(fits, "flags: qr aa rd;"));
  CHECK(AnswerCount(fits) == 8);
  // Without EDNS the limit is 512.
  const std::string plain = Dig(server, {"+noedns", "+ignore", "mid.example.net", "TXT"});
  INFO(plain);
  CHECK(Has(plain, "flags: qr aa tc rd;"));
  CHECK_FALSE(Has(plain, "OPT PSEUDOSECTION"));
  // A client asking for 4096 gets at most our 1232: big (3.4 KB) is truncated.
  const std::string big = Dig(server, {"+bufsize=4096", "+ignore", "big.example.net", "TXT"});
  INFO(big);
  CHECK(Has(big, "flags: qr aa tc rd;"));
  CHECK(server.metrics().truncated.load() >= 3);
}

TEST_CASE("a truncated answer is retried over TCP and arrives whole", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string retried = Dig(server, {"+bufsize=512", "big.example.net", "TXT"});
  INFO(retried);
  CHECK(Has(retried, "Truncated, retrying in TCP mode"));
  CHECK(AnswerCount(retried) == 30);
  const std::string tcp = Dig(server, {"+tcp", "big.example.net", "TXT"});
  INFO(tcp);
  CHECK(AnswerCount(tcp) == 30);
  CHECK(Has(tcp, "\\(TCP\\)"));
  const std::string ktcp = Kdig(server, {"+tcp", "big.example.net", "TXT"});
  INFO(ktcp);
  CHECK(Has(ktcp, "ANSWER: 30"));
  CHECK(server.metrics().tcp_queries.load() >= 3);
}

TEST_CASE("kdig sends several queries over one TCP connection", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string out =
      Kdig(server, {"+tcp", "+keepopen", "mail.example.net", "A", "ns2.example.net", "AAAA",
                    "example.net", "MX", "nope.example.net", "A"});
  INFO(out);
  CHECK(Has(out, "IN\\s+A\\s+192\\.0\\.2\\.25"));
  CHECK(Has(out, "IN\\s+AAAA\\s+2001:db8::53"));
  CHECK(Has(out, "IN\\s+MX\\s+10 mail\\.example\\.net\\."));
  CHECK(Has(out, "status: NXDOMAIN"));
  CHECK(server.metrics().tcp_queries.load() == 4);
  CHECK(server.metrics().tcp_connections_accepted.load() == 1);
}

TEST_CASE("names outside our zones are REFUSED, without recursion", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string out = Dig(server, {"www.example.com", "A"});
  INFO(out);
  CHECK(Has(out, "status: REFUSED"));
  CHECK(Has(out, "flags: qr rd;"));
  CHECK(AnswerCount(out) == 0);
  const std::string kout = Kdig(server, {"example.com", "SOA"});
  INFO(kout);
  CHECK(Has(kout, "status: REFUSED"));
}

TEST_CASE("referrals for a delegated subzone, ANY minimal, NOTIMP", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string referral = Dig(server, {"www.sub.example.net", "A"});
  INFO(referral);
  CHECK(Has(referral, "status: NOERROR"));
  CHECK(Has(referral, "flags: qr rd;"));  // AA clear
  CHECK(Has(referral, "sub\\.example\\.net\\.\\s+3600\\s+IN\\s+NS\\s+ns\\.sub\\.example\\.net\\."));
  CHECK(Has(referral, "ns\\.sub\\.example\\.net\\.\\s+3600\\s+IN\\s+A\\s+192\\.0\\.2\\.99"));

  const std::string any = Dig(server, {"example.net", "ANY"});
  INFO(any);
  CHECK(Has(any, "status: NOERROR"));
  CHECK(AnswerCount(any) == 1);

  const std::string notify = Dig(server, {"+opcode=notify", "example.net", "SOA"});
  INFO(notify);
  CHECK(Has(notify, "status: NOTIMP"));
}

TEST_CASE("a client with EDNS version 1 gets BADVERS", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string out = Dig(server, {"+edns=1", "+noednsneg", "example.net", "SOA"});
  INFO(out);
  CHECK(Has(out, "status: BADVERS"));
  CHECK(AnswerCount(out) == 0);
}

TEST_CASE("without an address proven, UDP answers stay within 10x the query",
          "[dns][integration]") {
  ServerOptions options = Options();
  options.trusted_prefixes.clear();
  TestServer server(options, IntegrationData());
  // mid fits 1232 but is about 15 times a query without a cookie: truncated.
  const std::string capped =
      Dig(server, {"+bufsize=1232", "+nocookie", "+ignore", "mid.example.net", "TXT"});
  INFO(capped);
  CHECK(Has(capped, "flags: qr aa tc rd;"));
  CHECK(server.metrics().amplification_truncated.load() == 1);
  // A TCP connection proves the address; then UDP answers in full.
  const std::string tcp = Dig(server, {"+tcp", "example.net", "SOA"});
  INFO(tcp);
  CHECK(Has(tcp, "status: NOERROR"));
  const std::string whole =
      Dig(server, {"+bufsize=1232", "+nocookie", "+ignore", "mid.example.net", "TXT"});
  INFO(whole);
  CHECK(AnswerCount(whole) == 8);
  CHECK(server.metrics().amplification_truncated.load() == 1);
}

TEST_CASE("with every POP down a service name still answers (fail open)", "[dns][integration]") {
  TestServer server(Options(), IntegrationData());
  const std::string healthy = Dig(server, {"www.example.net", "A"});
  INFO(healthy);
  CHECK(AnswerCount(healthy) == 2);
  CHECK(server.metrics().fail_open_answers.load() == 0);
  // The edge swaps in a state where no POP serves.
  server.Swap(IntegrationData(/*all_pops_down=*/true));
  const std::string down = Dig(server, {"www.example.net", "A"});
  INFO(down);
  CHECK(Has(down, "status: NOERROR"));
  CHECK(AnswerCount(down) == 2);
  CHECK(Has(down, "www\\.example\\.net\\.\\s+30\\s+IN\\s+A\\s+192\\.0\\.2\\.[123]0"));
  const std::string down6 = Kdig(server, {"www.example.net", "AAAA"});
  INFO(down6);
  CHECK(Has(down6, "IN\\s+AAAA\\s+2001:db8:1::[12]0"));
  CHECK(server.metrics().fail_open_answers.load() == 2);
}

}  // namespace
}  // namespace holdfast::dns::testing
