#include "dns/answer/engine.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>

#include "dns/wire/name.h"
#include "tests/unit/dns/test_zones.h"

namespace holdfast::dns {
namespace {

std::string Wire(std::string_view text) { return *NameFromText(text); }

std::string A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string(
      {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
}

DnsData Data() {
  DnsData data;
  data.zones = *ZoneSet::Compile(testing::TestZones(), testing::TestServiceNames());
  data.services = *ServiceState::Create(testing::TestServices());
  return data;
}

Message Query(std::string_view name, uint16_t type) {
  Message q;
  q.header.id = 4242;
  q.header.rd = true;
  q.questions.push_back(Question{Wire(name), type, kClassIn});
  return q;
}

AnswerResult Ask(const Message& q) {
  static const DnsData data = Data();
  std::mt19937_64 rng(1);
  return Answer(data, q, [&rng] { return rng(); });
}

AnswerResult Ask(std::string_view name, uint16_t type) { return Ask(Query(name, type)); }

TEST_CASE("answers A with the query's spelling in question and owner", "[dns][answer]") {
  const AnswerResult r = Ask("MaIl.ExAmPlE.nEt", kTypeA);
  const Message& m = r.response;
  CHECK(m.header.id == 4242);
  CHECK(m.header.qr);
  CHECK(m.header.aa);
  CHECK_FALSE(m.header.ra);
  CHECK(m.header.rd);
  CHECK(m.rcode() == kRcodeNoError);
  CHECK(m.questions[0].name == Wire("MaIl.ExAmPlE.nEt"));
  REQUIRE(m.answers.size() == 2);
  CHECK(m.answers[0].name == Wire("MaIl.ExAmPlE.nEt"));
  CHECK(m.answers[0].rdata == A(192, 0, 2, 25));
  CHECK(m.answers[0].ttl == 3600);
}

TEST_CASE("answers every configured type", "[dns][answer]") {
  const auto [name, type, count] = GENERATE(table<std::string, uint16_t, size_t>({
      {"example.net", kTypeSoa, 1},
      {"example.net", kTypeNs, 2},
      {"example.net", kTypeMx, 1},
      {"example.net", kTypeTxt, 1},
      {"ns2.example.net", kTypeAaaa, 1},
      {"docs.example.net", kTypeCname, 1},
      {"host.example.org", kTypeA, 1},
  }));
  const AnswerResult r = Ask(name, type);
  CHECK(r.response.rcode() == kRcodeNoError);
  CHECK(r.response.header.aa);
  REQUIRE(r.response.answers.size() == count);
  CHECK(r.response.answers[0].type == type);
}

TEST_CASE("adds in-zone addresses of NS and MX targets", "[dns][answer]") {
  const AnswerResult ns = Ask("example.net", kTypeNs);
  REQUIRE(ns.response.additional.size() == 2);
  CHECK(ns.response.additional[0].name == Wire("ns1.example.net"));
  CHECK(ns.response.additional[1].type == kTypeAaaa);
  const AnswerResult mx = Ask("example.net", kTypeMx);
  CHECK(mx.response.additional.size() == 2);  // mail has two A records
}

TEST_CASE("NXDOMAIN carries the SOA with the negative TTL", "[dns][answer]") {
  const AnswerResult r = Ask("nope.example.net", kTypeA);
  CHECK(r.response.rcode() == kRcodeNxDomain);
  CHECK(r.response.header.aa);
  CHECK(r.response.answers.empty());
  REQUIRE(r.response.authority.size() == 1);
  CHECK(r.response.authority[0].type == kTypeSoa);
  CHECK(r.response.authority[0].name == Wire("example.net"));
  // RFC 2308: min(SOA TTL 3600, MINIMUM 300).
  CHECK(r.response.authority[0].ttl == 300);
  // The other zone: min(600, 900).
  CHECK(Ask("nope.example.org", kTypeA).response.authority[0].ttl == 600);
}

TEST_CASE("NODATA for a type the name lacks and for empty non-terminals", "[dns][answer]") {
  for (const char* name : {"mail.example.net", "deep.example.net", "b.deep.example.net"}) {
    const AnswerResult r = Ask(name, kTypeAaaa);
    CHECK(r.response.rcode() == kRcodeNoError);
    CHECK(r.response.answers.empty());
    REQUIRE(r.response.authority.size() == 1);
    CHECK(r.response.authority[0].type == kTypeSoa);
  }
}

TEST_CASE("chases CNAMEs inside the zone and across zones we own", "[dns][answer]") {
  const AnswerResult docs = Ask("docs.example.net", kTypeA);
  REQUIRE(docs.response.answers.size() == 3);  // CNAME, then two service addresses
  CHECK(docs.response.answers[0].type == kTypeCname);
  CHECK(docs.response.answers[0].ttl == 300);
  CHECK(docs.response.answers[1].name == Wire("www.example.net"));
  CHECK(docs.response.answers[1].ttl == 30);

  const AnswerResult other = Ask("other.example.net", kTypeA);
  REQUIRE(other.response.answers.size() == 2);
  CHECK(other.response.answers[1].rdata == A(198, 51, 100, 1));

  const AnswerResult ext = Ask("ext.example.net", kTypeA);
  CHECK(ext.response.rcode() == kRcodeNoError);
  REQUIRE(ext.response.answers.size() == 1);
  CHECK(ext.response.answers[0].type == kTypeCname);

  // RFC 6604: the rcode is the chain's last name's.
  const AnswerResult gone = Ask("gone.example.net", kTypeA);
  CHECK(gone.response.rcode() == kRcodeNxDomain);
  CHECK(gone.response.answers.size() == 1);
}

TEST_CASE("a CNAME loop ends", "[dns][answer]") {
  const AnswerResult r = Ask("loop1.example.net", kTypeA);
  CHECK(r.response.rcode() == kRcodeNoError);
  CHECK(r.response.answers.size() <= 9);
  CHECK(r.response.answers.size() >= 2);
}

TEST_CASE("refers delegated subzones without AA, with glue", "[dns][answer]") {
  for (const char* name : {"sub.example.net", "www.sub.example.net", "a.b.sub.example.net"}) {
    const AnswerResult r = Ask(name, kTypeA);
    CHECK(r.referral);
    CHECK(r.response.rcode() == kRcodeNoError);
    CHECK_FALSE(r.response.header.aa);
    CHECK(r.response.answers.empty());
    REQUIRE(r.response.authority.size() == 1);
    CHECK(r.response.authority[0].type == kTypeNs);
    CHECK(r.response.authority[0].name == Wire("sub.example.net"));
    REQUIRE(r.response.additional.size() == 1);
    CHECK(r.response.additional[0].rdata == A(192, 0, 2, 99));
  }
}

TEST_CASE("answers DS at a cut from the parent side", "[dns][answer]") {
  const AnswerResult r = Ask("sub.example.net", kTypeDs);
  CHECK_FALSE(r.referral);
  CHECK(r.response.header.aa);
  CHECK(r.response.rcode() == kRcodeNoError);
  CHECK(r.response.answers.empty());
  REQUIRE(r.response.authority.size() == 1);
  CHECK(r.response.authority[0].type == kTypeSoa);
  // Below the cut, DS belongs to the child: a referral.
  CHECK(Ask("a.sub.example.net", kTypeDs).referral);
}

TEST_CASE("synthesizes from a wildcard with the query's name", "[dns][answer]") {
  const AnswerResult r = Ask("Foo.wild.example.net", kTypeA);
  REQUIRE(r.response.answers.size() == 1);
  CHECK(r.response.answers[0].name == Wire("Foo.wild.example.net"));
  CHECK(r.response.answers[0].rdata == A(192, 0, 2, 77));
  CHECK(Ask("Foo.wild.example.net", kTypeMx).response.answers.empty());
}

TEST_CASE("answers ANY with one RRset", "[dns][answer]") {
  const AnswerResult r = Ask("example.net", kTypeAny);
  CHECK(r.response.rcode() == kRcodeNoError);
  REQUIRE_FALSE(r.response.answers.empty());
  for (const ResourceRecord& rr : r.response.answers) {
    CHECK(rr.type == r.response.answers[0].type);
  }
}

TEST_CASE("refuses names outside our zones, other classes and transfers", "[dns][answer]") {
  for (const auto& [name, type] : std::vector<std::pair<std::string, uint16_t>>{
           {"www.example.com", kTypeA}, {"net", kTypeNs}, {"example.net", kTypeAxfr}}) {
    const AnswerResult r = Ask(name, type);
    CHECK(r.response.rcode() == kRcodeRefused);
    CHECK_FALSE(r.response.header.aa);
    CHECK_FALSE(r.response.header.ra);
    CHECK(r.response.answers.empty());
  }
  Message chaos = Query("example.net", kTypeTxt);
  chaos.questions[0].qclass = 3;
  CHECK(Ask(chaos).response.rcode() == kRcodeRefused);
}

TEST_CASE("FORMERR for a query that is not one question", "[dns][answer]") {
  Message none = Query("example.net", kTypeA);
  none.questions.clear();
  CHECK(Ask(none).response.rcode() == kRcodeFormErr);
  Message two = Query("example.net", kTypeA);
  two.questions.push_back(two.questions[0]);
  const AnswerResult r = Ask(two);
  CHECK(r.response.rcode() == kRcodeFormErr);
  CHECK(r.response.questions.empty());
  CHECK(Ask("example.net", kTypeOpt).response.rcode() == kRcodeFormErr);
}

TEST_CASE("NOTIMP for opcodes other than QUERY", "[dns][answer]") {
  const uint8_t opcode = GENERATE(1, 2, 4, 5, 15);
  Message q = Query("example.net", kTypeSoa);
  q.header.opcode = opcode;
  const AnswerResult r = Ask(q);
  CHECK(r.response.rcode() == kRcodeNotImp);
  CHECK(r.response.header.opcode == opcode);
}

TEST_CASE("echoes an OPT and answers BADVERS for EDNS versions above 0", "[dns][answer]") {
  Message q = Query("example.net", kTypeSoa);
  q.edns = Edns{4096, 0, 0, true, 0, ""};
  const AnswerResult ok = Ask(q);
  REQUIRE(ok.response.edns.has_value());
  CHECK(ok.response.edns->udp_size == 1232);
  CHECK(ok.response.edns->dnssec_ok);
  CHECK(ok.response.answers.size() == 1);

  q.edns->version = 1;
  const AnswerResult bad = Ask(q);
  CHECK(bad.response.rcode() == kRcodeBadVers);
  CHECK(bad.response.header.rcode == 0);
  REQUIRE(bad.response.edns.has_value());
  CHECK(bad.response.edns->extended_rcode == 1);
  CHECK(bad.response.answers.empty());
}

TEST_CASE("service names answer from the service state, A and AAAA apart", "[dns][answer]") {
  const AnswerResult a = Ask("WWW.example.net", kTypeA);
  REQUIRE(a.response.answers.size() == 2);  // max_records
  CHECK(a.response.answers[0].name == Wire("WWW.example.net"));
  CHECK(a.response.answers[0].type == kTypeA);
  CHECK(a.response.answers[0].ttl == 30);
  CHECK(a.response.answers[0].rdata != a.response.answers[1].rdata);
  CHECK_FALSE(a.fail_open);
  const AnswerResult aaaa = Ask("www.example.net", kTypeAaaa);
  REQUIRE(aaaa.response.answers.size() == 2);
  CHECK(aaaa.response.answers[0].type == kTypeAaaa);
  const AnswerResult mx = Ask("www.example.net", kTypeMx);
  CHECK(mx.response.answers.empty());
  CHECK(mx.response.authority.size() == 1);
}

TEST_CASE("a response with no zones refuses", "[dns][answer]") {
  DnsData empty;
  std::mt19937_64 rng(1);
  const AnswerResult r = Answer(empty, Query("example.net", kTypeA), [&rng] { return rng(); });
  CHECK(r.response.rcode() == kRcodeRefused);
}

TEST_CASE("FORMERR for undecodable bytes keeps the ID", "[dns][answer]") {
  Header h;
  h.id = 99;
  h.rd = true;
  const Message m = FormErrResponse(h);
  CHECK(m.header.id == 99);
  CHECK(m.header.qr);
  CHECK(m.rcode() == kRcodeFormErr);
}

}  // namespace
}  // namespace holdfast::dns
