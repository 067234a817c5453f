#include "bgp/wire/message.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace holdfast::bgp {
namespace {

using Bytes = std::vector<uint8_t>;

Prefix P(const char* text) { return *Prefix::Parse(text); }
net::IpAddress A(const char* text) { return *net::IpAddress::Parse(text); }

// An UPDATE body with no withdrawn routes, the given attribute bytes and NLRI bytes.
Bytes UpdateBody(const Bytes& attrs, const Bytes& nlri) {
  // Sized once and filled in place: g++ 12 at -O2 warns (-Warray-bounds, a false positive) about
  // inserting into a short vector.
  Bytes b(4 + attrs.size() + nlri.size(), 0);
  b[2] = static_cast<uint8_t>(attrs.size() >> 8);
  b[3] = static_cast<uint8_t>(attrs.size());
  std::copy(attrs.begin(), attrs.end(), b.begin() + 4);
  std::copy(nlri.begin(), nlri.end(), b.begin() + 4 + static_cast<std::ptrdiff_t>(attrs.size()));
  return b;
}

// ORIGIN IGP, AS_PATH [64512] (4-octet), NEXT_HOP 192.0.2.1.
Bytes BaseAttrs() {
  return {0x40, 1, 1, 0,                         // ORIGIN
          0x40, 2, 6, 2,   1, 0, 0, 0xfc, 0x00,  // AS_PATH
          0x40, 3, 4, 192, 0, 2, 1};             // NEXT_HOP
}
const Bytes kNlri = {24, 198, 51, 100};  // 198.51.100.0/24

Bytes Concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::optional<NotificationMessage> ErrorOf(const absl::Status& s) {
  return NotificationFromStatus(s);
}

TEST_CASE("open with every capability round-trips", "[bgp][wire]") {
  OpenMessage open;
  open.my_as = kAsTrans;
  open.hold_time = 90;
  open.bgp_id = 0xc0000201;
  open.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  open.capabilities.route_refresh = true;
  open.capabilities.four_octet_as = 4200000000u;
  GracefulRestartCapability gr;
  gr.restarting = true;
  gr.restart_time = 120;
  gr.families = {{kIpv4Unicast, true}, {kIpv6Unicast, false}};
  open.capabilities.graceful_restart = gr;
  open.capabilities.unknown = {{70, {}}};

  absl::StatusOr<Bytes> wire = EncodeMessage(open, {});
  REQUIRE(wire.ok());
  absl::StatusOr<DecodedMessage> back = DecodeMessage(*wire, {});
  REQUIRE(back.ok());
  const auto& got = std::get<OpenMessage>(back->message);
  CHECK(got == open);
  CHECK(got.asn() == 4200000000u);
}

TEST_CASE("open errors name the notification of RFC 4271 section 6.2", "[bgp][wire]") {
  OpenMessage open;
  open.my_as = 64512;
  open.hold_time = 90;
  open.bgp_id = 1;
  auto [mutate, code, subcode] = GENERATE(table<int, uint8_t, uint8_t>({
      {0, kOpenMessageError, kUnsupportedVersionNumber},
      {1, kOpenMessageError, kUnacceptableHoldTime},
      {2, kOpenMessageError, kBadBgpIdentifier},
      {3, kOpenMessageError, kUnsupportedOptionalParameter},
  }));
  Bytes wire = *EncodeMessage(open, {});
  if (mutate == 0) wire[19] = 3;                                   // version
  if (mutate == 1) wire[23] = 2;                                   // hold time 2
  if (mutate == 2) wire[24] = wire[25] = wire[26] = wire[27] = 0;  // identifier 0
  if (mutate == 3) {  // an optional parameter of type 1
    wire.insert(wire.end(), {1, 1, 0});
    wire[28] = 3;
    wire[17] = static_cast<uint8_t>(wire.size());
  }
  absl::StatusOr<DecodedMessage> got = DecodeMessage(wire, {});
  REQUIRE_FALSE(got.ok());
  REQUIRE(ErrorOf(got.status()));
  CHECK(ErrorOf(got.status())->code == code);
  CHECK(ErrorOf(got.status())->subcode == subcode);
}

TEST_CASE("header errors follow RFC 4271 section 6.1", "[bgp][wire]") {
  Bytes keepalive = *EncodeMessage(KeepaliveMessage{}, {});
  REQUIRE(keepalive.size() == 19);
  SECTION("marker") {
    keepalive[3] = 0;
    CHECK(ErrorOf(FrameLength(keepalive).status())->subcode == kConnectionNotSynchronized);
  }
  SECTION("length over 4096") {
    keepalive[16] = 0x20;
    CHECK(ErrorOf(FrameLength(keepalive).status())->subcode == kBadMessageLength);
  }
  SECTION("keepalive with a body") {
    keepalive.push_back(0);
    keepalive[17] = 20;
    CHECK(ErrorOf(DecodeMessage(keepalive, {}).status())->subcode == kBadMessageLength);
  }
  SECTION("unknown type") {
    keepalive[18] = 9;
    const auto n = ErrorOf(DecodeMessage(keepalive, {}).status());
    CHECK(n->subcode == kBadMessageType);
    CHECK(n->data == Bytes{9});
  }
  SECTION("incomplete header waits") { CHECK(*FrameLength(std::span(keepalive).first(10)) == 0); }
}

TEST_CASE("update with IPv4 and IPv6 and every attribute round-trips", "[bgp][wire]") {
  UpdateMessage u;
  u.withdrawn = {P("203.0.113.0/24"), P("2001:db8:ffff::/48")};
  u.announced = {P("198.51.100.0/24"), P("2001:db8:1::/48")};
  PathAttributes& a = u.attributes;
  a.origin = Origin::kIgp;
  a.as_path = std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {64512, 64512, 4200000000u}},
                                         {AsPathSegment::kAsSet, {65001, 65002}}};
  a.next_hop = A("192.0.2.1");
  a.ipv6_next_hop = A("2001:db8::1");
  a.ipv6_link_local = A("fe80::1");
  a.med = 50;
  a.communities = {Community(64512, 100), kGracefulShutdownCommunity};
  a.large_communities = {{4200000000u, 1, 2}};
  a.other = {{kFlagOptional | kFlagTransitive | kFlagPartial, 99, {1, 2, 3}}};

  absl::StatusOr<std::vector<Bytes>> parts = EncodeUpdate(u, {});
  REQUIRE(parts.ok());
  REQUIRE(parts->size() == 4);  // IPv4 withdrawal, IPv6 withdrawal, IPv4 and IPv6 announcements
  std::vector<Prefix> withdrawn, announced;
  for (const Bytes& m : *parts) {
    absl::StatusOr<DecodedMessage> d = DecodeMessage(m, {});
    REQUIRE(d.ok());
    CHECK(d->action == UpdateAction::kOk);
    const auto& got = std::get<UpdateMessage>(d->message);
    withdrawn.insert(withdrawn.end(), got.withdrawn.begin(), got.withdrawn.end());
    announced.insert(announced.end(), got.announced.begin(), got.announced.end());
    if (!got.announced.empty() && got.announced[0].afi == Afi::kIpv6) {
      CHECK(got.attributes == a);
    }
  }
  CHECK(withdrawn == u.withdrawn);
  CHECK(announced == u.announced);
}

