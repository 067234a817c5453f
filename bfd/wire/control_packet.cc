#include "bfd/wire/control_packet.h"

#include <string>

#include "absl/status/status.h"
#include "common/bytes/byte_reader.h"

namespace holdfast::bfd {
namespace {

constexpr uint8_t kPoll = 0x20;
constexpr uint8_t kFinal = 0x10;
constexpr uint8_t kControlPlaneIndependent = 0x08;
constexpr uint8_t kAuthenticationPresent = 0x04;
constexpr uint8_t kDemand = 0x02;
constexpr uint8_t kMultipoint = 0x01;

absl::Status Refuse(const std::string& why) {
  return absl::InvalidArgumentError("BFD control packet: " + why);
}

}  // namespace

const char* SessionStateName(SessionState s) {
  switch (s) {
    case SessionState::kAdminDown:
      return "admin_down";
    case SessionState::kDown:
      return "down";
    case SessionState::kInit:
      return "init";
    case SessionState::kUp:
      return "up";
  }
  return "unknown";
}

const char* DiagnosticName(Diagnostic d) {
  switch (d) {
    case Diagnostic::kNone:
      return "none";
    case Diagnostic::kControlDetectionTimeExpired:
      return "control_detection_time_expired";
    case Diagnostic::kEchoFunctionFailed:
      return "echo_function_failed";
    case Diagnostic::kNeighborSignaledSessionDown:
      return "neighbor_signaled_session_down";
    case Diagnostic::kForwardingPlaneReset:
      return "forwarding_plane_reset";
    case Diagnostic::kPathDown:
      return "path_down";
    case Diagnostic::kConcatenatedPathDown:
      return "concatenated_path_down";
    case Diagnostic::kAdministrativelyDown:
      return "administratively_down";
    case Diagnostic::kReverseConcatenatedPathDown:
      return "reverse_concatenated_path_down";
  }
  return "unknown";
}

absl::StatusOr<ControlPacket> DecodeControlPacket(std::span<const uint8_t> wire) {
  ByteReader in(wire);
  const uint8_t version_diagnostic = in.U8();
  const uint8_t state_flags = in.U8();
  const uint8_t detect_multiplier = in.U8();
  const uint8_t length = in.U8();
  ControlPacket p;
  p.my_discriminator = in.U32();
  p.your_discriminator = in.U32();
  p.desired_min_tx_interval = in.U32();
  p.required_min_rx_interval = in.U32();
  p.required_min_echo_rx_interval = in.U32();
  if (!in.ok()) {
    return Refuse("shorter than its 24-octet mandatory section (" + std::to_string(wire.size()) +
                  " octets)");
  }
  // RFC 5880 section 6.8.6, in its order.
  if (const int version = version_diagnostic >> 5; version != kVersion) {
    return Refuse("version " + std::to_string(version) + ", not 1");
  }
  const bool authenticated = (state_flags & kAuthenticationPresent) != 0;
  const size_t minimum = authenticated ? kMandatoryLength + 2 : kMandatoryLength;
  if (length < minimum) {
    return Refuse("Length " + std::to_string(length) + " below " + std::to_string(minimum));
  }
  if (length > wire.size()) {
    return Refuse("Length " + std::to_string(length) + " beyond the " +
                  std::to_string(wire.size()) + "-octet payload");
  }
  if (detect_multiplier == 0) return Refuse("Detect Mult 0");
  if ((state_flags & kMultipoint) != 0) return Refuse("Multipoint set");
  if (p.my_discriminator == 0) return Refuse("My Discriminator 0");
  p.diagnostic = static_cast<Diagnostic>(version_diagnostic & 0x1f);
  p.state = static_cast<SessionState>(state_flags >> 6);
  if (p.your_discriminator == 0 && p.state != SessionState::kDown &&
      p.state != SessionState::kAdminDown) {
    return Refuse(std::string("Your Discriminator 0 in state ") + SessionStateName(p.state));
  }
  // Section 4.1: "Poll and Final MUST NOT both be set" is not among 6.8.6's checks, but such a
  // packet cannot be answered sensibly; BIRD drops it too.
  if ((state_flags & kPoll) != 0 && (state_flags & kFinal) != 0) {
    return Refuse("Poll and Final both set");
  }
  p.poll = (state_flags & kPoll) != 0;
  p.final = (state_flags & kFinal) != 0;
  p.control_plane_independent = (state_flags & kControlPlaneIndependent) != 0;
  p.demand = (state_flags & kDemand) != 0;
  p.detect_multiplier = detect_multiplier;
  if (authenticated) {
    // Section 4.2: Auth Type, Auth Len (counting both), then the type's data, all within Length.
    ByteReader auth(wire.subspan(kMandatoryLength, length - kMandatoryLength));
    Authentication a;
    a.type = auth.U8();
    const uint8_t auth_length = auth.U8();
    if (auth_length < 2 || auth_length != length - kMandatoryLength) {
      return Refuse("Auth Len " + std::to_string(auth_length) + " does not fill Length " +
                    std::to_string(length));
    }
    std::span<const uint8_t> data = auth.Bytes(auth_length - 2);
    a.data.assign(data.begin(), data.end());
    p.authentication = std::move(a);
  }
  return p;
}

void EncodeControlPacket(const ControlPacket& p, VectorByteWriter& out) {
  const size_t auth_length = p.authentication ? 2 + p.authentication->data.size() : 0;
  out.U8(static_cast<uint8_t>((kVersion << 5) | (static_cast<uint8_t>(p.diagnostic) & 0x1f)));
  uint8_t flags = static_cast<uint8_t>(static_cast<uint8_t>(p.state) << 6);
  if (p.poll) flags |= kPoll;
  if (p.final) flags |= kFinal;
  if (p.control_plane_independent) flags |= kControlPlaneIndependent;
  if (p.authentication) flags |= kAuthenticationPresent;
  if (p.demand) flags |= kDemand;
  out.U8(flags);
  out.U8(p.detect_multiplier);
  out.U8(static_cast<uint8_t>(kMandatoryLength + auth_length));
  out.U32(p.my_discriminator);
  out.U32(p.your_discriminator);
  out.U32(p.desired_min_tx_interval);
  out.U32(p.required_min_rx_interval);
  out.U32(p.required_min_echo_rx_interval);
  if (p.authentication) {
    out.U8(p.authentication->type);
    out.U8(static_cast<uint8_t>(auth_length));
    out.Bytes(p.authentication->data);
  }
}

std::vector<uint8_t> EncodeControlPacket(const ControlPacket& packet) {
  std::vector<uint8_t> bytes;
  VectorByteWriter out(bytes);
  EncodeControlPacket(packet, out);
  return bytes;
}

}  // namespace holdfast::bfd
