// Fuzzes the BGP message decoder (bgp/wire): the input is a byte stream from a peer, cut into
// messages by FrameLength() as the session does, each decoded as a 4-octet-AS eBGP session, a
// 2-octet one and an iBGP one would.
//
// Beyond "no crash, no hang, no leak", it checks what the session relies on:
//  - FrameLength() never claims more than 4096 octets or fewer than 19;
//  - every refusal carries a NOTIFICATION with an RFC 4271 error code (1..7) to send;
//  - treat-as-withdraw leaves nothing announced and no attributes;
//  - an UPDATE with an MP_UNREACH_NLRI (IPv4 or IPv6 unicast) never yields fewer withdrawals
//    than the attribute carries: it decodes with every prefix the attribute holds among the
//    withdrawn, or fails with an UPDATE Message Error (RFC 7606 section 3(j): an MP attribute
//    that cannot be parsed whole resets the session). The attribute is read apart from the
//    decoder, by the layout of RFC 4271 section 4.3 and RFC 4760 section 4;
//  - a decoded message encoded again decodes to the same message (for UPDATEs the encoder may
//    split it; the parts together withdraw and announce the same prefixes with the same
//    attributes), so what the speaker stores is what the wire said;
//  - the same bytes fed to an Established session (as the peer's stream) leave it Established
//    or report it down; its Adj-RIB-In holds only negotiated families with attributes and never
//    more than the session's prefix limit (over it: Cease / Maximum Number of Prefixes Reached
//    and an empty Adj-RIB-In, RFC 4486); and after the connection drops, the peer's restart time
//    empties it (RFC 4724 section 4.2).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <span>
#include <vector>

#include "bgp/session/session.h"
#include "bgp/wire/message.h"
#include "bgp/wire/notification.h"

namespace holdfast::bgp {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "bgp_fuzz: broken invariant: " << what << "\n";
    std::abort();
  }
}

void CheckRefusal(const absl::Status& s) {
  const std::optional<NotificationMessage> n = NotificationFromStatus(s);
  Check(n.has_value(), "refusal without a NOTIFICATION");
  Check(n->code >= 1 && n->code <= 7, "NOTIFICATION code outside RFC 4271");
}

// The attributes an encoded part must carry: those of the whole, without the next hop of the
// family the part does not announce.
PathAttributes ForFamily(PathAttributes a, Afi afi) {
  if (afi == Afi::kIpv4) {
    a.ipv6_next_hop.reset();
    a.ipv6_link_local.reset();
  }
  return a;
}

void CheckUpdateRoundTrip(const UpdateMessage& u, const CodecOptions& options) {
  absl::StatusOr<std::vector<std::vector<uint8_t>>> parts = EncodeUpdate(u, options);
  Check(parts.ok(), "decoded UPDATE does not encode");
  std::vector<Prefix> withdrawn, announced;
  for (const auto& part : *parts) {
    Check(part.size() <= kMaxMessageSize, "encoded UPDATE over 4096 octets");
    absl::StatusOr<DecodedMessage> d = DecodeMessage(part, options);
    Check(d.ok(), "encoded UPDATE does not decode");
    Check(d->action == UpdateAction::kOk, "encoded UPDATE is malformed");
    const auto& got = std::get<UpdateMessage>(d->message);
    Check(got.end_of_rib == u.end_of_rib, "End-of-RIB changed");
    withdrawn.insert(withdrawn.end(), got.withdrawn.begin(), got.withdrawn.end());
    announced.insert(announced.end(), got.announced.begin(), got.announced.end());
    if (!got.announced.empty()) {
      Check(ForFamily(got.attributes, got.announced[0].afi) ==
                ForFamily(u.attributes, got.announced[0].afi),
            "attributes changed");
    }
  }
  std::vector<Prefix> want_w = u.withdrawn, want_a = u.announced;
  for (auto* v : {&withdrawn, &announced, &want_w, &want_a}) std::sort(v->begin(), v->end());
  Check(withdrawn == want_w, "withdrawn prefixes changed");
  Check(announced == want_a, "announced prefixes changed");
}

// What the MP_UNREACH_NLRI attributes of one UPDATE say, read without the decoder.
struct MpUnreach {
  int count = 0;                 // MP_UNREACH_NLRI attributes met, one that overruns included
  bool complete = true;          // each lies within the field and its prefixes parse
  std::vector<Prefix> prefixes;  // of IPv4 or IPv6 unicast; other families are ignored
};

uint16_t Be16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