TEST_CASE("encoder splits NLRI to stay within 4096 octets", "[bgp][wire]") {
  UpdateMessage u;
  u.attributes.origin = Origin::kIgp;
  u.attributes.as_path = std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {64512}}};
  u.attributes.next_hop = A("192.0.2.1");
  u.attributes.ipv6_next_hop = A("2001:db8::1");
  for (int i = 0; i < 3000; ++i) {
    u.announced.push_back(
        P(("10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24").c_str()));
  }
  for (int i = 0; i < 1000; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "2001:db8:%x::/48", i);
    u.announced.push_back(P(buf));
  }
  u.withdrawn = u.announced;
  absl::StatusOr<std::vector<Bytes>> parts = EncodeUpdate(u, {});
  REQUIRE(parts.ok());
  CHECK(parts->size() > 4);
  size_t announced = 0, withdrawn = 0;
  for (const Bytes& m : *parts) {
    CHECK(m.size() <= kMaxMessageSize);
    absl::StatusOr<DecodedMessage> d = DecodeMessage(m, {});
    REQUIRE(d.ok());
    announced += std::get<UpdateMessage>(d->message).announced.size();
    withdrawn += std::get<UpdateMessage>(d->message).withdrawn.size();
  }
  CHECK(announced == 4000);
  CHECK(withdrawn == 4000);
}

