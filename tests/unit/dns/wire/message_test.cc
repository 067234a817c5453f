#include "dns/wire/message.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/wire/name.h"

namespace holdfast::dns {
namespace {

std::string Wire(std::string_view text) { return *NameFromText(text); }

std::span<const uint8_t> Span(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ResourceRecord Rr(std::string_view owner, uint16_t type, std::string rdata, uint32_t ttl = 300) {
  return ResourceRecord{Wire(owner), type, kClassIn, ttl, std::move(rdata)};
}

std::string A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string(
      {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
}

Message Sample() {
  Message m;
  m.header.id = 0xbeef;
  m.header.qr = true;
  m.header.aa = true;
  m.header.rd = true;
  m.questions.push_back(Question{Wire("WwW.example.net"), kTypeA, kClassIn});
  m.answers.push_back(Rr("WwW.example.net", kTypeCname, Wire("web.example.net")));
  m.answers.push_back(Rr("web.example.net", kTypeA, A(192, 0, 2, 1)));
  m.answers.push_back(Rr("web.example.net", kTypeA, A(192, 0, 2, 2)));
  m.authority.push_back(Rr("example.net", kTypeNs, Wire("ns1.example.net")));
  m.authority.push_back(Rr("example.net", kTypeSoa,
                           SoaRdata(Wire("ns1.example.net"), Wire("hostmaster.example.net"), 1,
                                    3600, 600, 604800, 300)));
  m.additional.push_back(Rr("ns1.example.net", kTypeAaaa, std::string(16, '\x20')));
  m.additional.push_back(Rr("example.net", kTypeMx, MxRdata(10, Wire("mail.example.net"))));
  m.additional.push_back(Rr("example.net", kTypeTxt, TxtRdata("v=spf1 -all")));
  m.additional.push_back(Rr("example.net", 65280, std::string("\xc0\x00opaque", 8)));
  m.edns = Edns{1232, 0, 0, true, 0, std::string("\x00\x0a\x00\x02xy", 6)};
  return m;
}

TEST_CASE("encodes and decodes every record type back to the same message", "[dns][wire]") {
  const Message m = Sample();
  ByteWriter w;
  REQUIRE(EncodeMessage(m, w).ok());
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  REQUIRE(back.ok());
  CHECK(*back == m);
  CHECK(back->questions[0].name == Wire("WwW.example.net"));
}

TEST_CASE("compression makes the message smaller than its names written out", "[dns][wire]") {
  const Message m = Sample();
  ByteWriter w;
  REQUIRE(EncodeMessage(m, w).ok());
  size_t uncompressed = 12 + m.questions[0].name.size() + 4 + 11 + m.edns->options.size();
  for (const auto* s : {&m.answers, &m.authority, &m.additional}) {
    for (const ResourceRecord& rr : *s) uncompressed += rr.name.size() + 10 + rr.rdata.size();
  }
  // Each repeated "example.net" becomes a two-octet pointer.
  CHECK(w.size() + 100 < uncompressed);
  // Names inside SOA RDATA are compressed too (RFC 3597 section 4 allows it for SOA).
  const std::string rname = Wire("hostmaster.example.net");
  CHECK(w.data().find(rname) == std::string::npos);
  CHECK(w.data().find(rname.substr(0, 11)) != std::string::npos);
}

TEST_CASE("decodes names in RDATA that point into the message", "[dns][wire]") {
  // Query for example.net MX, answer MX 10 mail.<pointer to question name>.
  std::string msg("\x12\x34\x81\x00\x00\x01\x00\x01\x00\x00\x00\x00", 12);
  msg += Wire("example.net") + std::string("\x00\x0f\x00\x01", 4);
  msg +=
      std::string("\xc0\x0c\x00\x0f\x00\x01\x00\x00\x01\x2c\x00\x09\x00\x0a\x04mail\xc0\x0c", 21);
  absl::StatusOr<Message> m = DecodeMessage(Span(msg));
  REQUIRE(m.ok());
  REQUIRE(m->answers.size() == 1);
  CHECK(m->answers[0].rdata == MxRdata(10, Wire("mail.example.net")));
}

TEST_CASE("rejects malformed messages with a reason", "[dns][wire]") {
  const std::string header("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
  const std::string q = Wire("example.net") + std::string("\x00\x01\x00\x01", 4);
  const auto [wire, reason] = GENERATE_REF(table<std::string, std::string>({
      {std::string("\x12\x34\x01", 3), "header truncated"},
      {header, "name runs past the end of the message"},
      {header + q + "x", "trailing octets after the last record"},
      {header.substr(0, 7) + std::string("\x01", 1) + header.substr(8) + q +
           std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x03\x01\x02\x03", 15),
       "A RDATA is not 4 octets"},
      {header.substr(0, 7) + std::string("\x01", 1) + header.substr(8) + q +
           std::string("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x01\x00\x09\x01\x02\x03", 15),
       "RDATA runs past the end of the message"},
      {header.substr(0, 7) + std::string("\x01", 1) + header.substr(8) + q +
           std::string("\xc0\x0c\x00\x10\x00\x01\x00\x00\x00\x01\x00\x03\x05", 13) + "ab",
       "TXT character-string overruns its RDATA"},
      {header.substr(0, 7) + std::string("\x01", 1) + header.substr(8) + q +
           std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11),
       "OPT outside the additional section"},
      {header.substr(0, 11) + std::string("\x02", 1) + q +
           std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11) +
           std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11),
       "more than one OPT record"},
      {header.substr(0, 11) + std::string("\x01", 1) + q +
           std::string("\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x03\x00\x01\x00", 14),
       "OPT option header truncated"},
      {header.substr(0, 11) + std::string("\x01", 1) + q +
           std::string("\xc0\x0c\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 12),
       "OPT owner is not the root"},
  }));
  absl::StatusOr<Message> m = DecodeMessage(Span(wire));
  REQUIRE_FALSE(m.ok());
  CHECK(m.status().message() == reason);
}

TEST_CASE("reads EDNS size, version, DO and extended rcode", "[dns][wire]") {
  Message m;
  m.header.id = 7;
  m.questions.push_back(Question{Wire("example.net"), kTypeSoa, kClassIn});
  m.edns = Edns{4096, 0, 1, true, 0, ""};
  m.set_rcode(kRcodeBadVers);
  CHECK(m.header.rcode == 0);
  CHECK(m.edns->extended_rcode == 1);
  ByteWriter w;
  REQUIRE(EncodeMessage(m, w).ok());
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  REQUIRE(back.ok());
  CHECK(back->edns->udp_size == 4096);
  CHECK(back->edns->version == 1);
  CHECK(back->edns->dnssec_ok);
  CHECK(back->rcode() == kRcodeBadVers);
}

Message BigAnswer(int records, bool edns) {
  Message m;
  m.header.qr = true;
  m.questions.push_back(Question{Wire("big.example.net"), kTypeTxt, kClassIn});
  for (int i = 0; i < records; ++i) {
    m.answers.push_back(Rr("big.example.net", kTypeTxt, TxtRdata(std::string(100, 'a' + i % 26))));
  }
  m.additional.push_back(Rr("ns1.example.net", kTypeA, A(192, 0, 2, 53)));
  if (edns) m.edns = Edns{};
  return m;
}

TEST_CASE("truncation drops whole RRsets, sets TC and keeps the OPT", "[dns][wire]") {
  Message m = BigAnswer(10, true);
  // A second RRset that fits alone.
  m.answers.push_back(Rr("small.example.net", kTypeA, A(192, 0, 2, 9)));
  ByteWriter w;
  bool truncated = false;
  REQUIRE(EncodeResponse(m, 512, w, &truncated).ok());
  CHECK(truncated);
  CHECK(w.size() <= 512);
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  REQUIRE(back.ok());
  CHECK(back->header.tc);
  // The TXT RRset does not fit, so nothing after it is sent either: no partial RRset.
  CHECK(back->answers.empty());
  CHECK(back->additional.empty());
  CHECK(back->edns.has_value());
  CHECK(back->questions == m.questions);
}

TEST_CASE("an answer that fits the limit is not truncated", "[dns][wire]") {
  const Message m = BigAnswer(10, true);
  ByteWriter w;
  bool truncated = true;
  REQUIRE(EncodeResponse(m, 1232, w, &truncated).ok());
  CHECK_FALSE(truncated);
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  REQUIRE(back.ok());
  CHECK_FALSE(back->header.tc);
  CHECK(back->answers.size() == 10);
  CHECK(back->additional.size() == 1);
}

TEST_CASE("additional data that does not fit is left out without TC", "[dns][wire]") {
  // Four 100-octet TXT records fit in 512 with the question; the glue is made not to.
  Message m = BigAnswer(4, false);
  m.additional.clear();
  for (int i = 0; i < 10; ++i) {
    m.additional.push_back(Rr("x" + std::to_string(i) + ".example.net", kTypeA, A(192, 0, 2, 1)));
  }
  ByteWriter w;
  bool truncated = true;
  REQUIRE(EncodeResponse(m, 512, w, &truncated).ok());
  CHECK_FALSE(truncated);
  CHECK(w.size() <= 512);
  absl::StatusOr<Message> back = DecodeMessage(Span(w.data()));
  REQUIRE(back.ok());
  CHECK(back->answers.size() == 4);
  CHECK(back->additional.size() < 10);
}

TEST_CASE("encoding refuses RDATA that does not fit its type", "[dns][wire]") {
  Message m;
  m.answers.push_back(Rr("example.net", kTypeA, "abc"));
  ByteWriter w;
  CHECK_FALSE(EncodeMessage(m, w).ok());
  CHECK(w.size() == 0);
}

TEST_CASE("reads the header of an undecodable message", "[dns][wire]") {
  const std::string wire("\xab\xcd\x01\x00\x00\x05", 6);
  CHECK_FALSE(DecodeHeader(Span(wire)).has_value());
  const std::string full = wire + std::string(6, '\0');
  std::optional<Header> h = DecodeHeader(Span(full));
  REQUIRE(h.has_value());
  CHECK(h->id == 0xabcd);
  CHECK(h->rd);
}

}  // namespace
}  // namespace holdfast::dns