// RFC 4760 section 4: AFI, SAFI, then prefixes as in RFC 4271 section 4.3.
void ReadMpUnreach(std::span<const uint8_t> value, MpUnreach& out) {
  if (value.size() < 3) {
    out.complete = false;
    return;
  }
  const uint16_t afi = Be16(value, 0);
  if (value[2] != 1 || (afi != 1 && afi != 2)) return;
  const int max_len = afi == 1 ? 32 : 128;
  size_t at = 3;
  while (at < value.size()) {
    Prefix p;
    p.afi = afi == 1 ? Afi::kIpv4 : Afi::kIpv6;
    p.length = value[at++];
    const size_t n = (p.length + 7u) / 8;
    if (p.length > max_len || value.size() - at < n) {
      out.complete = false;
      return;
    }
    std::copy(value.begin() + at, value.begin() + at + n, p.bytes.begin());
    if (p.length % 8 != 0) p.bytes[n - 1] &= static_cast<uint8_t>(0xff << (8 - p.length % 8));
    out.prefixes.push_back(p);
    at += n;
  }
}

// Walks the Path Attributes field of the UPDATE `wire` (a whole message) as RFC 4271 section
// 4.3 lays it out; nullopt when the fields around it do not fit (the decoder's own checks).
std::optional<MpUnreach> FindMpUnreach(std::span<const uint8_t> wire) {
  if (wire.size() < kHeaderSize + 4 || wire[18] != kTypeUpdate) return std::nullopt;
  std::span<const uint8_t> body = wire.subspan(kHeaderSize);
  const size_t withdrawn_len = Be16(body, 0);
  if (body.size() < 4 + withdrawn_len) return std::nullopt;
  const size_t attrs_len = Be16(body, 2 + withdrawn_len);
  if (body.size() - 4 - withdrawn_len < attrs_len) return std::nullopt;
  std::span<const uint8_t> attrs = body.subspan(4 + withdrawn_len, attrs_len);
  MpUnreach out;
  size_t at = 0;
  // Each pass consumes at least the 2 octets of flags and type, so this ends.
  while (attrs.size() - at >= 2) {
    const uint8_t flags = attrs[at];
    const uint8_t type = attrs[at + 1];
    at += 2;
    const size_t len_size = (flags & kFlagExtendedLength) != 0 ? 2 : 1;
    bool overruns = attrs.size() - at < len_size;
    size_t len = 0;
    if (!overruns) {
      len = len_size == 2 ? Be16(attrs, at) : attrs[at];
      at += len_size;
      overruns = attrs.size() - at < len;
    }
    if (type == kAttrMpUnreachNlri) {
      ++out.count;
      if (overruns) {
        out.complete = false;
      } else {
        ReadMpUnreach(attrs.subspan(at, len), out);
      }
    }
    if (overruns) break;
    at += len;
  }
  return out;
}

// RFC 7606 sections 3(g) and 3(j): the withdrawals an MP_UNREACH_NLRI carries are never lost.
void CheckMpUnreach(std::span<const uint8_t> wire, const absl::StatusOr<DecodedMessage>& d) {
  const std::optional<MpUnreach> mp = FindMpUnreach(wire);
  if (!mp || mp->count == 0) return;
  if (!d.ok()) {
    const std::optional<NotificationMessage> n = NotificationFromStatus(d.status());
    Check(n && n->code == kUpdateMessageError,
          "MP_UNREACH_NLRI refused without an UPDATE Message Error");
    return;
  }
  Check(mp->count == 1, "MP_UNREACH_NLRI twice, yet no session reset");
  Check(mp->complete, "MP_UNREACH_NLRI cut short or unparsable, yet no session reset");
  std::vector<Prefix> got = std::get<UpdateMessage>(d->message).withdrawn;
  std::vector<Prefix> carried = mp->prefixes;
  std::sort(got.begin(), got.end());
  std::sort(carried.begin(), carried.end());
  Check(std::includes(got.begin(), got.end(), carried.begin(), carried.end()),
        "fewer withdrawals than the MP_UNREACH_NLRI carries");
}