TEST_CASE("end-of-rib markers round-trip for both families", "[bgp][wire]") {
  const AfiSafi family = GENERATE(kIpv4Unicast, kIpv6Unicast);
  UpdateMessage eor;
  eor.end_of_rib = family;
  Bytes wire = *EncodeMessage(eor, {});
  CHECK(wire.size() == (family == kIpv4Unicast ? 23u : 29u));
  absl::StatusOr<DecodedMessage> d = DecodeMessage(wire, {});
  REQUIRE(d.ok());
  CHECK(std::get<UpdateMessage>(d->message) == eor);
}

TEST_CASE("RFC 7606 treat-as-withdraw cases withdraw the NLRI", "[bgp][wire]") {
  const Bytes attrs = GENERATE(
      // ORIGIN value 3 (section 7.1)
      Bytes{0x40, 1, 1, 3, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1},
      // AS_PATH segment of count 0 (section 7.2)
      Bytes{0x40, 1, 1, 0, 0x40, 2, 2, 2, 0, 0x40, 3, 4, 192, 0, 2, 1},
      // COMMUNITIES of 3 octets (section 7.8)
      Concat(BaseAttrs(), {0xc0, 8, 3, 1, 2, 3}),
      // LARGE_COMMUNITY of 8 octets (RFC 8092 section 5)
      Concat(BaseAttrs(), {0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2}),
      // MED of 2 octets (section 7.4)
      Concat(BaseAttrs(), {0x80, 4, 2, 0, 1}),
      // ORIGIN flagged optional (section 3.c)
      Bytes{0xc0, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4, 192, 0, 2, 1},
      // AS_PATH missing (section 3.d)
      Bytes{0x40, 1, 1, 0, 0x40, 3, 4, 192, 0, 2, 1},
      // an attribute overrunning the attribute field (section 4)
      Concat(BaseAttrs(), {0xc0, 99, 20, 1}));
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(UpdateBody(attrs, kNlri), {});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kTreatAsWithdraw);
  CHECK(d->update.announced.empty());
  CHECK(d->update.withdrawn == std::vector<Prefix>{P("198.51.100.0/24")});
  CHECK_FALSE(d->reason.empty());
}

TEST_CASE("RFC 7606 attribute-discard cases keep the route", "[bgp][wire]") {
  const Bytes extra = GENERATE(Bytes{0x40, 5, 4, 0, 0, 0, 100},  // LOCAL_PREF from eBGP (7.5)
                               Bytes{0x40, 6, 1, 0},             // ATOMIC_AGGREGATE len 1 (7.6)
                               Bytes{0xc0, 7, 3, 0, 0, 1});      // AGGREGATOR len 3 (7.7)
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(UpdateBody(Concat(BaseAttrs(), extra), kNlri), {});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kAttributeDiscard);
  CHECK(d->update.announced == std::vector<Prefix>{P("198.51.100.0/24")});
  CHECK_FALSE(d->update.attributes.local_pref);
  CHECK(d->update.attributes.other.empty());
}

TEST_CASE("RFC 7606 session-reset cases carry the notification", "[bgp][wire]") {
  auto [body, subcode] = GENERATE(table<Bytes, uint8_t>({
      // unrecognized well-known attribute (RFC 4271 section 6.3)
      {UpdateBody(Concat(BaseAttrs(), {0x40, 99, 0}), kNlri), kUnrecognizedWellKnownAttribute},
      // MP_UNREACH_NLRI twice (section 3.g)
      {UpdateBody({0x80, 15, 3, 0, 2, 1, 0x80, 15, 3, 0, 2, 1}, {}), kMalformedAttributeList},
      // NLRI prefix length 33 (section 5.3)
      {UpdateBody(BaseAttrs(), {33, 1, 2, 3, 4, 5}), kInvalidNetworkField},
      // MP_REACH_NLRI with a 5-octet IPv6 next hop (section 7.11)
      {UpdateBody({0x80, 14, 10, 0, 2, 1, 5, 1, 2, 3, 4, 5, 0}, {}), kOptionalAttributeError},
      // total attribute length past the message
      {Bytes{0, 0, 0, 40, 0x40, 1, 1, 0}, kMalformedAttributeList},
  }));
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(body, {});
  REQUIRE_FALSE(d.ok());
  REQUIRE(NotificationFromStatus(d.status()));
  CHECK(NotificationFromStatus(d.status())->code == kUpdateMessageError);
  CHECK(NotificationFromStatus(d.status())->subcode == subcode);
}

