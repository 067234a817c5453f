#include "bgp/wire/message.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "common/bytes/byte_reader.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::bgp {

namespace {

absl::Status HeaderError(uint8_t subcode, absl::string_view why, std::vector<uint8_t> data = {}) {
  return NotificationError({kMessageHeaderError, subcode, std::move(data)}, why);
}

// RFC 4271 section 6.1: the data of Bad Message Length is the erroneous length field.
absl::Status BadLength(size_t length, absl::string_view why) {
  return HeaderError(kBadMessageLength, why,
                     {static_cast<uint8_t>(length >> 8), static_cast<uint8_t>(length)});
}

using BodyDecoder = absl::StatusOr<DecodedMessage> (*)(std::span<const uint8_t> body,
                                                       const CodecOptions& options);

absl::StatusOr<DecodedMessage> DecodeOpenBody(std::span<const uint8_t> body, const CodecOptions&) {
  // RFC 4271 section 4.2: at least 29 octets with the header.
  if (body.size() < 10) return BadLength(body.size() + kHeaderSize, "OPEN shorter than 29");
  absl::StatusOr<OpenMessage> open = DecodeOpen(body);
  if (!open.ok()) return open.status();
  return DecodedMessage{*std::move(open), UpdateAction::kOk, {}};
}

absl::StatusOr<DecodedMessage> DecodeUpdateBody(std::span<const uint8_t> body,
                                                const CodecOptions& options) {
  // RFC 4271 section 4.3: at least 23 octets with the header.
  if (body.size() < 4) return BadLength(body.size() + kHeaderSize, "UPDATE shorter than 23");
  absl::StatusOr<DecodedUpdate> u = DecodeUpdate(body, options);
  if (!u.ok()) return u.status();
  return DecodedMessage{std::move(u->update), u->action, std::move(u->reason)};
}

absl::StatusOr<DecodedMessage> DecodeNotificationBody(std::span<const uint8_t> body,
                                                      const CodecOptions&) {
  // RFC 4271 section 4.5: at least 21 octets with the header.
  if (body.size() < 2) {
    return BadLength(body.size() + kHeaderSize, "NOTIFICATION shorter than 21");
  }
  NotificationMessage n;
  n.code = body[0];
  n.subcode = body[1];
  n.data.assign(body.begin() + 2, body.end());
  return DecodedMessage{std::move(n), UpdateAction::kOk, {}};
}

absl::StatusOr<DecodedMessage> DecodeKeepaliveBody(std::span<const uint8_t> body,
                                                   const CodecOptions&) {
  // RFC 4271 section 4.4: exactly the header.
  if (!body.empty()) return BadLength(body.size() + kHeaderSize, "KEEPALIVE longer than 19");
  return DecodedMessage{KeepaliveMessage{}, UpdateAction::kOk, {}};
}

absl::StatusOr<DecodedMessage> DecodeRouteRefreshBody(std::span<const uint8_t> body,
                                                      const CodecOptions&) {
  // RFC 2918 section 3: exactly 4 octets after the header. RFC 7313 section 5 names a
  // ROUTE-REFRESH error code for a bad length; a speaker without enhanced route refresh sends
  // the RFC 4271 header error, which every peer understands.
  if (body.size() != 4) return BadLength(body.size() + kHeaderSize, "ROUTE-REFRESH not 23");
  ByteReader r(body);
  RouteRefreshMessage m;
  m.afi_safi.afi = r.U16();
  m.subtype = r.U8();
  m.afi_safi.safi = r.U8();
  return DecodedMessage{m, UpdateAction::kOk, {}};
}

// Indexed by message type (RFC 4271 section 4.1, RFC 2918 section 3).
constexpr std::array<BodyDecoder, 6> kDecoders = {nullptr,
                                                  DecodeOpenBody,
                                                  DecodeUpdateBody,
                                                  DecodeNotificationBody,
                                                  DecodeKeepaliveBody,
                                                  DecodeRouteRefreshBody};

}  // namespace

absl::StatusOr<size_t> FrameLength(std::span<const uint8_t> stream) {
  if (stream.size() < kHeaderSize) return 0;
  // RFC 4271 section 6.1: the marker must be all ones.
  if (!std::all_of(stream.begin(), stream.begin() + 16, [](uint8_t b) { return b == 0xff; })) {
    return HeaderError(kConnectionNotSynchronized, "marker is not all ones");
  }
  const size_t length = (size_t{stream[16]} << 8) | stream[17];
  if (length < kHeaderSize || length > kMaxMessageSize) {
    return BadLength(length, absl::StrCat("message length ", length));
  }
  return length;
}

absl::StatusOr<DecodedMessage> DecodeMessage(std::span<const uint8_t> message,
                                             const CodecOptions& options) {
  absl::StatusOr<size_t> length = FrameLength(message);
  if (!length.ok()) return length.status();
  if (*length == 0 || *length != message.size()) {
    return BadLength(message.size(), "message length does not match its header");
  }
  const uint8_t type = message[18];
  // RFC 4271 section 6.1: the data of Bad Message Type is the type.
  if (type == 0 || type >= kDecoders.size()) {
    return HeaderError(kBadMessageType, absl::StrCat("message type ", type), {type});
  }
  return kDecoders[type](message.subspan(kHeaderSize), options);
}

std::vector<uint8_t> Frame(MessageType type, std::span<const uint8_t> body) {
  std::vector<uint8_t> out;
  out.reserve(kHeaderSize + body.size());
  out.assign(16, 0xff);
  VectorByteWriter w(out);
  w.U16(static_cast<uint16_t>(kHeaderSize + body.size()));
  w.U8(type);
  w.Bytes(body);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EncodeMessage(const Message& message,
                                                   const CodecOptions& options) {
  std::vector<uint8_t> body;
  VectorByteWriter w(body);
  switch (message.index()) {
    case 0: {
      absl::Status s = EncodeOpen(std::get<OpenMessage>(message), body);
      if (!s.ok()) return s;
      return Frame(kTypeOpen, body);
    }
    case 1: {
      absl::StatusOr<std::vector<std::vector<uint8_t>>> parts =
          EncodeUpdate(std::get<UpdateMessage>(message), options);
      if (!parts.ok()) return parts.status();
      std::vector<uint8_t> out;
      for (const auto& p : *parts) out.insert(out.end(), p.begin(), p.end());
      return out;
    }
    case 2: {
      const NotificationMessage& n = std::get<NotificationMessage>(message);
      if (n.data.size() > kMaxMessageSize - kHeaderSize - 2) {
        return absl::InvalidArgumentError("NOTIFICATION data too long");
      }
      // Sized first: g++ 12 at -O2 otherwise warns (-Warray-bounds, a false positive) about the
      // insert into the 2-octet vector.
      body.reserve(2 + n.data.size());
      w.U8(n.code);
      w.U8(n.subcode);
      w.Bytes(n.data);
      return Frame(kTypeNotification, body);
    }
    case 3:
      return Frame(kTypeKeepalive, body);
    default: {
      const RouteRefreshMessage& m = std::get<RouteRefreshMessage>(message);
      w.U16(m.afi_safi.afi);
      w.U8(m.subtype);
      w.U8(m.afi_safi.safi);
      return Frame(kTypeRouteRefresh, body);
    }
  }
}

std::string MessageName(const Message& message) {
  static constexpr std::array<const char*, 5> kNames = {"open", "update", "notification",
                                                        "keepalive", "route_refresh"};
  return kNames[message.index()];
}

}  // namespace holdfast::bgp
