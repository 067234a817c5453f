// OPEN messages (RFC 4271 section 4.2) and the capabilities this speaker knows (RFC 5492):
// multiprotocol (RFC 4760), route refresh (RFC 2918), graceful restart (RFC 4724) and 4-octet
// AS numbers (RFC 6793). Other capabilities are kept as raw bytes and ignored (RFC 5492
// section 3: a speaker ignores capabilities it does not understand).
#ifndef HOLDFAST_BGP_WIRE_OPEN_H_
#define HOLDFAST_BGP_WIRE_OPEN_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bgp/wire/prefix.h"

namespace holdfast::bgp {

// RFC 6793 section 9: the 2-octet stand-in for a 4-octet ASN.
inline constexpr uint16_t kAsTrans = 23456;

enum CapabilityCode : uint8_t {
  kCapMultiprotocol = 1,
  kCapRouteRefresh = 2,
  kCapGracefulRestart = 64,
  kCapFourOctetAs = 65,
};

struct GracefulRestartCapability {
  // RFC 4724 section 3: the R bit says the sender has restarted.
  bool restarting = false;
  // Seconds the peer should keep our routes after the session drops (12 bits, 0..4095).
  uint16_t restart_time = 0;
  struct Family {
    AfiSafi afi_safi;
    // F bit: forwarding state was preserved across the restart.
    bool forwarding_preserved = false;
    friend bool operator==(const Family&, const Family&) = default;
  };
  std::vector<Family> families;

  friend bool operator==(const GracefulRestartCapability&,
                         const GracefulRestartCapability&) = default;
};

struct RawCapability {
  uint8_t code = 0;
  std::vector<uint8_t> value;
  friend bool operator==(const RawCapability&, const RawCapability&) = default;
};

struct Capabilities {
  std::vector<AfiSafi> multiprotocol;
  bool route_refresh = false;
  std::optional<uint32_t> four_octet_as;
  std::optional<GracefulRestartCapability> graceful_restart;
  std::vector<RawCapability> unknown;

  bool Supports(AfiSafi f) const;
  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

struct OpenMessage {
  uint8_t version = 4;
  // The 2-octet "My Autonomous System" field; AS_TRANS when the real ASN needs 4 octets.
  uint16_t my_as = 0;
  uint16_t hold_time = 0;
  uint32_t bgp_id = 0;
  Capabilities capabilities;

  // The sender's ASN: the 4-octet capability when present (RFC 6793 section 4.1), else my_as.
  uint32_t asn() const { return capabilities.four_octet_as.value_or(my_as); }
  friend bool operator==(const OpenMessage&, const OpenMessage&) = default;
};

// Decodes an OPEN body (after the 19-byte header). Errors carry the NOTIFICATION to send
// (NotificationFromStatus): unsupported version, unacceptable hold time, zero BGP identifier,
// unsupported optional parameter, malformed capability. Peer ASN and identifier against the
// configuration are checked by the session, which knows them.
[[nodiscard]] absl::StatusOr<OpenMessage> DecodeOpen(std::span<const uint8_t> body);
// Appends the OPEN body; fails when the capabilities do not fit the one-octet length.
[[nodiscard]] absl::Status EncodeOpen(const OpenMessage& open, std::vector<uint8_t>& body);

}  // namespace holdfast::bgp

#endif  // HOLDFAST_BGP_WIRE_OPEN_H_