// 2001:db8:100::/48 in the <length, prefix> encoding of RFC 4271 section 4.3.
const Bytes kNlriV6 = {48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00};
// The value of an MP_UNREACH_NLRI (RFC 4760 section 4) withdrawing it: 10 octets.
const Bytes kUnreachV6 = Concat({0, 2, 1}, kNlriV6);
// The value of an MP_REACH_NLRI (RFC 4760 section 3) announcing it via 2001:db8::1: 28 octets.
const Bytes kReachV6 =
    Concat({0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, kNlriV6);

TEST_CASE("an MP attribute that overruns the attribute field resets the session", "[bgp][wire]") {
  // RFC 7606 section 3(j): treat-as-withdraw needs MP_REACH_NLRI / MP_UNREACH_NLRI parsed whole,
  // else the session resets; RFC 4760 section 7 names the subcode. As treat-as-withdraw, the
  // withdrawal inside a cut MP_UNREACH_NLRI was lost and the route stayed.
  const Bytes attrs = GENERATE(
      // MP_UNREACH_NLRI of 10 octets that says 15
      Concat({0x80, 15, 15}, kUnreachV6),
      // the same after a whole ORIGIN, with an extended length that says 11
      Concat({0x40, 1, 1, 0, 0x90, 15, 0, 11}, kUnreachV6),
      // MP_UNREACH_NLRI whose extended length is cut by the field (section 4, second case)
      Bytes{0x40, 1, 1, 0, 0x90, 15, 0},
      // MP_REACH_NLRI of 28 octets that says 40
      Concat(Concat(BaseAttrs(), {0x80, 14, 40}), kReachV6));
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(UpdateBody(attrs, {}), {});
  REQUIRE_FALSE(d.ok());
  REQUIRE(NotificationFromStatus(d.status()));
  CHECK(NotificationFromStatus(d.status())->code == kUpdateMessageError);
  CHECK(NotificationFromStatus(d.status())->subcode == kOptionalAttributeError);
}

TEST_CASE("a whole MP_UNREACH_NLRI still withdraws when a later attribute overruns",
          "[bgp][wire]") {
  // RFC 7606 section 4: the overrun is treat-as-withdraw; what was parsed whole stands.
  const Bytes attrs = Concat(Concat({0x80, 15, 10}, kUnreachV6), {0xc0, 99, 20, 1});
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(UpdateBody(attrs, kNlri), {});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kTreatAsWithdraw);
  CHECK(d->update.announced.empty());
  std::vector<Prefix> withdrawn = d->update.withdrawn;
  std::sort(withdrawn.begin(), withdrawn.end());
  CHECK(withdrawn == std::vector<Prefix>{P("198.51.100.0/24"), P("2001:db8:100::/48")});
}

TEST_CASE("AS 0 in AS_PATH is treat-as-withdraw", "[bgp][wire][rfc7607]") {
  // RFC 7607 section 2: malformed, handled as RFC 7606 section 7.2 says for AS_PATH.
  const Bytes origin_next_hop = {0x40, 1, 1, 0, 0x40, 3, 4, 192, 0, 2, 1};
  auto [four_octet, as_path] = GENERATE(table<bool, Bytes>({
      // AS_SEQUENCE 64512 0
      {true, {0x40, 2, 10, 2, 2, 0, 0, 0xfc, 0x00, 0, 0, 0, 0}},
      // AS_SEQUENCE 64512, AS_SET {0}
      {true, {0x40, 2, 12, 2, 1, 0, 0, 0xfc, 0x00, 1, 1, 0, 0, 0, 0}},
      // AS_SEQUENCE 0 64512 on a 2-octet session
      {false, {0x40, 2, 6, 2, 2, 0, 0, 0xfc, 0x00}},
  }));
  absl::StatusOr<DecodedUpdate> d =
      DecodeUpdate(UpdateBody(Concat(origin_next_hop, as_path), kNlri), {four_octet, true});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kTreatAsWithdraw);
  CHECK(d->update.announced.empty());
  CHECK(d->update.withdrawn == std::vector<Prefix>{P("198.51.100.0/24")});
  CHECK_THAT(d->reason, Catch::Contains("AS 0"));
}

