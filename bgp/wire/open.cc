#include "bgp/wire/open.h"

#include <algorithm>

#include "bgp/wire/notification.h"
#include "common/bytes/byte_reader.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::bgp {

bool Capabilities::Supports(AfiSafi f) const {
  return std::find(multiprotocol.begin(), multiprotocol.end(), f) != multiprotocol.end();
}

namespace {

absl::Status OpenError(uint8_t subcode, absl::string_view why, std::vector<uint8_t> data = {}) {
  return NotificationError({kOpenMessageError, subcode, std::move(data)}, why);
}

// One capability TLV's value (RFC 5492 section 4). A capability whose fixed size is wrong is a
// malformed OPEN; RFC 5492 names no subcode for it, so 2/0 (unspecific) is sent, as BIRD does.
absl::Status DecodeCapability(uint8_t code, std::span<const uint8_t> value, Capabilities& caps) {
  ByteReader r(value);
  switch (code) {
    case kCapMultiprotocol: {
      // RFC 4760 section 8: AFI (2), reserved (1), SAFI (1).
      if (value.size() != 4) return OpenError(0, "multiprotocol capability length is not 4");
      AfiSafi f;
      f.afi = r.U16();
      r.U8();
      f.safi = r.U8();
      if (!caps.Supports(f)) caps.multiprotocol.push_back(f);
      return absl::OkStatus();
    }
    case kCapRouteRefresh:
      // RFC 2918 section 2: length 0.
      if (!value.empty()) return OpenError(0, "route refresh capability length is not 0");
      caps.route_refresh = true;
      return absl::OkStatus();
    case kCapFourOctetAs:
      // RFC 6793 section 3: the 4-octet ASN.
      if (value.size() != 4) return OpenError(0, "4-octet AS capability length is not 4");
      caps.four_octet_as = r.U32();
      return absl::OkStatus();
    case kCapGracefulRestart: {
      // RFC 4724 section 3: flags (4 bits) and restart time (12 bits), then 4 octets per family.
      if (value.size() < 2 || (value.size() - 2) % 4 != 0) {
        return OpenError(0, "graceful restart capability length is not 2 + 4n");
      }
      GracefulRestartCapability gr;
      const uint16_t head = r.U16();
      gr.restarting = (head & 0x8000) != 0;
      gr.restart_time = head & 0x0fff;
      while (r.remaining() >= 4) {
        GracefulRestartCapability::Family f;
        f.afi_safi.afi = r.U16();
        f.afi_safi.safi = r.U8();
        f.forwarding_preserved = (r.U8() & 0x80) != 0;
        gr.families.push_back(f);
      }
      caps.graceful_restart = std::move(gr);
      return absl::OkStatus();
    }
    default:
      caps.unknown.push_back({code, std::vector<uint8_t>(value.begin(), value.end())});
      return absl::OkStatus();
  }
}

}  // namespace

absl::StatusOr<OpenMessage> DecodeOpen(std::span<const uint8_t> body) {
  ByteReader r(body);
  OpenMessage open;
  open.version = r.U8();
  open.my_as = r.U16();
  open.hold_time = r.U16();
  open.bgp_id = r.U32();
  const uint8_t params_len = r.U8();
  if (!r.ok()) {
    return NotificationError({kMessageHeaderError, kBadMessageLength, {}}, "OPEN too short");
  }
  // RFC 4271 section 6.2: the data is the largest version we support, two octets.
  if (open.version != 4)
    return OpenError(kUnsupportedVersionNumber, "BGP version is not 4", {0, 4});
  // Section 6.2: a hold time of 1 or 2 seconds is unacceptable.
  if (open.hold_time == 1 || open.hold_time == 2) {
    return OpenError(kUnacceptableHoldTime, "hold time 1 or 2");
  }
  // Section 6.2: the identifier must be a valid unicast host address; zero never is.
  if (open.bgp_id == 0) return OpenError(kBadBgpIdentifier, "BGP identifier is 0");
  if (params_len != r.remaining()) {
    return OpenError(0, "optional parameters length does not match the message");
  }
  while (!r.empty()) {
    // At most 255 octets of parameters, 2 each at least: the input bounds the loop.
    const uint8_t type = r.U8();
    const uint8_t len = r.U8();
    std::span<const uint8_t> value = r.Bytes(len);
    if (!r.ok()) return OpenError(0, "optional parameter overruns the message");
    // RFC 5492 section 4: parameter type 2 holds capabilities; others are unsupported.
    if (type != 2) {
      return OpenError(kUnsupportedOptionalParameter, "optional parameter is not capabilities");
    }
    ByteReader caps(value);
    while (!caps.empty()) {
      const uint8_t code = caps.U8();
      const uint8_t cap_len = caps.U8();
      std::span<const uint8_t> cap_value = caps.Bytes(cap_len);
      if (!caps.ok()) return OpenError(0, "capability overruns its parameter");
      absl::Status s = DecodeCapability(code, cap_value, open.capabilities);
      if (!s.ok()) return s;
    }
  }
  return open;
}

absl::Status EncodeOpen(const OpenMessage& open, std::vector<uint8_t>& body) {
  VectorByteWriter w(body);
  w.U8(open.version);
  w.U16(open.my_as);
  w.U16(open.hold_time);
  w.U32(open.bgp_id);
  const size_t params_len_at = w.size();
  w.U8(0);
  const size_t params_start = w.size();
  // One optional parameter per capability: what most speakers send and every one accepts.
  auto cap = [&](uint8_t code, const std::vector<uint8_t>& value) {
    w.U8(2);
    w.U8(static_cast<uint8_t>(value.size() + 2));
    w.U8(code);
    w.U8(static_cast<uint8_t>(value.size()));
    w.Bytes(value);
  };
  const Capabilities& c = open.capabilities;
  for (const AfiSafi& f : c.multiprotocol) {
    cap(kCapMultiprotocol,
        {static_cast<uint8_t>(f.afi >> 8), static_cast<uint8_t>(f.afi), 0, f.safi});
  }
  if (c.route_refresh) cap(kCapRouteRefresh, {});
  if (c.graceful_restart) {
    const GracefulRestartCapability& gr = *c.graceful_restart;
    if (gr.restart_time > 0x0fff || gr.families.size() > 60) {
      return absl::InvalidArgumentError("graceful restart capability does not fit");
    }
    std::vector<uint8_t> v;
    VectorByteWriter gw(v);
    gw.U16(static_cast<uint16_t>((gr.restarting ? 0x8000 : 0) | gr.restart_time));
    for (const auto& f : gr.families) {
      gw.U16(f.afi_safi.afi);
      gw.U8(f.afi_safi.safi);
      gw.U8(f.forwarding_preserved ? 0x80 : 0);
    }
    cap(kCapGracefulRestart, v);
  }
  if (c.four_octet_as) {
    const uint32_t a = *c.four_octet_as;
    cap(kCapFourOctetAs, {static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                          static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)});
  }
  for (const RawCapability& u : c.unknown) {
    if (u.value.size() > 253) return absl::InvalidArgumentError("capability longer than 253");
    cap(u.code, u.value);
  }
  const size_t params_len = w.size() - params_start;
  if (params_len > 255) return absl::InvalidArgumentError("OPEN optional parameters over 255");
  w.PatchU8(params_len_at, static_cast<uint8_t>(params_len));
  return absl::OkStatus();
}

}  // namespace holdfast::bgp