void FuzzMessage(std::span<const uint8_t> wire, const CodecOptions& options, bool round_trip) {
  absl::StatusOr<DecodedMessage> d = DecodeMessage(wire, options);
  CheckMpUnreach(wire, d);
  if (!d.ok()) {
    CheckRefusal(d.status());
    return;
  }
  if (auto* u = std::get_if<UpdateMessage>(&d->message)) {
    if (d->action == UpdateAction::kTreatAsWithdraw) {
      Check(u->announced.empty() && u->attributes == PathAttributes{},
            "treat-as-withdraw left routes");
    }
    if (round_trip) CheckUpdateRoundTrip(*u, options);
    return;
  }
  if (!round_trip) return;
  absl::StatusOr<std::vector<uint8_t>> again = EncodeMessage(d->message, options);
  if (!again.ok()) {
    // An OPEN whose capabilities grew past 255 octets when written one per parameter.
    Check(std::holds_alternative<OpenMessage>(d->message), "decoded message does not encode");
    return;
  }
  absl::StatusOr<DecodedMessage> d2 = DecodeMessage(*again, options);
  Check(d2.ok(), "re-encoded message does not decode");
  Check(d2->message == d->message, "re-encoded message decodes differently");
}

// A session that has reached Established with a peer announcing IPv4 and IPv6 unicast and
// graceful restart (120 s), then reads `stream` as more of the peer's bytes.
void FuzzSession(std::span<const uint8_t> stream) {
  SessionConfig c;
  c.local_asn = 64512;
  c.router_id = 1;
  c.peer_asn = 65001;
  c.max_prefixes = 16;
  Session s(c);
  TimePoint now{};
  s.Start(now);
  s.OnConnected(now, true);
  OpenMessage open;
  open.my_as = 65001;
  open.hold_time = 90;
  open.bgp_id = 2;
  open.capabilities.multiprotocol = {kIpv4Unicast, kIpv6Unicast};
  open.capabilities.four_octet_as = 65001;
  open.capabilities.graceful_restart =
      GracefulRestartCapability{false, 120, {{kIpv4Unicast, true}, {kIpv6Unicast, true}}};
  s.OnBytes(now, *EncodeMessage(open, {}));
  s.OnBytes(now, *EncodeMessage(KeepaliveMessage{}, {}));
  Check(s.state() == State::kEstablished, "session: setup did not establish");
  Announcement a;
  a.prefix = *Prefix::Parse("198.51.100.0/24");
  a.next_hop = *net::IpAddress::Parse("192.0.2.1");
  s.SetAnnouncements(now, {a});

  const std::vector<Action> actions = s.OnBytes(now, stream);
  bool down = false;
  for (const Action& act : actions) down = down || act.kind == Action::Kind::kDown;
  Check(s.state() == State::kEstablished || down, "session: left Established silently");
  for (const auto& [prefix, route] : s.adj_rib_in()) {
    Check(route.attributes != nullptr, "session: route without attributes");
    Check(prefix.length <= prefix.max_length(), "session: prefix longer than its family");
  }
  Check(s.stats().prefixes_received == s.adj_rib_in().size(), "session: count differs");
  Check(s.adj_rib_in().size() <= c.max_prefixes, "session: Adj-RIB-In over the prefix limit");
  const std::optional<NotificationMessage>& sent = s.stats().last_notification_sent;
  if (sent && sent->code == kCease && sent->subcode == kMaxPrefixesReached) {
    Check(down && s.adj_rib_in().empty() && s.state() == State::kIdle,
          "session: over the prefix limit but not ended");
    Check(sent->data.size() == 7, "session: max-prefix NOTIFICATION data not RFC 4486");
  }
  if (s.state() == State::kEstablished) {
    s.OnConnectionLost(now, "fuzz");
    Check(s.stats().prefixes_stale == s.adj_rib_in().size(), "session: routes not kept stale");
  }
  s.OnTimer(now + std::chrono::seconds(121));
  Check(s.adj_rib_in().empty(), "session: stale routes outlived the restart time");
}

}  // namespace
}  // namespace holdfast::bgp

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace holdfast::bgp;
  std::span<const uint8_t> stream(data, size);
  // A stream, as the session reads it: at most 64 messages per input keeps each run short.
  for (int i = 0; i < 64 && !stream.empty(); ++i) {
    absl::StatusOr<size_t> len = FrameLength(stream);
    if (!len.ok()) {
      CheckRefusal(len.status());
      break;
    }
    if (*len == 0 || *len > stream.size()) break;
    Check(*len >= kHeaderSize && *len <= kMaxMessageSize, "frame length out of range");
    std::span<const uint8_t> message = stream.first(*len);
    FuzzMessage(message, {true, true}, true);
    FuzzMessage(message, {true, false}, true);
    // AS4_PATH reconstruction is lossy by design (RFC 6793 section 4.2.3); decode only.
    FuzzMessage(message, {false, true}, false);
    stream = stream.subspan(*len);
  }
  FuzzSession(std::span<const uint8_t>(data, size));
  return 0;
}
