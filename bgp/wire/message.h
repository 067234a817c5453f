// BGP message framing (RFC 4271 section 4.1) and the decoded message as one value.
//
// A stream is cut into messages with FrameLength(); each message is decoded by DecodeMessage(),
// which checks the header and dispatches on the type. Every error that must end the session is
// a status carrying the NOTIFICATION to send (NotificationFromStatus in notification.h).
// Pure functions, no allocation beyond the decoded values; safe from any thread.
#ifndef HOLDFAST_BGP_WIRE_MESSAGE_H_
#define HOLDFAST_BGP_WIRE_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "bgp/wire/notification.h"
#include "bgp/wire/open.h"
#include "bgp/wire/update.h"

namespace holdfast::bgp {

inline constexpr size_t kHeaderSize = 19;
inline constexpr size_t kMaxMessageSize = 4096;

enum MessageType : uint8_t {
  kTypeOpen = 1,
  kTypeUpdate = 2,
  kTypeNotification = 3,
  kTypeKeepalive = 4,
  kTypeRouteRefresh = 5,
};

struct KeepaliveMessage {
  friend bool operator==(const KeepaliveMessage&, const KeepaliveMessage&) = default;
};

// RFC 2918 section 3: AFI, reserved (the subtype of RFC 7313), SAFI.
struct RouteRefreshMessage {
  AfiSafi afi_safi;
  uint8_t subtype = 0;
  friend bool operator==(const RouteRefreshMessage&, const RouteRefreshMessage&) = default;
};

using Message = std::variant<OpenMessage, UpdateMessage, NotificationMessage, KeepaliveMessage,
                             RouteRefreshMessage>;

struct DecodedMessage {
  Message message;
  // For UPDATEs, what RFC 7606 handling was applied, and why.
  UpdateAction action = UpdateAction::kOk;
  std::string reason;
};

// The length of the first message in `stream`: 0 while its header is incomplete, else the
// length its header gives (the caller waits until that many bytes are there). Errors (a marker
// that is not all ones, a length outside 19..4096) carry the NOTIFICATION to send.
[[nodiscard]] absl::StatusOr<size_t> FrameLength(std::span<const uint8_t> stream);

// Decodes one whole message, header included.
[[nodiscard]] absl::StatusOr<DecodedMessage> DecodeMessage(std::span<const uint8_t> message,
                                                           const CodecOptions& options);

// Encodes one message, header included. An UPDATE may become several messages (see
// EncodeUpdate); they are concatenated.
[[nodiscard]] absl::StatusOr<std::vector<uint8_t>> EncodeMessage(const Message& message,
                                                                 const CodecOptions& options);

// The message of `type` with `body`: marker, length, type, body. The body must fit in 4077.
std::vector<uint8_t> Frame(MessageType type, std::span<const uint8_t> body);

// "open", "update", ...; for logs.
std::string MessageName(const Message& message);

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_WIRE_MESSAGE_H_
