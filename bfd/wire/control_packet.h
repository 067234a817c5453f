// The BFD Control packet (RFC 5880 section 4.1): its fields as a value, and the codec.
//
// DecodeControlPacket applies the reception checks of RFC 5880 section 6.8.6 that need no
// session (version, lengths, detect multiplier, Multipoint, My Discriminator, Your
// Discriminator zero only in Down or AdminDown) and refuses with INVALID_ARGUMENT saying which;
// the checks that need a session (which discriminator, authentication expected) are the
// session's. The authentication section (section 4.2) is decoded raw: this speaker runs no
// authentication, and its sessions refuse packets that carry one. Pure functions over spans.
#ifndef HOLDFAST_BFD_WIRE_CONTROL_PACKET_H_
#define HOLDFAST_BFD_WIRE_CONTROL_PACKET_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/bytes/byte_writer.h"

namespace holdfast::bfd {

// UDP destination ports: single hop (RFC 5881 section 4), multihop (RFC 5883 section 5).
inline constexpr uint16_t kSingleHopPort = 3784;
inline constexpr uint16_t kMultihopPort = 4784;
// Source ports are taken from 49152..65535 (RFC 5881 section 4).
inline constexpr uint16_t kSourcePortMin = 49152;

// The mandatory section's length; with authentication at most 24 + 28 (SHA1).
inline constexpr uint8_t kMandatoryLength = 24;
inline constexpr uint8_t kVersion = 1;

enum class SessionState : uint8_t { kAdminDown = 0, kDown = 1, kInit = 2, kUp = 3 };
// "admin_down", "down", "init", "up".
const char* SessionStateName(SessionState s);

// RFC 5880 section 4.1, Diagnostic (5 bits).
enum class Diagnostic : uint8_t {
  kNone = 0,
  kControlDetectionTimeExpired = 1,
  kEchoFunctionFailed = 2,
  kNeighborSignaledSessionDown = 3,
  kForwardingPlaneReset = 4,
  kPathDown = 5,
  kConcatenatedPathDown = 6,
  kAdministrativelyDown = 7,
  kReverseConcatenatedPathDown = 8,
};
// "none", "control_detection_time_expired", ...; "unknown" for 9..31.
const char* DiagnosticName(Diagnostic d);

struct Authentication {
  uint8_t type = 0;
  std::vector<uint8_t> data;  // what follows Auth Type and Auth Len
  bool operator==(const Authentication&) const = default;
};

struct ControlPacket {
  Diagnostic diagnostic = Diagnostic::kNone;
  SessionState state = SessionState::kDown;
  bool poll = false;
  bool final = false;
  bool control_plane_independent = false;
  bool demand = false;
  // Not 0 on the wire.
  uint8_t detect_multiplier = 3;
  uint32_t my_discriminator = 0;
  uint32_t your_discriminator = 0;
  // Microseconds.
  uint32_t desired_min_tx_interval = 1'000'000;
  uint32_t required_min_rx_interval = 0;
  uint32_t required_min_echo_rx_interval = 0;
  // Present when the A bit is set.
  std::optional<Authentication> authentication;

  bool operator==(const ControlPacket&) const = default;
};

// One UDP payload. Octets after the packet's Length are ignored (RFC 5880 section 6.8.6 checks
// only that Length does not exceed the payload).
[[nodiscard]] absl::StatusOr<ControlPacket> DecodeControlPacket(std::span<const uint8_t> wire);
// Appends the packet; Multipoint is always 0, Version always 1.
void EncodeControlPacket(const ControlPacket& packet, VectorByteWriter& out);
std::vector<uint8_t> EncodeControlPacket(const ControlPacket& packet);

}  // namespace holdfast::bfd

#endif  // HOLDFAST_BFD_WIRE_CONTROL_PACKET_H_
