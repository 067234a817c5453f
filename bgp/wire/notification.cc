#include "bgp/wire/notification.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"

namespace holdfast::bgp {

std::string ErrorCodeName(uint8_t code) {
  switch (code) {
    case kMessageHeaderError:
      return "message_header_error";
    case kOpenMessageError:
      return "open_message_error";
    case kUpdateMessageError:
      return "update_message_error";
    case kHoldTimerExpired:
      return "hold_timer_expired";
    case kFsmError:
      return "fsm_error";
    case kCease:
      return "cease";
    case kRouteRefreshMessageError:
      return "route_refresh_message_error";
    default:
      return absl::StrCat("code_", code);
  }
}

namespace {

const char* SubcodeName(uint8_t code, uint8_t subcode) {
  switch (code) {
    case kMessageHeaderError:
      switch (subcode) {
        case kConnectionNotSynchronized:
          return "connection_not_synchronized";
        case kBadMessageLength:
          return "bad_message_length";
        case kBadMessageType:
          return "bad_message_type";
      }
      break;
    case kOpenMessageError:
      switch (subcode) {
        case kUnsupportedVersionNumber:
          return "unsupported_version_number";
        case kBadPeerAs:
          return "bad_peer_as";
        case kBadBgpIdentifier:
          return "bad_bgp_identifier";
        case kUnsupportedOptionalParameter:
          return "unsupported_optional_parameter";
        case kUnacceptableHoldTime:
          return "unacceptable_hold_time";
        case kUnsupportedCapability:
          return "unsupported_capability";
      }
      break;
    case kUpdateMessageError:
      switch (subcode) {
        case kMalformedAttributeList:
          return "malformed_attribute_list";
        case kUnrecognizedWellKnownAttribute:
          return "unrecognized_well_known_attribute";
        case kMissingWellKnownAttribute:
          return "missing_well_known_attribute";
        case kAttributeFlagsError:
          return "attribute_flags_error";
        case kAttributeLengthError:
          return "attribute_length_error";
        case kInvalidOriginAttribute:
          return "invalid_origin_attribute";
        case kInvalidNextHopAttribute:
          return "invalid_next_hop_attribute";
        case kOptionalAttributeError:
          return "optional_attribute_error";
        case kInvalidNetworkField:
          return "invalid_network_field";
        case kMalformedAsPath:
          return "malformed_as_path";
      }
      break;
    case kFsmError:
      switch (subcode) {
        case kUnexpectedInOpenSent:
          return "unexpected_message_in_open_sent";
        case kUnexpectedInOpenConfirm:
          return "unexpected_message_in_open_confirm";
        case kUnexpectedInEstablished:
          return "unexpected_message_in_established";
      }
      break;
    case kCease:
      switch (subcode) {
        case kMaxPrefixesReached:
          return "maximum_number_of_prefixes_reached";
        case kAdministrativeShutdown:
          return "administrative_shutdown";
        case kPeerDeconfigured:
          return "peer_deconfigured";
        case kAdministrativeReset:
          return "administrative_reset";
        case kConnectionRejected:
          return "connection_rejected";
        case kOtherConfigurationChange:
          return "other_configuration_change";
        case kConnectionCollisionResolution:
          return "connection_collision_resolution";
        case kOutOfResources:
          return "out_of_resources";
      }
      break;
    default:
      break;
  }
  return nullptr;
}

}  // namespace

std::string ErrorSubcodeName(uint8_t code, uint8_t subcode) {
  if (subcode == 0) return "unspecific";
  const char* name = SubcodeName(code, subcode);
  return name != nullptr ? std::string(name) : absl::StrCat("subcode_", subcode);
}

std::string Describe(const NotificationMessage& n) {
  std::string out = absl::StrCat("code=", ErrorCodeName(n.code),
                                 " subcode=", ErrorSubcodeName(n.code, n.subcode));
  // RFC 9003 section 2: Cease/Administrative Shutdown or Reset may carry a length-prefixed UTF-8
  // message for the operator. Printable ASCII only goes into the log line.
  if (n.code == kCease &&
      (n.subcode == kAdministrativeShutdown || n.subcode == kAdministrativeReset) &&
      !n.data.empty() && n.data[0] + 1u <= n.data.size()) {
    std::string text;
    for (size_t i = 1; i <= n.data[0]; ++i) {
      const char c = static_cast<char>(n.data[i]);
      text.push_back(c >= 0x20 && c < 0x7f && c != '"' ? c : '?');
    }
    absl::StrAppend(&out, " message=\"", text, "\"");
  }
  return out;
}

absl::Status NotificationError(NotificationMessage n, absl::string_view why) {
  absl::Status s = absl::InvalidArgumentError(absl::StrCat(
      why, " (", ErrorCodeName(n.code), "/", ErrorSubcodeName(n.code, n.subcode), ")"));
  std::string payload;
  payload.push_back(static_cast<char>(n.code));
  payload.push_back(static_cast<char>(n.subcode));
  payload.append(n.data.begin(), n.data.end());
  s.SetPayload(kNotificationPayloadUrl, absl::Cord(payload));
  return s;
}

std::optional<NotificationMessage> NotificationFromStatus(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kNotificationPayloadUrl);
  if (!payload) return std::nullopt;
  const std::string bytes(*payload);
  if (bytes.size() < 2) return std::nullopt;
  NotificationMessage n;
  n.code = static_cast<uint8_t>(bytes[0]);
  n.subcode = static_cast<uint8_t>(bytes[1]);
  n.data.assign(bytes.begin() + 2, bytes.end());
  return n;
}

}  // namespace holdfast::bgp