TEST_CASE("AS 0 in AGGREGATOR, AS4_PATH or AS4_AGGREGATOR is discarded", "[bgp][wire][rfc7607]") {
  // RFC 7607 section 2: malformed; AGGREGATOR as RFC 7606 section 7.7 says, AS4_PATH and
  // AS4_AGGREGATOR as RFC 6793 section 6 says: attribute discard, the route stays.
  // AS_PATH AS_TRANS 65001 (2 octets each), NEXT_HOP 192.0.2.1.
  const Bytes two_octet_base = {0x40, 1,    1,    0,    0x40, 2, 6,   2, 2, 0x5b,
                                0xa0, 0xfd, 0xe9, 0x40, 3,    4, 192, 0, 2, 1};
  auto [four_octet, attrs] = GENERATE_COPY(table<bool, Bytes>({
      // AGGREGATOR AS 0, 192.0.2.1
      {true, Concat(BaseAttrs(), {0xc0, 7, 8, 0, 0, 0, 0, 192, 0, 2, 1})},
      {false, Concat(two_octet_base, {0xc0, 7, 6, 0, 0, 192, 0, 2, 1})},
      // AS4_PATH AS_SEQUENCE 0 65001
      {false, Concat(two_octet_base, {0xc0, 17, 10, 2, 2, 0, 0, 0, 0, 0, 0, 0xfd, 0xe9})},
      // AS4_AGGREGATOR AS 0, 192.0.2.1
      {false, Concat(two_octet_base, {0xc0, 18, 8, 0, 0, 0, 0, 192, 0, 2, 1})},
  }));
  absl::StatusOr<DecodedUpdate> d = DecodeUpdate(UpdateBody(attrs, kNlri), {four_octet, true});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kAttributeDiscard);
  CHECK_THAT(d->reason, Catch::Contains("AS 0"));
  CHECK(d->update.announced == std::vector<Prefix>{P("198.51.100.0/24")});
  CHECK(d->update.attributes.other.empty());
  // The AS_PATH is the one received, not rebuilt from a discarded AS4_PATH.
  const uint32_t first = four_octet ? 64512 : kAsTrans;
  REQUIRE(d->update.attributes.as_path);
  CHECK(d->update.attributes.as_path->front().asns.front() == first);
}

TEST_CASE("unknown optional transitive attribute is kept with the Partial bit", "[bgp][wire]") {
  absl::StatusOr<DecodedUpdate> d =
      DecodeUpdate(UpdateBody(Concat(BaseAttrs(), {0xc0, 99, 2, 7, 7}), kNlri), {});
  REQUIRE(d.ok());
  CHECK(d->action == UpdateAction::kOk);
  REQUIRE(d->update.attributes.other.size() == 1);
  CHECK(d->update.attributes.other[0] ==
        RawAttribute{kFlagOptional | kFlagTransitive | kFlagPartial, 99, {7, 7}});
}

TEST_CASE("2-octet session carries 4-octet ASNs in AS4_PATH", "[bgp][wire]") {
  UpdateMessage u;
  u.announced = {P("198.51.100.0/24")};
  u.attributes.origin = Origin::kIgp;
  u.attributes.as_path =
      std::vector<AsPathSegment>{{AsPathSegment::kAsSequence, {64512, 4200000000u, 65001}}};
  u.attributes.next_hop = A("192.0.2.1");
  const CodecOptions two_octet{false, true};
  Bytes wire = *EncodeMessage(u, two_octet);
  absl::StatusOr<DecodedMessage> d = DecodeMessage(wire, two_octet);
  REQUIRE(d.ok());
  CHECK(std::get<UpdateMessage>(d->message) == u);
  // Read as a 4-octet session would, AS_TRANS shows where the 4-octet ASN was.
  absl::StatusOr<DecodedMessage> raw = DecodeMessage(wire, {false, true});
  REQUIRE(raw.ok());
}

TEST_CASE("notifications and route refresh round-trip and have names", "[bgp][wire]") {
  NotificationMessage n{kCease, kAdministrativeShutdown, {5, 'm', 'a', 'i', 'n', 't'}};
  absl::StatusOr<DecodedMessage> d = DecodeMessage(*EncodeMessage(n, {}), {});
  REQUIRE(d.ok());
  CHECK(std::get<NotificationMessage>(d->message) == n);
  CHECK(Describe(n) == "code=cease subcode=administrative_shutdown message=\"maint\"");
  CHECK(ErrorSubcodeName(kHoldTimerExpired, 0) == "unspecific");
  CHECK(ErrorSubcodeName(kUpdateMessageError, 42) == "subcode_42");

  RouteRefreshMessage rr{kIpv6Unicast, 0};
  d = DecodeMessage(*EncodeMessage(rr, {}), {});
  REQUIRE(d.ok());
  CHECK(std::get<RouteRefreshMessage>(d->message) == rr);
}

}  // namespace
}  // namespace holdfast::bgp
