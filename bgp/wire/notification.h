// NOTIFICATION messages (RFC 4271 section 4.5) and their error codes, with names for logs.
//
// A session-fatal decoding error travels as an absl::Status whose payload
// (kNotificationPayloadUrl) holds the NOTIFICATION to send: code, subcode, data.
#ifndef HOLDFAST_BGP_WIRE_NOTIFICATION_H_
#define HOLDFAST_BGP_WIRE_NOTIFICATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace holdfast::bgp {

// Error codes (RFC 4271 section 4.5) and subcodes (sections 6.1-6.7, RFC 4486 for Cease,
// RFC 6608 for the FSM error subcodes, RFC 7313 for ROUTE-REFRESH).
enum ErrorCode : uint8_t {
  kMessageHeaderError = 1,
  kOpenMessageError = 2,
  kUpdateMessageError = 3,
  kHoldTimerExpired = 4,
  kFsmError = 5,
  kCease = 6,
  kRouteRefreshMessageError = 7,
};

enum HeaderSubcode : uint8_t {
  kConnectionNotSynchronized = 1,
  kBadMessageLength = 2,
  kBadMessageType = 3,
};

enum OpenSubcode : uint8_t {
  kUnsupportedVersionNumber = 1,
  kBadPeerAs = 2,
  kBadBgpIdentifier = 3,
  kUnsupportedOptionalParameter = 4,
  kUnacceptableHoldTime = 6,
  kUnsupportedCapability = 7,
};

enum UpdateSubcode : uint8_t {
  kMalformedAttributeList = 1,
  kUnrecognizedWellKnownAttribute = 2,
  kMissingWellKnownAttribute = 3,
  kAttributeFlagsError = 4,
  kAttributeLengthError = 5,
  kInvalidOriginAttribute = 6,
  kInvalidNextHopAttribute = 8,
  kOptionalAttributeError = 9,
  kInvalidNetworkField = 10,
  kMalformedAsPath = 11,
};

enum FsmSubcode : uint8_t {
  kUnexpectedInOpenSent = 1,
  kUnexpectedInOpenConfirm = 2,
  kUnexpectedInEstablished = 3,
};

enum CeaseSubcode : uint8_t {
  kMaxPrefixesReached = 1,
  kAdministrativeShutdown = 2,
  kPeerDeconfigured = 3,
  kAdministrativeReset = 4,
  kConnectionRejected = 5,
  kOtherConfigurationChange = 6,
  kConnectionCollisionResolution = 7,
  kOutOfResources = 8,
};

struct NotificationMessage {
  uint8_t code = 0;
  uint8_t subcode = 0;
  std::vector<uint8_t> data;

  friend bool operator==(const NotificationMessage&, const NotificationMessage&) = default;
};

// "hold_timer_expired", "update_message_error"; "code_N" for codes without a name.
std::string ErrorCodeName(uint8_t code);
// "malformed_as_path", "administrative_shutdown"; "unspecific" for 0, "subcode_N" otherwise.
std::string ErrorSubcodeName(uint8_t code, uint8_t subcode);
// "code=cease subcode=administrative_shutdown" plus a shutdown communication (RFC 9003) when the
// data carries one; for log lines.
std::string Describe(const NotificationMessage& n);

inline constexpr absl::string_view kNotificationPayloadUrl = "holdfast.bgp/notification";

// A status (kInvalidArgument) that carries `n` as its payload; `why` is for logs.
absl::Status NotificationError(NotificationMessage n, absl::string_view why);
// The NOTIFICATION a status carries, if any.
std::optional<NotificationMessage> NotificationFromStatus(const absl::Status& status);

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_WIRE_NOTIFICATION_H_
